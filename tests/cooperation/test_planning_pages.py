"""Pages of need reports (Bedarfsmeldungen) and cooperative planning
processes: lists, create/edit/withdraw, triage, a process's page with its
phases, participants, SWOT analysis, evidence and decisions.

Every URL is tried by every persona: anonymous visitors are sent to the login
page; viewers read (403 on writes); provider editor A (reporter of
``report_a``, participant of ``process``) works on its own organisation's
things; provider editor B does not see them (404, nothing changed); planners
do everything. Also the triage steps allowed and refused, the reporter seeing
the new status, phases only step by step, SWOT entries only by participants
for their own organisation, and query counts."""

import datetime
import re

import pytest
from django.test import Client
from django.utils import timezone

from cooperation.models import NeedReport, PlanningDecision, PlanningParticipant, PlanningProcess, SwotEntry
from tests.factories import (
    AgreementFactory,
    FieldOfActionFactory,
    IndicatorFactory,
    MembershipFactory,
    NeedReportFactory,
    OrganizationFactory,
    PlanningParticipantFactory,
    PlanningProcessFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NEEDS = "/kooperation/bedarfsmeldungen"
PLANS = "/kooperation/planungen"


def client_for(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def text(html) -> str:
    if not isinstance(html, str):
        html = html.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ").strip()


def error_of(response, field_id) -> str:
    """The error list shown next to the field with ``field_id``."""
    found = re.search(rf'<ul class="errorlist" id="{field_id}_error">(.*?)</ul>', response.content.decode(), re.S)
    return text(found.group(1)) if found else ""


@pytest.fixture
def field_a(db):
    return FieldOfActionFactory(key="test-jugend", name="Testjugendhilfe")


@pytest.fixture
def world(tree, org_a, org_b, field_a):
    """Report A of org A (new) and report B of org B; ``process`` with org A
    and org B taking part, ``process_b`` with org B only."""
    report_a = NeedReportFactory(reporter=org_a, region=tree["P11"], field=field_a, title="Wartezeit Erziehungsberatung")
    report_b = NeedReportFactory(reporter=org_b, region=tree["P21"], field=field_a, title="Kein Jugendtreff im Süden")
    process = PlanningProcessFactory(title="Jugend Nord", regions=[tree["D1"]], fields=[field_a])
    part_a = PlanningParticipantFactory(process=process, organization=org_a)
    part_b = PlanningParticipantFactory(process=process, organization=org_b, role="expert")
    process_b = PlanningProcessFactory(title="Jugend Süd", regions=[tree["D2"]], fields=[field_a])
    PlanningParticipantFactory(process=process_b, organization=org_b)
    swot_a = SwotEntry.objects.create(process=process, organization=org_a, quadrant="strength", text="Gute Vernetzung")
    swot_b = SwotEntry.objects.create(process=process, organization=org_b, quadrant="threat", text="Fachkräftemangel")
    decision = PlanningDecision.objects.create(process=process, decided_on=datetime.date(2026, 3, 1),
                                               text="Streetwork ausbauen", responsible=org_a)
    return {"report_a": report_a, "report_b": report_b, "process": process, "process_b": process_b,
            "part_a": part_a, "part_b": part_b, "swot_a": swot_a, "swot_b": swot_b, "decision": decision,
            "tree": tree, "org_a": org_a, "org_b": org_b, "field": field_a}


def login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/anmelden/")


# --- Every URL, every persona ---------------------------------------------------------------

GET_PAGES = {
    # page: url builder, expected status per persona
    "needreport-list": (lambda w: f"{NEEDS}/",
                        {"viewer": 200, "provider_editor_a": 200, "provider_editor_b": 200, "planner": 200}),
    "needreport-create": (lambda w: f"{NEEDS}/neu/",
                          {"viewer": 403, "provider_editor_a": 200, "provider_editor_b": 200, "planner": 200}),
    "needreport-detail": (lambda w: f"{NEEDS}/{w['report_a'].uuid}/",
                          {"viewer": 200, "provider_editor_a": 200, "provider_editor_b": 404, "planner": 200}),
    "needreport-update": (lambda w: f"{NEEDS}/{w['report_a'].uuid}/bearbeiten/",
                          {"viewer": 403, "provider_editor_a": 200, "provider_editor_b": 404, "planner": 200}),
    "needreport-delete": (lambda w: f"{NEEDS}/{w['report_a'].uuid}/zurueckziehen/",
                          {"viewer": 403, "provider_editor_a": 200, "provider_editor_b": 404, "planner": 200}),
    "planning-list": (lambda w: f"{PLANS}/",
                      {"viewer": 200, "provider_editor_a": 200, "provider_editor_b": 200, "planner": 200}),
    "planning-create": (lambda w: f"{PLANS}/neu/",
                        {"viewer": 403, "provider_editor_a": 403, "provider_editor_b": 403, "planner": 200}),
    "planning-detail": (lambda w: f"{PLANS}/{w['process_b'].uuid}/",
                        {"viewer": 200, "provider_editor_a": 404, "provider_editor_b": 200, "planner": 200}),
    "planning-update": (lambda w: f"{PLANS}/{w['process_b'].uuid}/bearbeiten/",
                        {"viewer": 403, "provider_editor_a": 404, "provider_editor_b": 403, "planner": 200}),
}


class TestGetPages:
    @pytest.mark.parametrize("page", GET_PAGES)
    def test_anonymous_goes_to_login(self, world, page):
        url = GET_PAGES[page][0](world)
        assert login_redirect(Client().get(url))

    @pytest.mark.parametrize("persona", ["viewer", "provider_editor_a", "provider_editor_b", "planner"])
    @pytest.mark.parametrize("page", GET_PAGES)
    def test_persona(self, world, personas, page, persona):
        build, expected = GET_PAGES[page]
        response = client_for(personas[persona]).get(build(world))
        assert response.status_code == expected[persona]


def post_actions(w):
    """(name, url, data, a check that the change happened, persona → status)."""
    process, report = w["process"], w["report_a"]
    return {
        "needreport-triage": (
            f"{NEEDS}/{report.uuid}/bearbeitung/", {"to": "in_review"},
            lambda: NeedReport.objects.get(pk=report.pk).status == "in_review",
            {"viewer": 403, "provider_editor_a": 403, "provider_editor_b": 404, "planner": 302}),
        "needreport-delete": (
            f"{NEEDS}/{report.uuid}/zurueckziehen/", {},
            lambda: not NeedReport.objects.filter(pk=report.pk).exists(),
            {"viewer": 403, "provider_editor_a": 302, "provider_editor_b": 404, "planner": 302}),
        "needreport-update": (
            f"{NEEDS}/{report.uuid}/bearbeiten/",
            {"reporter": w["org_a"].pk, "region": w["tree"]["P12"].pk, "field": w["field"].pk, "title": "Geändert",
             "description": "Neu beschrieben."},
            lambda: NeedReport.objects.get(pk=report.pk).title == "Geändert",
            {"viewer": 403, "provider_editor_a": 302, "provider_editor_b": 404, "planner": 302}),
        "planning-phase": (
            f"{PLANS}/{process.uuid}/phase/", {"to": "analysis"},
            lambda: PlanningProcess.objects.get(pk=process.pk).phase == "analysis",
            {"viewer": 403, "provider_editor_a": 403, "provider_editor_b": 403, "planner": 302}),
        "planning-participant-create": (
            f"{PLANS}/{process.uuid}/beteiligte/",
            {"beteiligung-organization": w["extra_org"].pk, "beteiligung-role": "participant",
             "beteiligung-joins_in": "analysis"},
            lambda: PlanningParticipant.objects.filter(process=process, organization=w["extra_org"]).exists(),
            {"viewer": 403, "provider_editor_a": 403, "provider_editor_b": 403, "planner": 302}),
        "planning-participant-delete": (
            f"{PLANS}/{process.uuid}/beteiligte/{w['part_b'].pk}/entfernen/", {},
            lambda: not PlanningParticipant.objects.filter(pk=w["part_b"].pk).exists(),
            {"viewer": 403, "provider_editor_a": 403, "provider_editor_b": 403, "planner": 302}),
        "planning-swot-create": (
            f"{PLANS}/{process.uuid}/swot/",
            {"swot-organization": w["org_a"].pk, "swot-quadrant": "opportunity", "swot-text": "Neue Schule"},
            lambda: SwotEntry.objects.filter(process=process, text="Neue Schule").exists(),
            {"viewer": 403, "provider_editor_a": 302, "provider_editor_b": 200, "planner": 302}),
        "planning-swot-delete": (
            f"{PLANS}/{process.uuid}/swot/{w['swot_a'].pk}/loeschen/", {},
            lambda: not SwotEntry.objects.filter(pk=w["swot_a"].pk).exists(),
            {"viewer": 403, "provider_editor_a": 302, "provider_editor_b": 403, "planner": 302}),
        "planning-decision-create": (
            f"{PLANS}/{process.uuid}/beschluesse/",
            {"beschluss-decided_on": "2026-04-01", "beschluss-kind": "measure", "beschluss-text": "Treff eröffnen"},
            lambda: PlanningDecision.objects.filter(process=process, text="Treff eröffnen").exists(),
            {"viewer": 403, "provider_editor_a": 403, "provider_editor_b": 403, "planner": 302}),
        "planning-decision-delete": (
            f"{PLANS}/{process.uuid}/beschluesse/{w['decision'].pk}/loeschen/", {},
            lambda: not PlanningDecision.objects.filter(pk=w["decision"].pk).exists(),
            {"viewer": 403, "provider_editor_a": 403, "provider_editor_b": 403, "planner": 302}),
        "planning-update": (
            f"{PLANS}/{process.uuid}/bearbeiten/",
            {"title": "Jugend Nord 2", "regions": [w["tree"]["D1"].pk], "fields": [w["field"].pk],
             "mandate_goals": "Ziele"},
            lambda: PlanningProcess.objects.get(pk=process.pk).title == "Jugend Nord 2",
            {"viewer": 403, "provider_editor_a": 403, "provider_editor_b": 403, "planner": 302}),
    }


POST_ACTIONS = [
    "needreport-triage", "needreport-delete", "needreport-update", "planning-phase", "planning-participant-create",
    "planning-participant-delete", "planning-swot-create", "planning-swot-delete", "planning-decision-create",
    "planning-decision-delete", "planning-update",
]


@pytest.fixture
def world_x(world):
    world["extra_org"] = OrganizationFactory(name="Jugendamt Test", kind="public_funder")
    return world


class TestPostActions:
    """Each write: refused personas change nothing; the allowed one changes it.
    Provider B takes part in ``process`` (so sees it) but is not A: the SWOT
    form refuses A's organisation (shown again with the error, 200)."""

    @pytest.mark.parametrize("action", POST_ACTIONS)
    @pytest.mark.parametrize("persona", ["anonymous", "viewer", "provider_editor_a", "provider_editor_b", "planner"])
    def test_persona(self, world_x, personas, action, persona):
        url, data, changed, expected = post_actions(world_x)[action]
        response = client_for(personas[persona]).post(url, data)
        if persona == "anonymous":
            assert login_redirect(response)
            assert not changed()
            return
        assert response.status_code == expected[persona]
        assert changed() == (expected[persona] == 302)

    def test_provider_b_cannot_reach_a_process_it_does_not_take_part_in(self, world_x, provider_editor_b):
        """404 (not 403) for every action on a process B does not see."""
        process = PlanningProcessFactory(title="Nur A")
        PlanningParticipantFactory(process=process, organization=world_x["org_a"])
        entry = SwotEntry.objects.create(process=process, organization=world_x["org_a"], quadrant="weakness", text="x")
        client = client_for(provider_editor_b)
        for url, data in [
            (f"{PLANS}/{process.uuid}/", None),
            (f"{PLANS}/{process.uuid}/phase/", {"to": "analysis"}),
            (f"{PLANS}/{process.uuid}/abschluss/", {}),
            (f"{PLANS}/{process.uuid}/swot/", {"swot-organization": world_x["org_b"].pk, "swot-quadrant": "threat",
                                               "swot-text": "y"}),
            (f"{PLANS}/{process.uuid}/swot/{entry.pk}/loeschen/", {}),
            (f"{PLANS}/{process.uuid}/beschluesse/", {}),
        ]:
            response = client.get(url) if data is None else client.post(url, data)
            assert response.status_code == 404, url
        assert SwotEntry.objects.filter(process=process).count() == 1


# --- Need reports -----------------------------------------------------------------------------


class TestNeedReportList:
    def test_provider_sees_own_reports_with_status(self, world, provider_editor_a):
        NeedReport.objects.filter(pk=world["report_a"].pk).update(status="declined", decline_reason="Schon versorgt")
        page = text(client_for(provider_editor_a).get(f"{NEEDS}/"))
        assert "Wartezeit Erziehungsberatung" in page and "abgelehnt" in page
        assert "Kein Jugendtreff im Süden" not in page
        assert "unbearbeitet seit" not in page

    def test_planner_sees_all_with_waiting_time(self, world, planner, settings):
        settings.REMINDER_NEED_REPORT_DAYS = 14
        noon = datetime.datetime.combine(timezone.localdate() - datetime.timedelta(days=20), datetime.time(12))
        NeedReport.objects.filter(pk=world["report_b"].pk).update(created_at=timezone.make_aware(noon))
        response = client_for(planner).get(f"{NEEDS}/")
        page = text(response)
        assert "Wartezeit Erziehungsberatung" in page and "Kein Jugendtreff im Süden" in page
        assert "unbearbeitet seit" in page
        assert "20 Tagen überfällig" in page
        assert re.search(r"Wartezeit Erziehungsberatung .* neu heute", page)  # reported today, not overdue
        assert page.count("überfällig") == 2  # the badge of B and the note below the table

    def test_filters(self, world, planner):
        client = client_for(planner)
        by_status = text(client.get(f"{NEEDS}/", {"status": "new"}))
        assert "Wartezeit" in by_status
        NeedReport.objects.filter(pk=world["report_a"].pk).update(status="in_review")
        assert "Wartezeit" not in text(client.get(f"{NEEDS}/", {"status": "new"}))
        by_region = text(client.get(f"{NEEDS}/", {"region": "D2"}))
        assert "Kein Jugendtreff" in by_region and "Wartezeit" not in by_region
        by_reporter = text(client.get(f"{NEEDS}/", {"reporter": str(world["org_a"].uuid)}))
        assert "Wartezeit" in by_reporter and "Kein Jugendtreff" not in by_reporter
        by_text = text(client.get(f"{NEEDS}/", {"q": "jugendtreff"}))
        assert "Kein Jugendtreff" in by_text and "Wartezeit" not in by_text
        by_field = text(client.get(f"{NEEDS}/", {"field": "test-andere"}))
        assert "Keine Bedarfsmeldungen zu diesem Filter." in by_field


class TestNeedReportCreate:
    def data(self, world, **changes):
        data = {"reporter": world["org_a"].pk, "region": world["tree"]["P12"].pk, "field": world["field"].pk,
                "title": "Fehlende Sprachkurse", "description": "Für Eltern mit kleinen Kindern.",
                "evidence": "Warteliste mit 40 Familien."}
        data.update(changes)
        return data

    def test_form_shows_privacy_hint(self, world, provider_editor_a):
        page = text(client_for(provider_editor_a).get(f"{NEEDS}/neu/"))
        assert "keine personenbezogenen Daten von Klientinnen und Klienten" in page

    def test_provider_reports_for_own_organisation(self, world, provider_editor_a):
        response = client_for(provider_editor_a).post(f"{NEEDS}/neu/", self.data(world))
        report = NeedReport.objects.get(title="Fehlende Sprachkurse")
        assert response.status_code == 302 and response["Location"] == f"{NEEDS}/{report.uuid}/"
        assert report.reporter == world["org_a"] and report.status == "new"
        assert report.created_by == provider_editor_a

    def test_provider_cannot_report_for_another_organisation(self, world, provider_editor_a):
        response = client_for(provider_editor_a).post(f"{NEEDS}/neu/", self.data(world, reporter=world["org_b"].pk))
        assert response.status_code == 200
        assert "Bitte eine Organisation wählen, für die Sie melden dürfen." in error_of(response, "id_reporter")
        assert not NeedReport.objects.filter(title="Fehlende Sprachkurse").exists()

    def test_planner_reports_for_any_organisation(self, world, planner):
        response = client_for(planner).post(f"{NEEDS}/neu/", self.data(world, reporter=world["org_b"].pk))
        assert response.status_code == 302
        assert NeedReport.objects.get(title="Fehlende Sprachkurse").reporter == world["org_b"]

    def test_missing_fields_are_named(self, world, provider_editor_a):
        response = client_for(provider_editor_a).post(f"{NEEDS}/neu/", self.data(world, title="", region=""))
        assert response.status_code == 200
        assert "Bitte den Bedarf kurz benennen." in error_of(response, "id_title")
        assert "Bitte den Raum wählen." in error_of(response, "id_region")
        assert "Bitte 2 Angaben korrigieren." in text(response)

    def test_viewer_and_provider_reader_cannot_report(self, world, viewer, org_a):
        reader = UserFactory(username="reader_a")
        MembershipFactory(user=reader, organization=org_a, role="viewer")
        for user in (viewer, reader):
            assert client_for(user).post(f"{NEEDS}/neu/", self.data(world)).status_code == 403
        assert not NeedReport.objects.filter(title="Fehlende Sprachkurse").exists()


class TestNeedReportEditAfterTriage:
    @pytest.mark.parametrize("status", ["in_review", "planned", "declined"])
    def test_reporter_can_no_longer_change_or_withdraw(self, world, provider_editor_a, status):
        report = world["report_a"]
        NeedReport.objects.filter(pk=report.pk).update(status=status, decline_reason="Grund")
        client = client_for(provider_editor_a)
        assert client.get(f"{NEEDS}/{report.uuid}/bearbeiten/").status_code == 403
        assert client.post(f"{NEEDS}/{report.uuid}/zurueckziehen/").status_code == 403
        page = client.get(f"{NEEDS}/{report.uuid}/")
        assert 'href="/kooperation/bedarfsmeldungen/%s/bearbeiten/"' % report.uuid not in page.content.decode()
        assert NeedReport.objects.filter(pk=report.pk).exists()

    def test_planner_can_always_change(self, world, planner):
        report = world["report_a"]
        NeedReport.objects.filter(pk=report.pk).update(status="planned")
        assert client_for(planner).get(f"{NEEDS}/{report.uuid}/bearbeiten/").status_code == 200

    def test_new_report_offers_edit_and_withdraw_to_reporter(self, world, provider_editor_a):
        page = client_for(provider_editor_a).get(f"{NEEDS}/{world['report_a'].uuid}/").content.decode()
        assert f"{NEEDS}/{world['report_a'].uuid}/bearbeiten/" in page
        assert f"{NEEDS}/{world['report_a'].uuid}/zurueckziehen/" in page
        assert "Bearbeitung durch die Planung" not in page  # no triage forms for providers


class TestTriage:
    def post(self, user, report, **data):
        return client_for(user).post(f"{NEEDS}/{report.uuid}/bearbeitung/", data)

    def test_planner_sees_the_next_steps(self, world, planner):
        page = text(client_for(planner).get(f"{NEEDS}/{world['report_a'].uuid}/"))
        assert "In Prüfung nehmen" in page and "In die Planung übernehmen" in page and "Ablehnen" in page
        assert "Zurück auf „neu“ setzen" not in page

    def test_review_then_plan_into_a_process(self, world, planner):
        report, process = world["report_a"], world["process"]
        assert self.post(planner, report, to="in_review").status_code == 302
        report.refresh_from_db()
        assert report.status == "in_review" and report.triaged_by == planner and report.triaged_at is not None
        response = self.post(planner, report, **{"to": "planned", "triage-planned-process": process.pk})
        assert response.status_code == 302
        report.refresh_from_db()
        assert report.status == "planned"
        assert list(process.need_reports.all()) == [report]

    def test_decline_without_reason_is_refused_next_to_the_field(self, world, planner):
        report = world["report_a"]
        response = self.post(planner, report, **{"to": "declined", "triage-declined-reason": "  "})
        assert response.status_code == 200
        assert "Bitte begründen Sie die Ablehnung." in error_of(response, "id_triage-declined-reason")
        report.refresh_from_db()
        assert report.status == "new" and report.decline_reason == ""

    def test_decline_with_reason_is_seen_by_the_reporter(self, world, planner, provider_editor_a):
        report = world["report_a"]
        response = self.post(planner, report, **{"to": "declined", "triage-declined-reason": "Angebot besteht schon."})
        assert response.status_code == 302
        report.refresh_from_db()
        assert report.status == "declined" and report.decline_reason == "Angebot besteht schon."
        page = text(client_for(provider_editor_a).get(f"{NEEDS}/{report.uuid}/"))
        assert "abgelehnt" in page and "Angebot besteht schon." in page
        assert "Begründung der Ablehnung" in page
        listing = text(client_for(provider_editor_a).get(f"{NEEDS}/"))
        assert "abgelehnt" in listing

    def test_history_shows_the_status_change(self, world, planner, provider_editor_a):
        report = world["report_a"]
        self.post(planner, report, to="in_review")
        page = client_for(provider_editor_a).get(f"{NEEDS}/{report.uuid}/").content.decode()
        history = text(page.split('id="history-heading"')[1])
        assert re.search(r"Status neu in Prüfung", history)
        assert "planner" in history

    def test_declined_report_can_be_reviewed_again(self, world, planner):
        report = world["report_a"]
        NeedReport.objects.filter(pk=report.pk).update(status="declined", decline_reason="x")
        assert self.post(planner, report, to="in_review").status_code == 302
        report.refresh_from_db()
        assert report.status == "in_review" and report.decline_reason == ""

    @pytest.mark.parametrize("status, to", [("planned", "in_review"), ("planned", "declined"), ("new", "new"),
                                            ("declined", "planned"), ("new", "bogus")])
    def test_steps_not_allowed_are_refused(self, world, planner, status, to):
        report = world["report_a"]
        NeedReport.objects.filter(pk=report.pk).update(status=status, decline_reason="x" if status == "declined" else "")
        client = client_for(planner)
        response = client.post(f"{NEEDS}/{report.uuid}/bearbeitung/", {"to": to, "triage-declined-reason": "Grund"})
        assert response.status_code == 302
        report.refresh_from_db()
        assert report.status == status
        assert "geht es nicht" in text(client.get(response["Location"]))

    def test_closed_process_cannot_be_chosen(self, world, planner):
        report, process = world["report_a"], world["process"]
        PlanningProcess.objects.filter(pk=process.pk).update(closed=True)
        response = self.post(planner, report, **{"to": "planned", "triage-planned-process": process.pk})
        assert response.status_code == 200
        assert "laufenden Planungsprozess" in error_of(response, "id_triage-planned-process")
        report.refresh_from_db()
        assert report.status == "new"

    def test_provider_cannot_triage(self, world, provider_editor_a):
        report = world["report_a"]
        response = self.post(provider_editor_a, report, **{"to": "declined", "triage-declined-reason": "Grund"})
        assert response.status_code == 403
        report.refresh_from_db()
        assert report.status == "new"

    def test_detail_links_the_processes(self, world, planner, provider_editor_b):
        report = world["report_b"]
        world["process"].need_reports.add(report)
        page = client_for(provider_editor_b).get(f"{NEEDS}/{report.uuid}/").content.decode()
        assert f'href="{PLANS}/{world["process"].uuid}/"' in page


# --- Planning processes -----------------------------------------------------------------------


class TestPlanningList:
    def test_provider_sees_only_its_processes(self, world, provider_editor_a):
        page = text(client_for(provider_editor_a).get(f"{PLANS}/"))
        assert "Jugend Nord" in page and "Jugend Süd" not in page
        assert "Neuer Planungsprozess" not in page

    def test_planner_filters(self, world, planner):
        client = client_for(planner)
        page = text(client.get(f"{PLANS}/"))
        assert "Jugend Nord" in page and "Jugend Süd" in page and "Neuer Planungsprozess" in page
        by_region = text(client.get(f"{PLANS}/", {"region": "P21"}))
        assert "Jugend Süd" in by_region and "Jugend Nord" not in by_region
        by_org = text(client.get(f"{PLANS}/", {"organization": str(world["org_a"].uuid)}))
        assert "Jugend Nord" in by_org and "Jugend Süd" not in by_org
        PlanningProcess.objects.filter(pk=world["process"].pk).update(phase="analysis")
        by_phase = text(client.get(f"{PLANS}/", {"phase": "analysis"}))
        assert "Jugend Nord" in by_phase and "Jugend Süd" not in by_phase
        PlanningProcess.objects.filter(pk=world["process_b"].pk).update(phase="evaluation", closed=True)
        running = text(client.get(f"{PLANS}/", {"closed": "false"}))
        assert "Jugend Nord" in running and "Jugend Süd" not in running

    def test_participant_count_is_not_multiplied_by_filters(self, world, planner):
        other = FieldOfActionFactory(key="test-alter", name="Testalter")
        world["process"].fields.add(other)
        response = client_for(planner).get(f"{PLANS}/", {"organization": str(world["org_a"].uuid)})
        row = re.search(r"Jugend Nord</a></th>(.*?)</tr>", response.content.decode(), re.S).group(1)
        assert re.search(r'<td class="num">2</td>', row)


class TestPlanningEdit:
    def test_planner_creates_with_mandate_and_evidence(self, world, planner):
        indicator = IndicatorFactory(key="test-arbeitslos", name="Arbeitslosigkeit")
        data = {"title": "Familien Mitte", "regions": [world["tree"]["P11"].pk, world["tree"]["P12"].pk],
                "fields": [world["field"].pk], "mandate_goals": "Familienzentren vernetzen",
                "mandate_provider_ask": "Bedarfe aus der Praxis", "indicators": [indicator.pk],
                "need_reports": [world["report_a"].pk, world["report_b"].pk]}
        response = client_for(planner).post(f"{PLANS}/neu/", data)
        process = PlanningProcess.objects.get(title="Familien Mitte")
        assert response.status_code == 302 and response["Location"] == f"{PLANS}/{process.uuid}/"
        assert set(process.regions.values_list("code", flat=True)) == {"P11", "P12"}
        assert list(process.indicators.all()) == [indicator]
        assert process.need_reports.count() == 2 and process.phase == "mandate" and process.created_by == planner
        page = text(client_for(planner).get(f"{PLANS}/{process.uuid}/"))
        assert "Familienzentren vernetzen" in page and "Bedarfe aus der Praxis" in page
        assert "Arbeitslosigkeit (test-arbeitslos)" in page
        assert "Wartezeit Erziehungsberatung" in page and "Kein Jugendtreff im Süden" in page

    def test_required_fields(self, world, planner):
        response = client_for(planner).post(f"{PLANS}/neu/", {"title": "", "mandate_goals": ""})
        assert response.status_code == 200
        assert "Bitte den Titel angeben." in error_of(response, "id_title")
        assert "Bitte mindestens einen Raum wählen." in error_of(response, "id_regions")
        assert "Bitte mindestens ein Handlungsfeld wählen." in error_of(response, "id_fields")
        assert "Bitte angeben, was erreicht werden soll." in error_of(response, "id_mandate_goals")
        assert not PlanningProcess.objects.filter(title="").exists()


class TestPhases:
    def page(self, user, process):
        return client_for(user).get(f"{PLANS}/{process.uuid}/").content.decode()

    def test_current_phase_is_marked(self, world, provider_editor_a):
        PlanningProcess.objects.filter(pk=world["process"].pk).update(phase="goals")
        html = self.page(provider_editor_a, world["process"])
        phases = re.search(r'<ol class="phases">(.*?)</ol>', html, re.S).group(1)
        items = re.findall(r"<li(.*?)</li>", phases, re.S)
        assert [text("<li" + i) for i in items] == [
            "Auftragsklärung (durchlaufen)", "Analyse (durchlaufen)", "Ziele (aktuelle Phase)", "Maßnahmen",
            "Umsetzung", "Bewertung"]
        assert phases.count('aria-current="step"') == 1
        assert re.search(r'<li aria-current="step"><strong>Ziele</strong>', phases)
        assert "Weiter zu" not in html  # providers get no buttons

    def test_planner_moves_one_step_at_a_time(self, world, planner):
        process = world["process"]
        client = client_for(planner)
        html = self.page(planner, process)
        assert "Weiter zu „Analyse“" in text(html) and "Zurück zu" not in text(html)
        assert client.post(f"{PLANS}/{process.uuid}/phase/", {"to": "goals"}).status_code == 302
        process.refresh_from_db()
        assert process.phase == "mandate"  # no jumping
        assert client.post(f"{PLANS}/{process.uuid}/phase/", {"to": "analysis"}).status_code == 302
        assert client.post(f"{PLANS}/{process.uuid}/phase/", {"to": "goals"}).status_code == 302
        process.refresh_from_db()
        assert process.phase == "goals"
        assert client.post(f"{PLANS}/{process.uuid}/phase/", {"to": "analysis"}).status_code == 302
        process.refresh_from_db()
        assert process.phase == "analysis"
        response = client.post(f"{PLANS}/{process.uuid}/phase/", {"to": "evaluation"}, follow=True)
        assert "Phasen werden nacheinander durchlaufen" in text(response)
        history = text(self.page(planner, process).split('id="history-heading"')[1])
        assert "Phase Ziele Analyse" in history

    def test_close_only_after_evaluation_and_reopen(self, world, planner):
        process = world["process"]
        client = client_for(planner)
        response = client.post(f"{PLANS}/{process.uuid}/abschluss/", follow=True)
        assert "Abgeschlossen wird nach der Bewertung." in text(response)
        process.refresh_from_db()
        assert not process.closed
        PlanningProcess.objects.filter(pk=process.pk).update(phase="evaluation")
        assert "Planungsprozess abschließen" in text(self.page(planner, process))
        client.post(f"{PLANS}/{process.uuid}/abschluss/")
        process.refresh_from_db()
        assert process.closed
        html = text(self.page(planner, process))
        assert "Wieder öffnen" in html and "Zurück zu" not in html
        response = client.post(f"{PLANS}/{process.uuid}/phase/", {"to": "implementation"}, follow=True)
        assert "Der Planungsprozess ist abgeschlossen." in text(response)
        client.post(f"{PLANS}/{process.uuid}/abschluss/", {"reopen": "1"})
        process.refresh_from_db()
        assert not process.closed and process.phase == "evaluation"

    def test_provider_cannot_close(self, world, provider_editor_a):
        PlanningProcess.objects.filter(pk=world["process"].pk).update(phase="evaluation")
        response = client_for(provider_editor_a).post(f"{PLANS}/{world['process'].uuid}/abschluss/")
        assert response.status_code == 403
        assert not PlanningProcess.objects.get(pk=world["process"].pk).closed


class TestParticipants:
    def test_added_organisation_then_sees_the_process(self, world_x, planner, org_b):
        process = world_x["process_b"]
        user = UserFactory(username="amt")
        MembershipFactory(user=user, organization=world_x["extra_org"], role="editor")
        assert client_for(user).get(f"{PLANS}/{process.uuid}/").status_code == 404
        response = client_for(planner).post(f"{PLANS}/{process.uuid}/beteiligte/", {
            "beteiligung-organization": world_x["extra_org"].pk, "beteiligung-role": "lead",
            "beteiligung-joins_in": "goals"})
        assert response.status_code == 302
        page = text(client_for(user).get(f"{PLANS}/{process.uuid}/"))
        assert "Jugendamt Test Federführung Ziele" in page

    def test_an_organisation_takes_part_once(self, world, planner):
        response = client_for(planner).post(f"{PLANS}/{world['process'].uuid}/beteiligte/", {
            "beteiligung-organization": world["org_a"].pk, "beteiligung-role": "participant",
            "beteiligung-joins_in": "mandate"})
        assert response.status_code == 200
        assert "noch nicht beteiligt" in error_of(response, "id_beteiligung-organization")
        assert PlanningParticipant.objects.filter(process=world["process"], organization=world["org_a"]).count() == 1

    def test_a_participant_of_another_process_is_404(self, world, planner):
        other = PlanningParticipant.objects.get(process=world["process_b"])
        response = client_for(planner).post(f"{PLANS}/{world['process'].uuid}/beteiligte/{other.pk}/entfernen/")
        assert response.status_code == 404 and PlanningParticipant.objects.filter(pk=other.pk).exists()


class TestSwot:
    def post(self, user, process, org, quadrant="weakness", text_="Zu wenig Räume"):
        return client_for(user).post(f"{PLANS}/{process.uuid}/swot/", {
            "swot-organization": org.pk, "swot-quadrant": quadrant, "swot-text": text_})

    def test_four_sections_with_contributors(self, world, viewer):
        html = client_for(viewer).get(f"{PLANS}/{world['process'].uuid}/").content.decode()
        swot = html.split('id="swot"')[1].split('id="evidence-heading"')[0]
        headings = [text(h) for h in re.findall(r"<h3[^>]*>(.*?)</h3>", swot, re.S)]
        assert headings == ["Stärken (1)", "Schwächen (0)", "Chancen (0)", "Risiken (1)"]
        assert "Gute Vernetzung – Träger A e. V." in text(swot)
        assert "Fachkräftemangel – Träger B gGmbH" in text(swot)
        assert "Eintrag hinzufügen" not in swot  # a viewer contributes nothing

    def test_participant_adds_for_its_own_organisation(self, world, provider_editor_a):
        response = self.post(provider_editor_a, world["process"], world["org_a"])
        assert response.status_code == 302
        entry = SwotEntry.objects.get(text="Zu wenig Räume")
        assert entry.organization == world["org_a"] and entry.quadrant == "weakness"
        assert entry.created_by == provider_editor_a

    def test_participant_cannot_add_for_another_participant(self, world, provider_editor_a):
        response = self.post(provider_editor_a, world["process"], world["org_b"])
        assert response.status_code == 200
        assert "für die Sie beitragen dürfen" in error_of(response, "id_swot-organization")
        assert not SwotEntry.objects.filter(text="Zu wenig Räume").exists()

    def test_form_offers_only_own_organisation(self, world, provider_editor_a, planner):
        html = client_for(provider_editor_a).get(f"{PLANS}/{world['process'].uuid}/").content.decode()
        select = re.search(r'<select name="swot-organization".*?</select>', html, re.S).group(0)
        assert "Träger A e. V." in select and "Träger B" not in select
        html = client_for(planner).get(f"{PLANS}/{world['process'].uuid}/").content.decode()
        select = re.search(r'<select name="swot-organization".*?</select>', html, re.S).group(0)
        assert "Träger A e. V." in select and "Träger B gGmbH" in select

    def test_reader_of_a_participant_cannot_add(self, world, org_a):
        reader = UserFactory(username="reader_a")
        MembershipFactory(user=reader, organization=org_a, role="viewer")
        assert client_for(reader).get(f"{PLANS}/{world['process'].uuid}/").status_code == 200
        assert self.post(reader, world["process"], org_a).status_code == 403
        assert not SwotEntry.objects.filter(text="Zu wenig Räume").exists()

    def test_planner_adds_for_any_participant_but_not_others(self, world_x, planner):
        assert self.post(planner, world_x["process"], world_x["org_b"]).status_code == 302
        response = self.post(planner, world_x["process"], world_x["extra_org"], text_="Nicht beteiligt")
        assert response.status_code == 200
        assert not SwotEntry.objects.filter(text="Nicht beteiligt").exists()

    def test_empty_text_is_refused(self, world, provider_editor_a):
        response = self.post(provider_editor_a, world["process"], world["org_a"], text_="   ")
        assert response.status_code == 200
        assert "Bitte den Eintrag formulieren." in error_of(response, "id_swot-text")

    def test_closed_process_takes_no_entries(self, world, provider_editor_a):
        PlanningProcess.objects.filter(pk=world["process"].pk).update(phase="evaluation", closed=True)
        html = client_for(provider_editor_a).get(f"{PLANS}/{world['process'].uuid}/").content.decode()
        assert "Eintrag hinzufügen" not in html and "swot/%d/loeschen" % world["swot_a"].pk not in html
        assert self.post(provider_editor_a, world["process"], world["org_a"]).status_code == 403
        response = client_for(provider_editor_a).post(f"{PLANS}/{world['process'].uuid}/swot/{world['swot_a'].pk}/loeschen/")
        assert response.status_code == 403 and SwotEntry.objects.filter(pk=world["swot_a"].pk).exists()

    def test_delete_buttons_only_on_own_entries(self, world, provider_editor_a):
        html = client_for(provider_editor_a).get(f"{PLANS}/{world['process'].uuid}/").content.decode()
        assert f"swot/{world['swot_a'].pk}/loeschen/" in html
        assert f"swot/{world['swot_b'].pk}/loeschen/" not in html


class TestDecisions:
    def test_planner_adds_with_agreement_and_responsible(self, world, planner, provider_editor_b):
        agreement = AgreementFactory(title="Kooperation Streetwork")
        response = client_for(planner).post(f"{PLANS}/{world['process'].uuid}/beschluesse/", {
            "beschluss-decided_on": "2026-05-04", "beschluss-kind": "agreement", "beschluss-text": "Vertrag schließen",
            "beschluss-agreement": agreement.pk, "beschluss-responsible": world["org_b"].pk})
        assert response.status_code == 302
        decision = PlanningDecision.objects.get(text="Vertrag schließen")
        assert decision.agreement == agreement and decision.responsible == world["org_b"]
        page = text(client_for(planner).get(f"{PLANS}/{world['process'].uuid}/"))
        assert "04.05.2026 Vereinbarung Vertrag schließen Kooperation Streetwork Träger B gGmbH" in page
        # provider B is no party to the agreement: its title is not shown
        page_b = text(client_for(provider_editor_b).get(f"{PLANS}/{world['process'].uuid}/"))
        assert "Vertrag schließen" in page_b and "Kooperation Streetwork" not in page_b
        assert "(nicht einsehbar)" in page_b

    def test_missing_text_and_date(self, world, planner):
        response = client_for(planner).post(f"{PLANS}/{world['process'].uuid}/beschluesse/", {
            "beschluss-decided_on": "", "beschluss-kind": "measure", "beschluss-text": ""})
        assert response.status_code == 200
        assert "Bitte das Datum des Beschlusses angeben." in error_of(response, "id_beschluss-decided_on")
        assert "Bitte den Beschluss oder die Maßnahme beschreiben." in error_of(response, "id_beschluss-text")

    def test_decision_of_another_process_is_404(self, world, planner):
        other = PlanningDecision.objects.create(process=world["process_b"], decided_on=datetime.date(2026, 1, 1),
                                                text="Anderer")
        response = client_for(planner).post(f"{PLANS}/{world['process'].uuid}/beschluesse/{other.pk}/loeschen/")
        assert response.status_code == 404 and PlanningDecision.objects.filter(pk=other.pk).exists()


# --- Query counts -------------------------------------------------------------------------------


@pytest.fixture
def many(world, tree, org_a, org_b):
    """30 reports of A, 30 processes with A taking part (regions, fields,
    participants), 40 SWOT entries and 10 decisions on ``process``."""
    field = world["field"]
    for i in range(30):
        NeedReportFactory(reporter=org_a, region=tree["P12"], field=field, title=f"Bedarf {i:02d}")
        process = PlanningProcessFactory(title=f"Planung {i:02d}", regions=[tree["P11"], tree["P12"]], fields=[field])
        PlanningParticipantFactory(process=process, organization=org_a)
        PlanningParticipantFactory(process=process, organization=OrganizationFactory())
        process.need_reports.add(world["report_a"])
    for i in range(40):
        SwotEntry.objects.create(process=world["process"], organization=org_a if i % 2 else org_b,
                                 quadrant=["strength", "weakness", "opportunity", "threat"][i % 4], text=f"Punkt {i}")
    for i in range(10):
        PlanningDecision.objects.create(process=world["process"], decided_on=datetime.date(2026, 1, 1 + i),
                                        text=f"Maßnahme {i}", responsible=org_b, agreement=AgreementFactory())
    world["process"].indicators.add(IndicatorFactory(key="test-ind"))
    world["process"].need_reports.add(world["report_a"], world["report_b"])
    return world


class TestQueryCounts:
    """Each page loads what it shows in a fixed number of queries, however
    many rows there are."""

    @pytest.mark.parametrize("persona, page, limit", [
        ("planner", "needreport-list", 9),
        ("provider_editor_a", "needreport-list", 11),
        ("planner", "needreport-detail", 13),
        ("provider_editor_a", "needreport-detail", 14),
        ("planner", "planning-list", 11),
        ("provider_editor_a", "planning-list", 13),
        ("planner", "planning-detail", 22),
        ("provider_editor_a", "planning-detail", 21),
        ("viewer", "planning-detail", 16),
    ])
    def test_pages(self, many, personas, persona, page, limit, django_assert_max_num_queries):
        url = {
            "needreport-list": f"{NEEDS}/",
            "needreport-detail": f"{NEEDS}/{many['report_a'].uuid}/",
            "planning-list": f"{PLANS}/",
            "planning-detail": f"{PLANS}/{many['process'].uuid}/",
        }[page]
        client = client_for(personas[persona])
        with django_assert_max_num_queries(limit):
            response = client.get(url)
        assert response.status_code == 200

