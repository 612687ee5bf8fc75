"""The cooperation API of issue 5 under /api/v1/ (agreements, agreement-parties,
escalation-steps, agreement-documents, goals, networks, network-members,
meetings, meeting-tasks, need-reports, planning-processes,
planning-participants, swot-entries, planning-decisions, conflict-cases):
every endpoint and action per persona, the workflow actions, filters, exports,
pinned query counts and the OpenAPI schema.

The world (fixture ``w``): org_a (provider_editor_a), org_b (provider_editor_b)
and org_c (editor_c) —
    agreement A (private): org_a lead, org_c partner; steps 1, 2; goal; document
    agreement B (private): org_b lead; step; goal; document
    agreement "öffentlich" (public): org_c lead
    network A (private): coordinator org_a, member org_c; meeting with a task for org_c
    network B (private): member org_b; meeting with a task for org_b
    network "öffentlich" (public): member org_c; a conflict under it
    case conference (private): coordinator org_a
    need reports of org_a and org_b; planning processes with org_a resp. org_b
    taking part (SWOT entry, decision each); conflicts under agreements A and B.
"""

import csv
import datetime
import io
import json
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from cooperation import models as m
from cooperation.documents import add_document
from tests.conftest import client_for
from tests.factories import (
    AgreementFactory,
    AgreementPartyFactory,
    ConflictCaseFactory,
    EscalationStepFactory,
    FieldOfActionFactory,
    GoalFactory,
    IndicatorFactory,
    IndicatorValueFactory,
    MeetingFactory,
    MeetingTaskFactory,
    MembershipFactory,
    NeedReportFactory,
    NetworkFactory,
    NetworkMemberFactory,
    OrganizationFactory,
    PlanningParticipantFactory,
    PlanningProcessFactory,
    UserFactory,
    issue_token,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
UUID_ROUTES = {"agreements", "agreement-documents", "networks", "meetings", "need-reports", "planning-processes",
               "conflict-cases"}
#: route → (object of org_a's world: A sees it, B does not; object of org_b's world)
ROUTES = {
    "agreements": ("ag_a", "ag_b"),
    "agreement-parties": ("party_a", "party_b"),
    "escalation-steps": ("step_a", "step_b"),
    "agreement-documents": ("doc_a", "doc_b"),
    "goals": ("goal_a", "goal_b"),
    "networks": ("net_a", "net_b"),
    "network-members": ("mem_a", "mem_b"),
    "meetings": ("meeting_a", "meeting_b"),
    "meeting-tasks": ("task_a", "task_b"),
    "need-reports": ("need_a", "need_b"),
    "planning-processes": ("proc_a", "proc_b"),
    "planning-participants": ("part_a", "part_b"),
    "swot-entries": ("swot_a", "swot_b"),
    "planning-decisions": ("dec_a", "dec_b"),
    "conflict-cases": ("conf_a", "conf_b"),
}
#: detail actions: (method, suffix, body)
ACTIONS = {
    "agreements": [("post", "transition/", {"to": "negotiation"}), ("get", "history/", None)],
    "agreement-parties": [("post", "confirm/", None)],
    "agreement-documents": [("get", "download/", None)],
    "meeting-tasks": [("post", "done/", {})],
    "need-reports": [("post", "triage/", {"to": "in_review"})],
    "planning-processes": [("post", "phase/", {"to": "analysis"}), ("post", "close/", {"reopen": True})],
    "conflict-cases": [("post", "escalate/", None), ("post", "close/", {"status": "resolved", "outcome": "Einigung"})],
}
POST_ACTIONS = [(route, method, suffix, body) for route, actions in ACTIONS.items()
                for method, suffix, body in actions if method == "post"]
ALL_ACTIONS = [(route, method, suffix, body) for route, actions in ACTIONS.items() for method, suffix, body in actions]
STAFF = ["planner", "viewer", "region_lead", "superuser"]
READ_ONLY_STAFF = ["viewer", "region_lead"]
WRITABLE = [r for r in ROUTES if r != "agreement-documents"]  # documents: upload and delete only


def pdf(name="vertrag.pdf", content=PDF):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


@pytest.fixture
def editor_c(db):
    return UserFactory(username="provider_c")


@pytest.fixture
def users(personas, superuser, editor_c):
    return {**personas, "superuser": superuser, "editor_c": editor_c}


@pytest.fixture
def clients(users):
    return {name: client_for(user) for name, user in users.items()}


@pytest.fixture
def w(tree, org_a, org_b, editor_c):
    org_c = OrganizationFactory(name="Träger C gGmbH")
    MembershipFactory(user=editor_c, organization=org_c, role="editor")
    kjh = FieldOfActionFactory(key="t-kjh", name="Kinder- und Jugendhilfe")
    hze = FieldOfActionFactory(key="t-hze", name="Hilfen zur Erziehung")
    ind = IndicatorFactory(key="t-quote", name="Quote", rollup="none")
    IndicatorValueFactory(indicator=ind, region=tree["P11"], period="2022", value=10)
    IndicatorValueFactory(indicator=ind, region=tree["P11"], period="2024", value=15)

    ag_a = AgreementFactory(title="Vereinbarung A", regions=[tree["P11"]], fields=[kjh],
                            valid_from=datetime.date(2026, 1, 1))
    party_a = AgreementPartyFactory(agreement=ag_a, organization=org_a, role="lead")
    party_ac = AgreementPartyFactory(agreement=ag_a, organization=org_c, role="partner")
    ag_b = AgreementFactory(title="Vereinbarung B", regions=[tree["P21"]])
    party_b = AgreementPartyFactory(agreement=ag_b, organization=org_b, role="lead")
    ag_pub = AgreementFactory(title="Vereinbarung öffentlich", public=True)
    party_pub = AgreementPartyFactory(agreement=ag_pub, organization=org_c, role="lead")
    step_a = EscalationStepFactory(agreement=ag_a, order=1, handled_by="Sozialraumteam", days=14)
    step_a2 = EscalationStepFactory(agreement=ag_a, order=2, handled_by="Fachdienstleitung", days=30)
    step_b = EscalationStepFactory(agreement=ag_b, order=1)
    goal_a = GoalFactory(agreement=ag_a, indicator=ind, region=tree["P11"], target_value=20, title="Quote A")
    goal_b = GoalFactory(agreement=ag_b, indicator=ind, region=tree["P21"], target_value=5, title="Quote B")
    doc_a = add_document(ag_a, pdf("vertrag-a.pdf"), title="Vertrag A", kind="contract", user=None)
    doc_b = add_document(ag_b, pdf("vertrag-b.pdf", PDF + b"b"), title="Vertrag B", kind="contract", user=None)

    net_a = NetworkFactory(name="Netz A", coordinator=org_a, regions=[tree["P11"]], fields=[kjh])
    mem_a = NetworkMemberFactory(network=net_a, organization=org_c)
    net_b = NetworkFactory(name="Netz B")
    mem_b = NetworkMemberFactory(network=net_b, organization=org_b)
    net_pub = NetworkFactory(name="Netz öffentlich", public=True)
    mem_pub = NetworkMemberFactory(network=net_pub, organization=org_c)
    net_cc = NetworkFactory(name="Fallkonferenz Nord", kind="case_conference", coordinator=org_a)
    net_step = EscalationStepFactory(agreement=None, network=net_a, order=1, handled_by="Koordination")
    meeting_a = MeetingFactory(network=net_a, attendees=[org_a, org_c])
    meeting_b = MeetingFactory(network=net_b, attendees=[org_b])
    task_a = MeetingTaskFactory(meeting=meeting_a, responsible=org_c, title="Aufgabe A")
    task_b = MeetingTaskFactory(meeting=meeting_b, responsible=org_b, title="Aufgabe B")

    need_a = NeedReportFactory(reporter=org_a, region=tree["P11"], field=kjh, title="Bedarf A")
    need_b = NeedReportFactory(reporter=org_b, region=tree["P21"], field=kjh, title="Bedarf B")

    proc_a = PlanningProcessFactory(title="Planung A", regions=[tree["P11"]], fields=[kjh])
    part_a = PlanningParticipantFactory(process=proc_a, organization=org_a)
    proc_b = PlanningProcessFactory(title="Planung B", regions=[tree["P21"]], fields=[kjh])
    part_b = PlanningParticipantFactory(process=proc_b, organization=org_b)
    swot_a = m.SwotEntry.objects.create(process=proc_a, organization=org_a, quadrant="strength", text="Vernetzung")
    swot_b = m.SwotEntry.objects.create(process=proc_b, organization=org_b, quadrant="weakness", text="Personal")
    dec_a = m.PlanningDecision.objects.create(process=proc_a, decided_on=datetime.date(2026, 3, 1), text="Streetwork",
                                              agreement=ag_a, responsible=org_a)
    dec_b = m.PlanningDecision.objects.create(process=proc_b, decided_on=datetime.date(2026, 3, 1), text="Beratung")

    conf_a = ConflictCaseFactory(agreement=ag_a, raised_by=org_a, subject="Konflikt A", step=step_a,
                                 step_started=datetime.date(2026, 11, 1), step_due=datetime.date(2026, 11, 15))
    conf_b = ConflictCaseFactory(agreement=ag_b, raised_by=org_b, subject="Konflikt B")
    conf_pub = ConflictCaseFactory(agreement=None, network=net_pub, raised_by=org_c, subject="Konflikt öffentlich")
    yield SimpleNamespace(**{k: v for k, v in locals().items() if k not in ("editor_c",)})
    # the rolled-back test leaves the uploaded files behind: remove them
    for name in m.AgreementDocument.objects.values_list("file", flat=True):
        doc_a.file.storage.delete(name)


def key(route, obj):
    return str(obj.uuid) if route in UUID_ROUTES else obj.pk


def row_key(route):
    return "uuid" if route in UUID_ROUTES else "id"


def url(route, obj=None, suffix=""):
    return f"{API}/{route}/" + (f"{key(route, obj)}/" if obj is not None else "") + suffix


def rows(response):
    body = response.json()
    return body["results"] if isinstance(body, dict) and "results" in body else body


def keys(route, response):
    assert response.status_code == 200, response.content
    return {r[row_key(route)] for r in rows(response)}


def read_csv(response):
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv"), response.content
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


def assert_refused(response):
    assert response.status_code in (401, 403), (response.status_code, response.content)
    assert set(response.json()) == {"detail"}


MODELS = [m.Agreement, m.AgreementParty, m.EscalationStep, m.AgreementDocument, m.Goal, m.Network, m.NetworkMember,
          m.Meeting, m.MeetingTask, m.NeedReport, m.PlanningProcess, m.PlanningParticipant, m.SwotEntry,
          m.PlanningDecision, m.ConflictCase]


def snapshot():
    """Every row of the models of issue 5 (a refused request changes none)."""
    return [list(model.objects.order_by("pk").values()) for model in MODELS] + [
        sorted(m.Meeting.attendees.through.objects.values_list("meeting_id", "organization_id")),
        sorted(m.PlanningProcess.need_reports.through.objects.values_list("planningprocess_id", "needreport_id")),
    ]


def create_payload(route, w):
    return {
        "agreements": {"title": "Neue Vereinbarung", "kind": "service", "valid_from": "2026-02-01",
                       "regions": ["P11"], "fields": ["t-kjh"], "public": False},
        "agreement-parties": {"agreement": str(w.ag_pub.uuid), "organization": str(w.org_a.uuid),
                              "role": "partner", "budget_share": "10", "work_modes": ["case_specific"]},
        "escalation-steps": {"agreement": str(w.ag_b.uuid), "order": 2, "handled_by": "Lenkungsgruppe", "days": 30},
        "goals": {"agreement": str(w.ag_a.uuid), "title": "Neues Ziel", "indicator": "t-quote", "region": "P11",
                  "target_value": "12", "target_date": "2027-12-31"},
        "networks": {"name": "Neues Netz", "kind": "network", "regions": ["P11"], "coordinator": str(w.org_b.uuid)},
        "network-members": {"network": str(w.net_a.uuid), "organization": str(w.org_b.uuid), "role": "member"},
        "meetings": {"network": str(w.net_a.uuid), "starts_at": "2026-12-01T10:00:00+01:00", "place": "Rathaus",
                     "attendees": [str(w.org_a.uuid)]},
        "meeting-tasks": {"meeting": str(w.meeting_a.uuid), "title": "Protokoll verschicken",
                          "responsible": str(w.org_a.uuid), "due": "2026-12-15"},
        "need-reports": {"reporter": str(w.org_a.uuid), "region": "P11", "field": "t-kjh", "title": "Neuer Bedarf",
                         "description": "Wartelisten in der Schulsozialarbeit."},
        "planning-processes": {"title": "Neue Planung", "regions": ["P11"], "fields": ["t-kjh"],
                               "mandate_goals": "Angebote abstimmen."},
        "planning-participants": {"process": str(w.proc_a.uuid), "organization": str(w.org_b.uuid),
                                  "role": "participant", "joins_in": "analysis"},
        "swot-entries": {"process": str(w.proc_a.uuid), "organization": str(w.org_a.uuid), "quadrant": "threat",
                         "text": "Fachkräftemangel"},
        "planning-decisions": {"process": str(w.proc_a.uuid), "decided_on": "2026-11-01", "kind": "measure",
                               "text": "Eine Stelle Streetwork"},
        "conflict-cases": {"agreement": str(w.ag_a.uuid), "organization": str(w.org_a.uuid),
                           "subject": "Hausbesuche", "description": "Zuständigkeit strittig."},
    }[route]


PATCHES = {
    "agreements": {"title": "Umbenannt"},
    "agreement-parties": {"contact": "kooperation@example.org"},
    "escalation-steps": {"days": 21},
    "goals": {"title": "Umbenannt"},
    "networks": {"description": "Neu beschrieben"},
    "network-members": {"responsibilities": "Protokoll"},
    "meetings": {"place": "Schule"},
    "meeting-tasks": {"title": "Umbenannt"},
    "need-reports": {"title": "Umbenannt"},
    "planning-processes": {"title": "Umbenannt"},
    "planning-participants": {"role": "expert"},
    "swot-entries": {"text": "Neu"},
    "planning-decisions": {"text": "Neu"},
    "conflict-cases": {"subject": "Umbenannt"},
}


# --- anonymous ------------------------------------------------------------------------------------


class TestAnonymous:
    @pytest.mark.parametrize("route", list(ROUTES))
    def test_reads_refused(self, w, api, route):
        own, _other = ROUTES[route]
        for path in (url(route), url(route, getattr(w, own)), url(route) + "?format=csv", url(route) + "?format=xlsx"):
            response = api.get(path)
            assert_refused(response)
            assert response["Content-Type"].startswith("application/json")  # an explanation, never a table

    @pytest.mark.parametrize("route", list(ROUTES))
    def test_writes_refused(self, w, api, route):
        own, _other = ROUTES[route]
        before = snapshot()
        body = create_payload(route, w) if route in WRITABLE else {"title": "X"}
        assert_refused(api.post(url(route), body, format="json"))
        for method in ("patch", "put", "delete"):
            assert_refused(getattr(api, method)(url(route, getattr(w, own)), body, format="json"))
        assert snapshot() == before

    @pytest.mark.parametrize("route, method, suffix, body", ALL_ACTIONS)
    def test_actions_refused(self, w, api, route, method, suffix, body):
        before = snapshot()
        own, _other = ROUTES[route]
        assert_refused(getattr(api, method)(url(route, getattr(w, own), suffix), body, format="json"))
        assert snapshot() == before


# --- reading ------------------------------------------------------------------------------------------


class TestReading:
    @pytest.mark.parametrize("route", list(ROUTES))
    @pytest.mark.parametrize("persona", STAFF)
    def test_staff_read_everything(self, w, clients, route, persona):
        own, other = (getattr(w, name) for name in ROUTES[route])
        listed = keys(route, clients[persona].get(url(route), {"page_size": 1000}))
        assert {key(route, own), key(route, other)} <= listed
        for obj in (own, other):
            assert clients[persona].get(url(route, obj)).status_code == 200

    @pytest.mark.parametrize("route", list(ROUTES))
    def test_providers_see_their_own_world_only(self, w, clients, route):
        own, other = (getattr(w, name) for name in ROUTES[route])
        for persona, mine, theirs in (("provider_editor_a", own, other), ("provider_editor_b", other, own)):
            api = clients[persona]
            listed = keys(route, api.get(url(route), {"page_size": 1000}))
            assert key(route, mine) in listed and key(route, theirs) not in listed
            assert api.get(url(route, mine)).status_code == 200
            assert api.get(url(route, theirs)).status_code == 404
            exported = {r[row_key(route)] for r in read_csv(api.get(url(route), {"format": "csv"}))}
            assert str(key(route, mine)) in exported and str(key(route, theirs)) not in exported

    @pytest.mark.parametrize("route, name", [
        ("agreements", "ag_pub"), ("agreement-parties", "party_pub"), ("networks", "net_pub"),
        ("network-members", "mem_pub"),
    ])
    def test_public_agreements_and_networks_are_visible_to_outsiders(self, w, clients, route, name):
        obj = getattr(w, name)
        api = clients["provider_editor_b"]
        assert key(route, obj) in keys(route, api.get(url(route), {"page_size": 1000}))
        assert api.get(url(route, obj)).status_code == 200

    def test_conflicts_are_not_public(self, w, clients):
        """A public network's conflict cases stay with its members."""
        assert clients["provider_editor_b"].get(url("conflict-cases", w.conf_pub)).status_code == 404
        assert clients["editor_c"].get(url("conflict-cases", w.conf_pub)).status_code == 200

    def test_agreement_output(self, w, clients):
        body = clients["provider_editor_a"].get(url("agreements", w.ag_a)).json()
        assert body["title"] == "Vereinbarung A" and body["status"] == "draft"
        assert body["regions"] == ["P11"] and body["fields"] == ["t-kjh"] and body["services"] == []
        assert "id" not in body

    def test_party_output(self, w, clients):
        body = clients["viewer"].get(url("agreement-parties", w.party_a)).json()
        assert body["agreement"] == str(w.ag_a.uuid) and body["organization"] == str(w.org_a.uuid)
        assert body["organization_name"] == "Träger A e. V." and body["role"] == "lead"
        assert body["confirmed_at"] is None and body["confirmed_by"] is None

    def test_goal_with_attainment(self, w, clients):
        body = clients["provider_editor_a"].get(url("goals", w.goal_a)).json()
        assert body["indicator"] == "t-quote" and body["region"] == "P11" and body["agreement"] == str(w.ag_a.uuid)
        att = body["attainment"]
        assert att["baseline_period"] == "2022" and att["current_period"] == "2024"
        assert float(att["baseline"]) == 10 and float(att["current"]) == 15 and float(att["target"]) == 20
        assert att["progress"] == "50.0" and att["status"] == "on_track" and att["status_label"] == "auf dem Weg"
        listed = {r["id"]: r for r in rows(clients["planner"].get(url("goals")))}
        assert listed[w.goal_a.pk]["attainment"] == att
        assert listed[w.goal_b.pk]["attainment"]["status"] == "no_data"

    def test_meeting_and_task_output(self, w, clients):
        meeting = clients["provider_editor_a"].get(url("meetings", w.meeting_a)).json()
        assert meeting["network"] == str(w.net_a.uuid)
        assert sorted(meeting["attendees"]) == sorted([str(w.org_a.uuid), str(w.org_c.uuid)])
        assert meeting["cases_discussed"] is None and meeting["case_fields"] == []
        task = clients["provider_editor_a"].get(url("meeting-tasks", w.task_a)).json()
        assert task["meeting"] == str(w.meeting_a.uuid) and task["network"] == str(w.net_a.uuid)
        assert task["responsible"] == str(w.org_c.uuid) and task["responsible_name"] == "Träger C gGmbH"
        assert task["done_at"] is None

    def test_conflict_output(self, w, clients):
        body = clients["provider_editor_a"].get(url("conflict-cases", w.conf_a)).json()
        assert body["agreement"] == str(w.ag_a.uuid) and body["network"] is None
        assert body["raised_by"] == str(w.org_a.uuid) and body["raised_by_name"] == "Träger A e. V."
        assert body["step"] == {"id": w.step_a.pk, "order": 1, "handled_by": "Sozialraumteam", "days": 14}
        assert body["step_due"] == "2026-11-15" and body["status"] == "open"
        assert "organization" not in body  # write-only

    def test_document_metadata(self, w, clients):
        body = clients["provider_editor_a"].get(url("agreement-documents", w.doc_a)).json()
        assert body["agreement"] == str(w.ag_a.uuid) and body["title"] == "Vertrag A"
        assert body["original_name"] == "vertrag-a.pdf" and body["content_type"] == "application/pdf"
        assert body["size"] == len(PDF)
        assert body["download_url"].endswith(f"/api/v1/agreement-documents/{w.doc_a.uuid}/download/")
        assert "file" not in body

    def test_need_report_output(self, w, clients):
        body = clients["provider_editor_a"].get(url("need-reports", w.need_a)).json()
        assert body["reporter"] == str(w.org_a.uuid) and body["region"] == "P11" and body["field"] == "t-kjh"
        assert body["status"] == "new" and body["next_statuses"] == ["in_review", "planned", "declined"]

    @pytest.mark.parametrize("route", list(ROUTES))
    def test_browsable_api(self, w, clients, route):
        own, _other = ROUTES[route]
        for path in (url(route), url(route, getattr(w, own))):
            response = clients["planner"].get(path, HTTP_ACCEPT="text/html")
            assert response.status_code == 200 and b"<html" in response.content

    def test_api_root_lists_the_endpoints(self, clients):
        assert set(ROUTES) <= set(clients["viewer"].get(f"{API}/").json())

    @pytest.mark.parametrize("route", list(ROUTES))
    def test_exports(self, w, clients, route):
        own, other = (getattr(w, name) for name in ROUTES[route])
        response = clients["planner"].get(url(route), {"format": "csv"})
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"].startswith(f'attachment; filename="{route}-')
        assert {str(key(route, own)), str(key(route, other))} <= {r[row_key(route)] for r in read_csv(response)}
        response = clients["planner"].get(url(route), {"format": "xlsx"})
        assert response.status_code == 200 and response["Content-Type"] == XLSX
        sheet = load_workbook(io.BytesIO(response.content)).active
        assert sheet.max_row >= 3

    def test_goal_export_has_attainment_columns(self, w, clients):
        response = clients["planner"].get(url("goals"), {"format": "csv"})
        goal = next(r for r in read_csv(response) if r["id"] == str(w.goal_a.pk))
        assert goal["attainment.status"] == "on_track" and goal["attainment.progress"] == "50,0"


# --- refused writes per persona -----------------------------------------------------------------------


class TestRefusedWrites:
    @pytest.mark.parametrize("route", list(ROUTES))
    @pytest.mark.parametrize("persona", READ_ONLY_STAFF)
    def test_read_only_staff_cannot_write(self, w, clients, route, persona):
        api = clients[persona]
        own, _other = ROUTES[route]
        before = snapshot()
        body = create_payload(route, w) if route in WRITABLE else {"title": "X"}
        if route == "agreement-documents":
            response = api.post(url(route), {"agreement": str(w.ag_a.uuid), "file": pdf()}, format="multipart")
        else:
            response = api.post(url(route), body, format="json")
        assert response.status_code == 403, response.content
        assert api.delete(url(route, getattr(w, own))).status_code == 403
        if route in WRITABLE:
            assert api.patch(url(route, getattr(w, own)), PATCHES[route], format="json").status_code == 403
        assert snapshot() == before

    @pytest.mark.parametrize("route, method, suffix, body", POST_ACTIONS)
    @pytest.mark.parametrize("persona", READ_ONLY_STAFF)
    def test_read_only_staff_cannot_act(self, w, clients, route, method, suffix, body, persona):
        before = snapshot()
        own, _other = ROUTES[route]
        response = getattr(clients[persona], method)(url(route, getattr(w, own), suffix), body, format="json")
        assert response.status_code == 403, response.content
        assert snapshot() == before

    @pytest.mark.parametrize("route", list(ROUTES))
    def test_another_organizations_objects_do_not_exist(self, w, clients, route):
        api = clients["provider_editor_a"]
        _own, other = ROUTES[route]
        before = snapshot()
        for method in ("patch", "put", "delete") if route in WRITABLE else ("delete",):
            response = getattr(api, method)(url(route, getattr(w, other)), PATCHES.get(route, {}), format="json")
            assert response.status_code == 404, (method, response.content)
        assert snapshot() == before

    @pytest.mark.parametrize("route, method, suffix, body", ALL_ACTIONS)
    def test_another_organizations_actions_do_not_exist(self, w, clients, route, method, suffix, body):
        before = snapshot()
        _own, other = ROUTES[route]
        response = getattr(clients["provider_editor_a"], method)(url(route, getattr(w, other), suffix), body,
                                                                  format="json")
        assert response.status_code == 404, response.content
        assert snapshot() == before

    @pytest.mark.parametrize("route, name", [
        ("agreements", "ag_pub"), ("agreement-parties", "party_pub"), ("networks", "net_pub"),
        ("network-members", "mem_pub"),
    ])
    def test_public_objects_are_read_only_for_outsiders(self, w, clients, route, name):
        api = clients["provider_editor_b"]
        obj = getattr(w, name)
        before = snapshot()
        assert api.patch(url(route, obj), PATCHES[route], format="json").status_code == 403
        assert api.delete(url(route, obj)).status_code == 403
        assert snapshot() == before

    @pytest.mark.parametrize("route", ["agreements", "agreement-parties", "escalation-steps", "goals", "networks",
                                       "planning-processes", "planning-participants", "planning-decisions"])
    def test_planners_only_create(self, w, clients, route):
        before = snapshot()
        response = clients["provider_editor_a"].post(url(route), create_payload(route, w), format="json")
        assert response.status_code == 403, response.content
        assert snapshot() == before

    @pytest.mark.parametrize("route", ["agreements", "escalation-steps", "goals", "planning-processes",
                                       "planning-participants", "planning-decisions", "agreement-documents"])
    def test_providers_cannot_change_or_delete_what_they_see(self, w, clients, route):
        api = clients["provider_editor_a"]
        own, _other = ROUTES[route]
        before = snapshot()
        if route != "agreement-documents":
            assert api.patch(url(route, getattr(w, own)), PATCHES[route], format="json").status_code == 403
        assert api.delete(url(route, getattr(w, own))).status_code == 403
        assert snapshot() == before

    def test_documents_have_no_update(self, w, clients):
        assert clients["planner"].patch(url("agreement-documents", w.doc_a), {"title": "X"},
                                        format="json").status_code == 405


# --- planners write everything ---------------------------------------------------------------------------


class TestPlannerWrites:
    @pytest.mark.parametrize("route", WRITABLE)
    def test_create_change_delete(self, w, clients, users, route):
        api = clients["planner"]
        response = api.post(url(route), create_payload(route, w), format="json")
        assert response.status_code == 201, response.json()
        created = response.json()
        path = f"{API}/{route}/{created[row_key(route)]}/"
        assert api.get(path).json() == created
        field, value = next(iter(PATCHES[route].items()))
        response = api.patch(path, PATCHES[route], format="json")
        assert response.status_code == 200, response.json()
        assert response.json()[field] == value
        assert api.delete(path).status_code == 204
        assert api.get(path).status_code == 404

    def test_authors_are_stamped(self, w, clients, users):
        response = clients["planner"].post(url("agreements"), create_payload("agreements", w), format="json")
        agreement = m.Agreement.objects.get(uuid=response.json()["uuid"])
        assert agreement.created_by == users["planner"] and agreement.updated_by == users["planner"]

    def test_status_is_read_only(self, w, clients):
        response = clients["planner"].patch(url("agreements", w.ag_a), {"status": "active", "title": "T"},
                                            format="json")
        assert response.status_code == 200 and response.json()["status"] == "draft"

    def test_agreement_dates_checked(self, w, clients):
        response = clients["planner"].patch(url("agreements", w.ag_a), {"valid_until": "2025-01-01"}, format="json")
        assert response.status_code == 400
        assert response.json() == {"non_field_errors": ["„gültig bis“ liegt vor „gültig ab“."]}

    def test_a_party_once_per_agreement(self, w, clients):
        before = snapshot()
        body = {"agreement": str(w.ag_a.uuid), "organization": str(w.org_a.uuid), "role": "partner"}
        response = clients["planner"].post(url("agreement-parties"), body, format="json")
        assert response.status_code == 400
        assert response.json() == {"non_field_errors": ["Die Organisation ist schon Partei dieser Vereinbarung."]}
        assert snapshot() == before

    def test_escalation_step_needs_one_owner(self, w, clients):
        api = clients["planner"]
        response = api.post(url("escalation-steps"), {"order": 5, "handled_by": "X", "days": 3}, format="json")
        assert response.status_code == 400 and "agreement" in response.json()
        both = {"agreement": str(w.ag_a.uuid), "network": str(w.net_a.uuid), "order": 5, "handled_by": "X", "days": 3}
        response = api.post(url("escalation-steps"), both, format="json")
        assert response.status_code == 400
        assert "Eine Stufe gehört zu einer Vereinbarung oder einem Netzwerk." in str(response.json())
        response = api.post(url("escalation-steps"), {"network": str(w.net_b.uuid), "order": 1, "handled_by": "X",
                                                      "days": 3}, format="json")
        assert response.status_code == 201, response.json()
        response = api.post(url("escalation-steps"), {"agreement": str(w.ag_a.uuid), "order": 1, "handled_by": "X",
                                                      "days": 3}, format="json")
        assert response.status_code == 400 and response.json() == {"non_field_errors": ["Diese Stufe gibt es schon."]}

    def test_planning_process_needs_regions_and_fields(self, w, clients):
        response = clients["planner"].post(url("planning-processes"), {"title": "X", "mandate_goals": "Y",
                                                                       "regions": [], "fields": []}, format="json")
        assert response.status_code == 400 and {"regions", "fields"} <= set(response.json())

    def test_goal_created_with_attainment(self, w, clients):
        response = clients["planner"].post(url("goals"), create_payload("goals", w), format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["attainment"]["status"] == "achieved"  # from 10 (2022) up to 12: 15 (2024) is there


# --- agreements: transitions, history, parties, documents -------------------------------------------------


class TestAgreementWorkflow:
    def test_lead_editor_starts_negotiation(self, w, clients):
        response = clients["provider_editor_a"].post(url("agreements", w.ag_a, "transition/"), {"to": "negotiation"},
                                                     format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "negotiation"

    def test_lead_editor_cannot_make_planner_transitions(self, w, clients):
        m.Agreement.objects.filter(pk=w.ag_a.pk).update(status="negotiation")
        response = clients["provider_editor_a"].post(url("agreements", w.ag_a, "transition/"), {"to": "draft"},
                                                     format="json")
        assert response.status_code == 400
        assert response.json() == {"detail": "Diesen Übergang darf nur die Planung vornehmen."}
        assert m.Agreement.objects.get(pk=w.ag_a.pk).status == "negotiation"

    def test_partner_editor_is_refused(self, w, clients):
        before = snapshot()
        response = clients["editor_c"].post(url("agreements", w.ag_a, "transition/"), {"to": "negotiation"},
                                            format="json")
        assert response.status_code == 403 and "federführende" in response.json()["detail"]
        # B sees the public agreement but is no party of it
        response = clients["provider_editor_b"].post(url("agreements", w.ag_pub, "transition/"),
                                                     {"to": "negotiation"}, format="json")
        assert response.status_code == 403
        assert snapshot() == before

    def test_planner_transitions_and_errors(self, w, clients):
        api = clients["planner"]
        response = api.post(url("agreements", w.ag_a, "transition/"), {"to": "active"}, format="json")
        assert response.status_code == 400
        assert response.json() == {"detail": "Von „Entwurf“ nach „aktiv“ gibt es keinen Übergang."}
        response = api.post(url("agreements", w.ag_a, "transition/"), {"to": "gibt-es-nicht"}, format="json")
        assert response.status_code == 400 and "to" in response.json()
        empty = AgreementFactory(title="Ohne Parteien")
        response = api.post(url("agreements", empty, "transition/"), {"to": "negotiation"}, format="json")
        assert response.status_code == 400
        assert response.json()["detail"] == "Eine Vereinbarung ohne Parteien kann nicht verhandelt werden."
        response = api.post(url("agreements", w.ag_a, "transition/"), {"to": "negotiation"}, format="json")
        assert response.status_code == 200 and response.json()["status"] == "negotiation"

    def test_confirmations_activate(self, w, clients, users):
        clients["planner"].post(url("agreements", w.ag_a, "transition/"), {"to": "negotiation"}, format="json")
        response = clients["provider_editor_a"].post(url("agreement-parties", w.party_a, "confirm/"))
        assert response.status_code == 200, response.json()
        assert response.json()["confirmed_at"] is not None and response.json()["confirmed_by"] == "provider_a"
        # A sees org_c's party (same agreement) but does not confirm for it
        assert clients["provider_editor_a"].post(url("agreement-parties", w.party_ac, "confirm/")).status_code == 403
        # a planner is no member of the party: the workflow's message
        response = clients["planner"].post(url("agreement-parties", w.party_ac, "confirm/"))
        assert response.status_code == 400
        assert response.json() == {"detail": "Für Träger C gGmbH bestätigt nur, wer diese Organisation bearbeiten darf."}
        assert clients["editor_c"].post(url("agreement-parties", w.party_ac, "confirm/")).status_code == 200
        assert clients["viewer"].get(url("agreements", w.ag_a)).json()["status"] == "active"

    def test_confirm_only_in_negotiation(self, w, clients):
        response = clients["provider_editor_a"].post(url("agreement-parties", w.party_a, "confirm/"))
        assert response.status_code == 400
        assert response.json() == {"detail": "Bestätigt wird eine Vereinbarung, solange sie verhandelt wird."}
        assert m.AgreementParty.objects.get(pk=w.party_a.pk).confirmed_at is None

    def test_outsider_cannot_confirm_a_public_agreement(self, w, clients):
        assert clients["provider_editor_b"].post(url("agreement-parties", w.party_pub, "confirm/")).status_code == 403

    def test_history(self, w, clients, users):
        planner = client_for(None)
        planner.force_login(users["planner"])  # a session: the request's user is recorded with the change
        response = planner.post(url("agreements"), create_payload("agreements", w), format="json")
        path = f"{API}/agreements/{response.json()['uuid']}/"
        AgreementPartyFactory(agreement=m.Agreement.objects.get(uuid=response.json()["uuid"]), organization=w.org_a)
        planner.post(path + "transition/", {"to": "negotiation"}, format="json")
        response = clients["provider_editor_a"].get(path + "history/")
        assert response.status_code == 200
        # (in one test transaction both events carry the same time: their order is not checked)
        events = {e["action"]: e for e in response.json()["events"]}
        assert set(events) == {"insert", "update"} and len(response.json()["events"]) == 2
        assert events["update"]["user"] == events["insert"]["user"] == "planner"
        assert {"field": "status", "old": "draft", "new": "negotiation"} in events["update"]["changes"]
        assert {"field": "title", "old": None, "new": "Neue Vereinbarung"} in events["insert"]["changes"]
        assert clients["provider_editor_b"].get(path + "history/").status_code == 404

    def test_party_editors_keep_their_own_fields(self, w, clients):
        api = clients["provider_editor_a"]
        response = api.patch(url("agreement-parties", w.party_a), {"responsibilities": "Koordination",
                                                                   "contact": "k@a.example", "availability": "Mo–Fr"},
                             format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["responsibilities"] == "Koordination"
        # a full update naming the unchanged other fields is fine
        full = {k: v for k, v in response.json().items() if k not in ("id", "organization_name", "confirmed_at",
                                                                      "confirmed_by")}
        full["availability"] = "Di–Do"
        response = api.put(url("agreement-parties", w.party_a), full, format="json")
        assert response.status_code == 200, response.json()

    @pytest.mark.parametrize("body", [{"role": "partner"}, {"budget_share": "50"}, {"work_modes": ["case_unspecific"]},
                                      {"organization": "ORG_B"}])
    def test_party_editors_cannot_change_the_rest(self, w, clients, body):
        body = {k: (str(w.org_b.uuid) if v == "ORG_B" else v) for k, v in body.items()}
        before = snapshot()
        response = clients["provider_editor_a"].patch(url("agreement-parties", w.party_a),
                                                      {**body, "contact": "x@example.org"}, format="json")
        assert response.status_code == 400
        assert set(response.json()) == set(body)
        assert "ändert nur die Planung" in response.json()[next(iter(body))][0]
        assert snapshot() == before

    def test_party_editors_cannot_change_other_parties(self, w, clients):
        before = snapshot()
        response = clients["provider_editor_a"].patch(url("agreement-parties", w.party_ac), {"contact": "x"},
                                                      format="json")
        assert response.status_code == 403
        assert clients["provider_editor_a"].delete(url("agreement-parties", w.party_a)).status_code == 403
        assert snapshot() == before

    def test_planner_moves_no_party_to_another_agreement(self, w, clients):
        response = clients["planner"].patch(url("agreement-parties", w.party_a), {"agreement": str(w.ag_b.uuid)},
                                            format="json")
        assert response.status_code == 400 and "agreement" in response.json()
        response = clients["planner"].patch(url("agreement-parties", w.party_a), {"role": "partner"}, format="json")
        assert response.status_code == 200 and response.json()["role"] == "partner"


class TestDocuments:
    def upload(self, api, agreement, upload, **kw):
        return api.post(url("agreement-documents"), {"agreement": str(agreement.uuid), "file": upload, **kw},
                        format="multipart")

    @pytest.mark.parametrize("persona", ["planner", "provider_editor_a", "editor_c"])
    def test_planners_and_parties_upload(self, w, clients, persona):
        response = self.upload(clients[persona], w.ag_a, pdf("anlage.pdf"), title="Anlage 1", kind="annex")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["title"] == "Anlage 1" and body["kind"] == "annex" and body["content_type"] == "application/pdf"
        document = m.AgreementDocument.objects.get(uuid=body["uuid"])
        assert document.agreement == w.ag_a and document.file.read() == PDF

    def test_title_defaults_to_the_file_name(self, w, clients):
        body = self.upload(clients["planner"], w.ag_a, pdf("konzept.pdf")).json()
        assert body["title"] == "konzept.pdf" and body["kind"] == "contract"

    def test_outsiders_cannot_upload(self, w, clients):
        before = snapshot()
        api = clients["provider_editor_b"]
        response = self.upload(api, w.ag_a, pdf())  # not visible: "does not exist"
        assert response.status_code == 400 and set(response.json()) == {"agreement"}
        response = self.upload(api, w.ag_pub, pdf())  # visible (public), but B is no party
        assert response.status_code == 400
        assert response.json() == {"agreement": ["Dokumente laden die Planung und die Parteien der Vereinbarung hoch."]}
        assert snapshot() == before

    def test_content_is_checked(self, w, clients):
        before = snapshot()
        response = self.upload(clients["planner"], w.ag_a, pdf("trojaner.pdf", b"MZ\x90\x00 not a pdf"))
        assert response.status_code == 400 and "file" in response.json()
        assert "passt nicht zur Endung" in response.json()["file"][0]
        response = self.upload(clients["planner"], w.ag_a, pdf("notiz.txt", b"Hallo"))
        assert response.status_code == 400 and "nicht erlaubt" in response.json()["file"][0]
        assert snapshot() == before

    @pytest.mark.parametrize("persona", ["planner", "viewer", "provider_editor_a", "editor_c"])
    def test_download_by_who_sees_the_agreement(self, w, clients, persona):
        response = clients[persona].get(url("agreement-documents", w.doc_a, "download/"))
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == PDF
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == 'attachment; filename="vertrag-a.pdf"'

    def test_download_with_any_accept_header(self, w, clients):
        response = clients["provider_editor_a"].get(url("agreement-documents", w.doc_a, "download/"),
                                                    HTTP_ACCEPT="application/pdf")
        assert response.status_code == 200 and b"".join(response.streaming_content) == PDF
        response = clients["provider_editor_b"].get(url("agreement-documents", w.doc_a, "download/"),
                                                    HTTP_ACCEPT="application/pdf")
        assert response.status_code == 404 and response["Content-Type"] == "application/json"

    def test_download_refused_to_outsiders(self, w, clients, api):
        assert clients["provider_editor_b"].get(url("agreement-documents", w.doc_a, "download/")).status_code == 404
        assert_refused(api.get(url("agreement-documents", w.doc_a, "download/")))

    def test_planner_deletes_record_and_file(self, w, clients, django_capture_on_commit_callbacks):
        storage, name = w.doc_a.file.storage, w.doc_a.file.name
        assert storage.exists(name)
        with django_capture_on_commit_callbacks(execute=True):
            assert clients["planner"].delete(url("agreement-documents", w.doc_a)).status_code == 204
        assert not m.AgreementDocument.objects.filter(pk=w.doc_a.pk).exists()
        assert not storage.exists(name)

    def test_filter_by_agreement(self, w, clients):
        response = clients["planner"].get(url("agreement-documents"), {"agreement": str(w.ag_b.uuid)})
        assert keys("agreement-documents", response) == {str(w.doc_b.uuid)}


# --- networks, meetings, tasks ------------------------------------------------------------------------------


class TestNetworks:
    def test_coordinating_editor_keeps_the_network(self, w, clients):
        api = clients["provider_editor_a"]
        response = api.patch(url("networks", w.net_a), {"description": "Monatlich im Rathaus", "public": True},
                             format="json")
        assert response.status_code == 200, response.json()
        response = api.patch(url("networks", w.net_a), {"coordinator": str(w.org_c.uuid)}, format="json")
        assert response.status_code == 400
        assert response.json() == {"coordinator": ["Die koordinierende Organisation bestimmt die Planung."]}
        assert api.delete(url("networks", w.net_a)).status_code == 403
        assert m.Network.objects.get(pk=w.net_a.pk).coordinator == w.org_a

    def test_members_cannot_change_the_network(self, w, clients):
        before = snapshot()
        api = clients["editor_c"]  # a plain member of network A
        assert api.patch(url("networks", w.net_a), {"description": "X"}, format="json").status_code == 403
        assert api.patch(url("network-members", w.mem_a), {"responsibilities": "X"}, format="json").status_code == 403
        assert snapshot() == before

    def test_coordinator_adds_members(self, w, clients):
        api = clients["provider_editor_a"]
        response = api.post(url("network-members"), {"network": str(w.net_a.uuid), "organization": str(w.org_b.uuid),
                                                     "role": "guest"}, format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["organization_name"] == "Träger B gGmbH"
        response = api.post(url("network-members"), {"network": str(w.net_a.uuid), "organization": str(w.org_b.uuid)},
                            format="json")
        assert response.status_code == 400
        assert response.json() == {"non_field_errors": ["Die Organisation ist schon Mitglied."]}
        response = api.patch(url("network-members", w.mem_a), {"network": str(w.net_cc.uuid)}, format="json")
        assert response.status_code == 400 and "network" in response.json()

    def test_members_cannot_add_members(self, w, clients):
        before = snapshot()
        response = clients["provider_editor_b"].post(url("network-members"), {
            "network": str(w.net_b.uuid), "organization": str(w.org_a.uuid)}, format="json")
        assert response.status_code == 400 and set(response.json()) == {"network"}
        assert snapshot() == before

    def test_filters(self, w, clients):
        api = clients["planner"]
        assert keys("networks", api.get(url("networks"), {"organization": str(w.org_c.uuid)})) == {
            str(w.net_a.uuid), str(w.net_pub.uuid)}
        assert keys("networks", api.get(url("networks"), {"kind": "case_conference"})) == {str(w.net_cc.uuid)}
        assert keys("network-members", api.get(url("network-members"), {"network": str(w.net_b.uuid)})) == {w.mem_b.pk}
        assert keys("escalation-steps", api.get(url("escalation-steps"), {"network": str(w.net_a.uuid)})) == {
            w.net_step.pk}
        assert keys("escalation-steps", api.get(url("escalation-steps"), {"agreement": str(w.ag_a.uuid)})) == {
            w.step_a.pk, w.step_a2.pk}


class TestMeetings:
    def test_case_conference_keeps_counts(self, w, clients):
        response = clients["provider_editor_a"].post(url("meetings"), {
            "network": str(w.net_cc.uuid), "starts_at": "2026-12-01T10:00:00+01:00", "cases_discussed": 4,
            "case_fields": ["t-kjh", "t-hze"], "attendees": [str(w.org_a.uuid)]}, format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["cases_discussed"] == 4 and sorted(response.json()["case_fields"]) == ["t-hze", "t-kjh"]

    @pytest.mark.parametrize("body", [{"cases_discussed": 2}, {"case_fields": ["t-kjh"]}])
    def test_other_networks_keep_no_case_counts(self, w, clients, body):
        before = snapshot()
        api = clients["planner"]
        response = api.post(url("meetings"), {"network": str(w.net_a.uuid), "starts_at": "2026-12-01T10:00:00Z",
                                              **body}, format="json")
        assert response.status_code == 400 and set(response.json()) == set(body)
        assert "nur bei Fallkonferenzen" in response.json()[next(iter(body))][0]
        response = api.patch(url("meetings", w.meeting_a), body, format="json")
        assert response.status_code == 400 and set(response.json()) == set(body)
        assert snapshot() == before

    def test_attendees_are_organizations_of_the_network(self, w, clients):
        before = snapshot()
        response = clients["planner"].patch(url("meetings", w.meeting_a), {"attendees": [str(w.org_b.uuid)]},
                                            format="json")
        assert response.status_code == 400 and set(response.json()) == {"attendees"}
        assert snapshot() == before
        response = clients["planner"].patch(url("meetings", w.meeting_a), {"attendees": [str(w.org_c.uuid)]},
                                            format="json")
        assert response.status_code == 200 and response.json()["attendees"] == [str(w.org_c.uuid)]

    def test_only_who_runs_the_network_adds_meetings(self, w, clients):
        before = snapshot()
        body = {"network": str(w.net_b.uuid), "starts_at": "2026-12-01T10:00:00Z"}
        response = clients["provider_editor_b"].post(url("meetings"), body, format="json")  # a plain member
        assert response.status_code == 400 and set(response.json()) == {"network"}
        assert snapshot() == before
        body["network"] = str(w.net_a.uuid)
        assert clients["provider_editor_a"].post(url("meetings"), body, format="json").status_code == 201

    def test_filters(self, w, clients):
        api = clients["planner"]
        assert keys("meetings", api.get(url("meetings"), {"network": str(w.net_b.uuid)})) == {str(w.meeting_b.uuid)}
        assert keys("meeting-tasks", api.get(url("meeting-tasks"), {"responsible": str(w.org_c.uuid)})) == {w.task_a.pk}
        assert keys("meeting-tasks", api.get(url("meeting-tasks"), {"network": str(w.net_b.uuid)})) == {w.task_b.pk}


class TestMeetingTasks:
    def test_responsible_editor_marks_done_and_reopens(self, w, clients, users):
        api = clients["editor_c"]
        response = api.post(url("meeting-tasks", w.task_a, "done/"))
        assert response.status_code == 200 and response.json()["done_at"] is not None
        task = m.MeetingTask.objects.get(pk=w.task_a.pk)
        assert task.updated_by == users["editor_c"]
        assert clients["viewer"].get(url("meeting-tasks"), {"done": "true"}).json()["results"][0]["id"] == w.task_a.pk
        response = api.post(url("meeting-tasks", w.task_a, "done/"), {"done": False}, format="json")
        assert response.status_code == 200 and response.json()["done_at"] is None

    def test_responsible_editor_cannot_rewrite_the_task(self, w, clients):
        before = snapshot()
        api = clients["editor_c"]
        response = api.patch(url("meeting-tasks", w.task_a), {"title": "Erledigt sich von selbst"}, format="json")
        assert response.status_code == 403 and "erledigt" in response.json()["detail"]
        assert api.delete(url("meeting-tasks", w.task_a)).status_code == 403
        assert snapshot() == before

    def test_network_coordinator_writes_tasks(self, w, clients):
        api = clients["provider_editor_a"]
        assert api.patch(url("meeting-tasks", w.task_a), {"title": "Neu"}, format="json").status_code == 200
        assert api.post(url("meeting-tasks", w.task_a, "done/")).status_code == 200
        response = api.post(url("meeting-tasks"), {"meeting": str(w.meeting_a.uuid), "title": "X",
                                                   "responsible": str(w.org_b.uuid), "due": "2026-12-01"}, format="json")
        assert response.status_code == 400
        assert response.json() == {"responsible": ["Bitte eine Organisation des Netzwerks wählen."]}
        assert api.delete(url("meeting-tasks", w.task_a)).status_code == 204

    def test_members_of_the_network_cannot_mark_others_tasks(self, w, clients):
        task = MeetingTaskFactory(meeting=w.meeting_a, responsible=w.org_a)
        before = snapshot()
        assert clients["editor_c"].post(url("meeting-tasks", task, "done/")).status_code == 403
        assert snapshot() == before


# --- need reports ---------------------------------------------------------------------------------------------


class TestNeedReports:
    def test_editor_reports_for_own_organization(self, w, clients, users):
        api = clients["provider_editor_a"]
        response = api.post(url("need-reports"), create_payload("need-reports", w), format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["status"] == "new" and response.json()["reporter"] == str(w.org_a.uuid)
        before = snapshot()
        response = api.post(url("need-reports"), {**create_payload("need-reports", w), "reporter": str(w.org_b.uuid)},
                            format="json")
        assert response.status_code == 400 and set(response.json()) == {"reporter"}
        assert snapshot() == before

    def test_editor_changes_own_report_while_new(self, w, clients):
        api = clients["provider_editor_a"]
        assert api.patch(url("need-reports", w.need_a), {"evidence": "Warteliste: 30"},
                         format="json").status_code == 200
        response = api.patch(url("need-reports", w.need_a), {"reporter": str(w.org_b.uuid)}, format="json")
        assert response.status_code == 400 and "reporter" in response.json()
        clients["planner"].post(url("need-reports", w.need_a, "triage/"), {"to": "in_review"}, format="json")
        assert api.patch(url("need-reports", w.need_a), {"evidence": "X"}, format="json").status_code == 403
        assert api.delete(url("need-reports", w.need_a)).status_code == 403

    def test_planner_triages(self, w, clients, users):
        api = clients["planner"]
        response = api.post(url("need-reports", w.need_a, "triage/"), {"to": "in_review"}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "in_review" and response.json()["triaged_by"] == "planner"
        response = api.post(url("need-reports", w.need_a, "triage/"), {"to": "declined"}, format="json")
        assert response.status_code == 400
        assert response.json() == {"detail": "Für die Ablehnung fehlt die Begründung."}
        response = api.post(url("need-reports", w.need_a, "triage/"),
                            {"to": "planned", "process": str(w.proc_a.uuid)}, format="json")
        assert response.status_code == 200 and response.json()["status"] == "planned"
        assert list(w.proc_a.need_reports.all()) == [w.need_a]
        response = api.post(url("need-reports", w.need_a, "triage/"), {"to": "new"}, format="json")
        assert response.status_code == 400 and "geht es nicht" in response.json()["detail"]

    def test_declined_with_reason(self, w, clients):
        response = clients["planner"].post(url("need-reports", w.need_b, "triage/"),
                                           {"to": "declined", "reason": "Bereits versorgt."}, format="json")
        assert response.status_code == 200
        assert response.json()["decline_reason"] == "Bereits versorgt."
        body = clients["provider_editor_b"].get(url("need-reports", w.need_b)).json()
        assert body["status"] == "declined" and body["decline_reason"] == "Bereits versorgt."

    def test_reporters_do_not_triage(self, w, clients):
        before = snapshot()
        response = clients["provider_editor_a"].post(url("need-reports", w.need_a, "triage/"), {"to": "planned"},
                                                     format="json")
        assert response.status_code == 403 and response.json() == {"detail": "Bedarfsmeldungen bearbeitet die Planung."}
        assert snapshot() == before

    def test_bad_triage_input(self, w, clients):
        api = clients["planner"]
        response = api.post(url("need-reports", w.need_a, "triage/"), {"to": "irgendwo"}, format="json")
        assert response.status_code == 400 and "to" in response.json()
        response = api.post(url("need-reports", w.need_a, "triage/"),
                            {"to": "planned", "process": "00000000-0000-4000-8000-000000000000"}, format="json")
        assert response.status_code == 400 and "process" in response.json()

    def test_filters(self, w, clients):
        api = clients["viewer"]
        assert keys("need-reports", api.get(url("need-reports"), {"reporter": str(w.org_b.uuid)})) == {
            str(w.need_b.uuid)}
        assert keys("need-reports", api.get(url("need-reports"), {"region": "D1"})) == {str(w.need_a.uuid)}
        assert keys("need-reports", api.get(url("need-reports"), {"status": "declined"})) == set()


# --- planning processes ------------------------------------------------------------------------------------


class TestPlanning:
    def test_phases_one_at_a_time(self, w, clients):
        api = clients["planner"]
        response = api.post(url("planning-processes", w.proc_a, "phase/"), {"to": "analysis"}, format="json")
        assert response.status_code == 200 and response.json()["phase"] == "analysis"
        response = api.post(url("planning-processes", w.proc_a, "phase/"), {"to": "evaluation"}, format="json")
        assert response.status_code == 400 and "nacheinander" in response.json()["detail"]

    def test_close_after_evaluation_and_reopen(self, w, clients):
        api = clients["planner"]
        response = api.post(url("planning-processes", w.proc_a, "close/"), {}, format="json")
        assert response.status_code == 400
        assert response.json() == {"detail": "Abgeschlossen wird nach der Bewertung."}
        m.PlanningProcess.objects.filter(pk=w.proc_a.pk).update(phase="evaluation")
        response = api.post(url("planning-processes", w.proc_a, "close/"), {}, format="json")
        assert response.status_code == 200 and response.json()["closed"] is True
        response = api.post(url("planning-processes", w.proc_a, "close/"), {"reopen": True}, format="json")
        assert response.status_code == 200 and response.json()["closed"] is False

    @pytest.mark.parametrize("suffix, body", [("phase/", {"to": "analysis"}), ("close/", {"reopen": True})])
    def test_participants_do_not_run_the_process(self, w, clients, suffix, body):
        before = snapshot()
        response = clients["provider_editor_a"].post(url("planning-processes", w.proc_a, suffix), body, format="json")
        assert response.status_code == 403
        assert snapshot() == before

    def test_participant_adds_swot_entries(self, w, clients):
        api = clients["provider_editor_a"]
        response = api.post(url("swot-entries"), create_payload("swot-entries", w), format="json")
        assert response.status_code == 201, response.json()
        entry = response.json()
        assert entry["organization"] == str(w.org_a.uuid) and entry["quadrant"] == "threat"
        assert m.SwotEntry.objects.get(pk=entry["id"]).created_by.username == "provider_a"
        response = api.patch(url("swot-entries") + f"{entry['id']}/", {"text": "Fachkräftemangel in Kitas"},
                             format="json")
        assert response.status_code == 200 and response.json()["text"] == "Fachkräftemangel in Kitas"
        assert api.delete(url("swot-entries") + f"{entry['id']}/").status_code == 204

    def test_swot_only_for_own_participating_organization(self, w, clients):
        before = snapshot()
        api = clients["provider_editor_a"]
        response = api.post(url("swot-entries"), {**create_payload("swot-entries", w), "organization": str(w.org_b.uuid)},
                            format="json")
        assert response.status_code == 400
        assert "für Träger B gGmbH dürfen Sie das nicht" in response.json()["non_field_errors"][0]
        response = clients["provider_editor_b"].post(url("swot-entries"), create_payload("swot-entries", w),
                                                     format="json")
        assert response.status_code == 400 and set(response.json()) == {"process"}
        assert snapshot() == before

    def test_swot_entries_of_others_are_read_only(self, w, clients):
        other = m.SwotEntry.objects.create(process=w.proc_a, organization=w.org_c, quadrant="opportunity", text="X")
        api = clients["provider_editor_a"]
        assert api.get(url("swot-entries", other)).status_code == 200
        assert api.patch(url("swot-entries", other), {"text": "Y"}, format="json").status_code == 403
        assert api.delete(url("swot-entries", other)).status_code == 403
        response = api.patch(url("swot-entries", w.swot_a), {"organization": str(w.org_c.uuid)}, format="json")
        assert response.status_code == 400 and "organization" in response.json()

    def test_no_swot_once_closed(self, w, clients):
        m.PlanningProcess.objects.filter(pk=w.proc_a.pk).update(closed=True)
        before = snapshot()
        api = clients["provider_editor_a"]
        response = api.post(url("swot-entries"), create_payload("swot-entries", w), format="json")
        assert response.status_code == 400
        assert response.json() == {"non_field_errors": ["Der Planungsprozess ist abgeschlossen."]}
        response = api.patch(url("swot-entries", w.swot_a), {"text": "Y"}, format="json")
        assert response.status_code == 400
        assert snapshot() == before

    def test_filters(self, w, clients):
        api = clients["planner"]
        assert keys("planning-processes", api.get(url("planning-processes"), {"organization": str(w.org_b.uuid)})) == {
            str(w.proc_b.uuid)}
        assert keys("planning-participants", api.get(url("planning-participants"),
                                                     {"process": str(w.proc_a.uuid)})) == {w.part_a.pk}
        assert keys("swot-entries", api.get(url("swot-entries"), {"quadrant": "weakness"})) == {w.swot_b.pk}
        assert keys("planning-decisions", api.get(url("planning-decisions"), {"agreement": str(w.ag_a.uuid)})) == {
            w.dec_a.pk}


# --- conflict cases ---------------------------------------------------------------------------------------


class TestConflicts:
    def test_party_raises_a_conflict(self, w, clients):
        response = clients["provider_editor_a"].post(url("conflict-cases"), create_payload("conflict-cases", w),
                                                     format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["raised_by"] == str(w.org_a.uuid) and body["status"] == "open"
        assert body["step"]["order"] == 1 and body["step_due"] is not None

    def test_only_for_an_organization_taking_part(self, w, clients):
        before = snapshot()
        api = clients["provider_editor_a"]
        response = api.post(url("conflict-cases"), {**create_payload("conflict-cases", w),
                                                    "organization": str(w.org_c.uuid)}, format="json")
        assert response.status_code == 400 and "für Träger C gGmbH" in response.json()["organization"][0]
        response = api.post(url("conflict-cases"), {**create_payload("conflict-cases", w),
                                                    "agreement": str(w.ag_b.uuid)}, format="json")
        assert response.status_code == 400 and set(response.json()) == {"agreement"}
        response = api.post(url("conflict-cases"), {**create_payload("conflict-cases", w),
                                                    "network": str(w.net_a.uuid)}, format="json")
        assert response.status_code == 400 and "genau eins" in response.json()["agreement"][0]
        response = clients["viewer"].post(url("conflict-cases"), create_payload("conflict-cases", w), format="json")
        assert response.status_code == 403
        assert snapshot() == before

    def test_planner_escalates_and_closes(self, w, clients):
        api = clients["planner"]
        response = api.post(url("conflict-cases", w.conf_a, "escalate/"))
        assert response.status_code == 200 and response.json()["step"]["order"] == 2
        response = api.post(url("conflict-cases", w.conf_a, "escalate/"))
        assert response.status_code == 400 and "letzte Stufe" in response.json()["detail"]
        response = api.post(url("conflict-cases", w.conf_a, "close/"), {"status": "mediated", "outcome": " "},
                            format="json")
        assert response.status_code == 400
        response = api.post(url("conflict-cases", w.conf_a, "close/"), {"status": "open", "outcome": "X"},
                            format="json")
        assert response.status_code == 400 and "status" in response.json()
        response = api.post(url("conflict-cases", w.conf_a, "close/"),
                            {"status": "mediated", "outcome": "Einigung im Sozialraumteam."}, format="json")
        assert response.status_code == 200 and response.json()["status"] == "mediated"
        response = api.post(url("conflict-cases", w.conf_a, "escalate/"))
        assert response.status_code == 400 and response.json() == {"detail": "Der Konfliktfall ist abgeschlossen."}

    def test_agreement_parties_do_not_handle_conflicts(self, w, clients):
        before = snapshot()
        api = clients["provider_editor_a"]
        assert api.post(url("conflict-cases", w.conf_a, "escalate/")).status_code == 403
        assert api.post(url("conflict-cases", w.conf_a, "close/"), {"status": "resolved", "outcome": "X"},
                        format="json").status_code == 403
        assert api.patch(url("conflict-cases", w.conf_a), {"subject": "X"}, format="json").status_code == 403
        assert snapshot() == before

    def test_network_coordinator_handles_network_conflicts(self, w, clients):
        response = clients["editor_c"].post(url("conflict-cases"), {
            "network": str(w.net_a.uuid), "organization": str(w.org_c.uuid), "subject": "Termine",
            "description": "Sitzungen zu spät angekündigt."}, format="json")
        assert response.status_code == 201, response.json()
        path = f"{API}/conflict-cases/{response.json()['uuid']}/"
        assert response.json()["step"]["handled_by"] == "Koordination"
        api = clients["provider_editor_a"]
        assert api.patch(path, {"subject": "Terminplanung"}, format="json").status_code == 200
        response = api.patch(path, {"network": str(w.net_cc.uuid)}, format="json")
        assert response.status_code == 400 and "network" in response.json()
        response = api.post(path + "close/", {"status": "resolved", "outcome": "Einladung vier Wochen vorher."},
                            format="json")
        assert response.status_code == 200 and response.json()["closed_at"] is not None
        assert clients["editor_c"].post(path + "escalate/").status_code == 403

    def test_filters(self, w, clients):
        api = clients["viewer"]
        assert keys("conflict-cases", api.get(url("conflict-cases"), {"network": str(w.net_pub.uuid)})) == {
            str(w.conf_pub.uuid)}
        assert keys("conflict-cases", api.get(url("conflict-cases"), {"agreement": str(w.ag_b.uuid)})) == {
            str(w.conf_b.uuid)}
        assert keys("conflict-cases", api.get(url("conflict-cases"), {"overdue": "true"})) == {str(w.conf_a.uuid)}


# --- filters of the agreements ------------------------------------------------------------------------------


class TestAgreementFilters:
    def test_agreement_filters(self, w, clients):
        api = clients["planner"]
        assert keys("agreements", api.get(url("agreements"), {"organization": str(w.org_c.uuid)})) == {
            str(w.ag_a.uuid), str(w.ag_pub.uuid)}
        assert keys("agreements", api.get(url("agreements"), {"region": "D1"})) == {str(w.ag_a.uuid)}
        assert keys("agreements", api.get(url("agreements"), {"public": "true"})) == {str(w.ag_pub.uuid)}
        assert keys("agreements", api.get(url("agreements"), {"status": "active"})) == set()

    def test_part_filters(self, w, clients):
        api = clients["viewer"]
        assert keys("agreement-parties", api.get(url("agreement-parties"), {"agreement": str(w.ag_a.uuid),
                                                                            "role": "lead"})) == {w.party_a.pk}
        assert keys("goals", api.get(url("goals"), {"agreement": str(w.ag_b.uuid)})) == {w.goal_b.pk}
        assert keys("goals", api.get(url("goals"), {"region": "D1"})) == {w.goal_a.pk}


# --- integration tokens ------------------------------------------------------------------------------------


class TestToken:
    def test_token_acts_as_its_user(self, w, users):
        token = issue_token(users["provider_editor_a"], organization=w.org_a)
        api = client_for(None)
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert keys("agreements", api.get(url("agreements"))) == {str(w.ag_a.uuid), str(w.ag_pub.uuid)}
        assert api.get(url("agreements", w.ag_b)).status_code == 404
        assert api.patch(url("agreements", w.ag_a), {"title": "X"}, format="json").status_code == 403
        response = api.post(url("agreements", w.ag_a, "transition/"), {"to": "negotiation"}, format="json")
        assert response.status_code == 200
        response = api.post(url("need-reports"), create_payload("need-reports", w), format="json")
        assert response.status_code == 201

    def test_wrong_token_refused(self, w):
        api = client_for(None)
        api.credentials(HTTP_AUTHORIZATION="Token falsch")
        assert_refused(api.get(url("agreements")))


# --- query counts -------------------------------------------------------------------------------------------


def grow(route, n, w):
    """n more rows of ``route``, each with its related objects, visible to provider_editor_a."""
    base = 100 + m.EscalationStep.objects.count()
    for i in range(n):
        if route == "agreements":
            agreement = AgreementFactory(regions=[w.tree["P11"], w.tree["P12"]], fields=[w.kjh, w.hze])
            AgreementPartyFactory(agreement=agreement, organization=w.org_a)
        elif route == "agreement-parties":
            AgreementPartyFactory(agreement=w.ag_a, organization=OrganizationFactory())
        elif route == "escalation-steps":
            EscalationStepFactory(agreement=w.ag_a, order=base + i)
        elif route == "agreement-documents":
            m.AgreementDocument.objects.create(agreement=w.ag_a, title=f"Anlage {i}", file="x/anlage.pdf",
                                               original_name="anlage.pdf", content_type="application/pdf", size=1)
        elif route == "goals":
            indicator = IndicatorFactory(rollup="none")
            IndicatorValueFactory(indicator=indicator, region=w.tree["P12"], period="2023", value=i)
            GoalFactory(agreement=w.ag_a, indicator=indicator, region=w.tree["P12"])
        elif route == "networks":
            NetworkFactory(coordinator=w.org_a, regions=[w.tree["P11"]], fields=[w.kjh])
        elif route == "network-members":
            NetworkMemberFactory(network=w.net_a, organization=OrganizationFactory())
        elif route == "meetings":
            meeting = MeetingFactory(network=w.net_cc, attendees=[w.org_a])
            meeting.case_fields.set([w.kjh, w.hze])
        elif route == "meeting-tasks":
            MeetingTaskFactory(meeting=w.meeting_a, responsible=w.org_a)
        elif route == "need-reports":
            NeedReportFactory(reporter=w.org_a, region=w.tree["P11"], field=w.kjh)
        elif route == "planning-processes":
            process = PlanningProcessFactory(regions=[w.tree["P11"]], fields=[w.kjh])
            process.indicators.set([w.ind])
            process.need_reports.set([w.need_a])
            PlanningParticipantFactory(process=process, organization=w.org_a)
        elif route == "planning-participants":
            PlanningParticipantFactory(process=w.proc_a, organization=OrganizationFactory())
        elif route == "swot-entries":
            m.SwotEntry.objects.create(process=w.proc_a, organization=w.org_a, quadrant="strength", text=f"Punkt {i}")
        elif route == "planning-decisions":
            m.PlanningDecision.objects.create(process=w.proc_a, decided_on=datetime.date(2026, 5, 1), text=f"B {i}",
                                              agreement=w.ag_a, responsible=w.org_a)
        elif route == "conflict-cases":
            ConflictCaseFactory(agreement=w.ag_a, raised_by=w.org_a, step=w.step_a)


#: most queries a list may take (provider staff, JSON: roles, memberships and their branches, count, rows,
#: prefetches; a planner needs two fewer, an export one fewer — no count)
LIMITS = {
    "agreements": 8, "agreement-parties": 5, "escalation-steps": 5, "agreement-documents": 5, "goals": 6,
    "networks": 7, "network-members": 5, "meetings": 7, "meeting-tasks": 5, "need-reports": 5,
    "planning-processes": 10, "planning-participants": 5, "swot-entries": 5, "planning-decisions": 5,
    "conflict-cases": 5,
}


class TestQueryCounts:
    def count(self, user, path, limit, django_assert_max_num_queries):
        api = client_for(type(user).objects.get(pk=user.pk))  # a fresh user: nothing cached from earlier requests
        with django_assert_max_num_queries(limit), CaptureQueriesContext(connection) as ctx:
            response = api.get(path)
        assert response.status_code == 200
        return len(ctx), response

    @pytest.mark.parametrize("route", list(LIMITS))
    @pytest.mark.parametrize("persona", ["planner", "provider_editor_a"])
    @pytest.mark.parametrize("fmt", ["json", "csv"])
    def test_constant_in_the_number_of_rows(self, w, users, route, persona, fmt, django_assert_max_num_queries):
        path = f"{url(route)}?format={fmt}&page_size=100"
        grow(route, 3, w)
        small, _ = self.count(users[persona], path, LIMITS[route], django_assert_max_num_queries)
        grow(route, 30, w)
        large, response = self.count(users[persona], path, LIMITS[route], django_assert_max_num_queries)
        assert small == large
        if fmt == "json":
            assert response.json()["count"] >= 33


# --- OpenAPI ------------------------------------------------------------------------------------------------


#: enum names for choice sets shared by several components: to be moved to
#: SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] (the test adds them until they are there)
ENUM_NAME_OVERRIDES = {
    "AgreementKindEnum": "cooperation.choices.AgreementKind",
    "AgreementStatusEnum": "cooperation.choices.AgreementStatus",
    "NeedStatusEnum": "cooperation.choices.NeedStatus",
    "PlanningPhaseEnum": "cooperation.choices.PlanningPhase",
    "WorkModeEnum": "cooperation.choices.WorkMode",
    "NetworkKindEnum": "cooperation.choices.NetworkKind",
    "DocumentKindEnum": "cooperation.choices.DocumentKind",
    "DecisionKindEnum": "cooperation.choices.DecisionKind",
    "ConflictStatusEnum": "cooperation.choices.ConflictStatus",
    "GoalStatusEnum": "cooperation.choices.GoalStatus",
}


class TestSchema:
    def test_schema_documents_the_endpoints(self, clients):
        response = clients["viewer"].get(f"{API}/schema/", HTTP_ACCEPT="application/json")
        assert response.status_code == 200
        paths = response.json()["paths"]
        for route in ROUTES:
            detail = "{uuid}" if route in UUID_ROUTES else "{id}"
            assert f"/api/v1/{route}/" in paths and f"/api/v1/{route}/{detail}/" in paths, route
            operation = paths[f"/api/v1/{route}/"]["get"]
            params = {p["name"]: p for p in operation["parameters"]}
            assert set(params["format"]["schema"]["enum"]) >= {"json", "csv", "xlsx"}, route
            assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv", XLSX}, route
        for route, actions in ACTIONS.items():
            detail = "{uuid}" if route in UUID_ROUTES else "{id}"
            for method, suffix, _body in actions:
                assert method in paths[f"/api/v1/{route}/{detail}/{suffix}"], (route, suffix)
        assert set(paths["/api/v1/agreement-documents/"]["post"]["requestBody"]["content"]) == {"multipart/form-data"}
        assert "application/octet-stream" in paths["/api/v1/agreement-documents/{uuid}/download/"]["get"][
            "responses"]["200"]["content"]
        goal = response.json()["components"]["schemas"]["Goal"]["properties"]
        assert "#/components/schemas/Attainment" in json.dumps(goal["attainment"])
        params = {p["name"] for p in paths["/api/v1/agreements/"]["get"]["parameters"]}
        assert {"q", "kind", "status", "region", "field", "organization", "public", "page", "format"} <= params
        assert "400" in paths["/api/v1/agreements/{uuid}/transition/"]["post"]["responses"]

    def test_schema_without_warnings(self, tmp_path, settings):
        from django.core.management import call_command
        from drf_spectacular.plumbing import _load_enum_name_overrides

        overrides = {**ENUM_NAME_OVERRIDES, **settings.SPECTACULAR_SETTINGS.get("ENUM_NAME_OVERRIDES", {})}
        SCHEMA_SETTINGS["ENUM_NAME_OVERRIDES"] = overrides
        _load_enum_name_overrides.cache_clear()  # read once per language and cached
        try:
            # fails (SchemaGenerationError) on any drf-spectacular warning or an invalid schema
            call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"),
                         "--custom-settings", f"{__name__}.SCHEMA_SETTINGS")
        finally:
            _load_enum_name_overrides.cache_clear()


SCHEMA_SETTINGS: dict = {}  # spectacular's settings for test_schema_without_warnings (patched while it runs)
