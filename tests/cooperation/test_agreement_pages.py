"""Pages of agreements (Kooperations- und Leistungsvereinbarungen): list,
page, create/edit, parties, escalation steps, documents, outcome goals and the
lifecycle buttons.

Every URL is tried by every persona: anonymous visitors go to the login page,
viewers and region leads read (403 on writes), provider editor A works on the
agreement her organisation is a party to (and keeps its own party current),
provider editor B sees neither it nor its documents (404) but reads a public
agreement, planners do everything. The lifecycle is driven through the pages;
documents are checked by content and size and are never reachable by a
/media/ URL; the attainment of goals is shown from real Berlin figures (LOR,
Einwohnerregister 2022, MSS 2021); query counts are pinned on list and page."""

import csv
import datetime
import re
import shutil
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from cooperation import documents
from cooperation.choices import AgreementStatus as S
from cooperation.models import Agreement, AgreementDocument, AgreementParty, EscalationStep, Goal
from tests.conftest import BERLIN_DIR
from tests.factories import (
    AgreementFactory,
    AgreementPartyFactory,
    EscalationStepFactory,
    FieldOfActionFactory,
    GoalFactory,
    IndicatorFactory,
    IndicatorValueFactory,
    MembershipFactory,
    OrganizationFactory,
    ServiceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

BASE = "/kooperation/vereinbarungen"
TODAY = timezone.localdate()
PDF = b"%PDF-1.4\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 40 + b"%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 200
PERSONAS = ["planner", "region_lead", "viewer", "provider_editor_a", "provider_editor_b"]


def client_for(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def text(html) -> str:
    if not isinstance(html, str):
        html = html.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ").strip()


@pytest.fixture(autouse=True)
def no_stray_files():
    """Uploaded documents are files below the private storage: remove those a
    test created (the rows are rolled back, files are not)."""
    root = Path(documents.AgreementDocument._meta.get_field("file").storage.location) / "agreements"
    before = set(root.iterdir()) if root.is_dir() else set()
    yield root
    if root.is_dir():
        for path in set(root.iterdir()) - before:
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def funder(db):
    return OrganizationFactory(name="Jugendamt Teststadt", kind="public_funder", umbrella="none")


@pytest.fixture
def funder_staff(funder):
    user = UserFactory(username="jugendamt")
    MembershipFactory(user=user, organization=funder, role="editor")
    return user


@pytest.fixture
def world(tree, org_a, org_b, funder):
    """A private agreement of org A (lead) and the funder with a step, a goal
    and a document; a public framework agreement with the funder only."""
    field = FieldOfActionFactory(key="test-jugend", name="Testjugendhilfe")
    service = ServiceFactory(organization=org_a, name="Jugendtreff Nord", fields=[field])
    agreement = AgreementFactory(
        title="Kooperation Nord", kind="cooperation", valid_from=TODAY, valid_until=TODAY + datetime.timedelta(days=365),
        regions=[tree["D1"]], fields=[field], services=[service], goals="Gemeinsam für die Jugend im Norden.",
        review_interval_months=12, next_review=TODAY + datetime.timedelta(days=200))
    party_a = AgreementPartyFactory(agreement=agreement, organization=org_a, role="lead", budget_share=D("60"),
                                    work_modes=["case_specific"], responsibilities="Offene Jugendarbeit",
                                    contact="nord@traeger-a.example", availability="Mo–Fr 9–15 Uhr")
    party_f = AgreementPartyFactory(agreement=agreement, organization=funder, role="funder", budget_share=D("12.5"))
    step = EscalationStepFactory(agreement=agreement, order=1, handled_by="Sozialraumteam", days=14)
    indicator = IndicatorFactory(key="test-kinder-hze", name="Kinder in Hilfen zur Erziehung", unit="Fälle",
                                 decimals=0)
    IndicatorValueFactory(indicator=indicator, region=tree["P11"], period="2022", value=100)
    IndicatorValueFactory(indicator=indicator, region=tree["P11"], period="2024", value=80)
    goal = GoalFactory(agreement=agreement, title="Weniger Hilfen zur Erziehung", indicator=indicator,
                       region=tree["P11"], target_value=60, target_date=datetime.date(2028, 12, 31))
    document = documents.add_document(agreement, SimpleUploadedFile("vertrag.pdf", PDF), title="Vertrag",
                                      kind="contract", user=None)
    public = AgreementFactory(title="Rahmenvertrag Stadt", kind="framework", public=True, valid_from=TODAY)
    public_party = AgreementPartyFactory(agreement=public, organization=funder, role="funder")
    public_document = documents.add_document(public, SimpleUploadedFile("rahmen.pdf", PDF), title="Rahmen",
                                             kind="contract", user=None)
    return {"agreement": agreement, "party_a": party_a, "party_f": party_f, "step": step, "goal": goal,
            "document": document, "public": public, "public_party": public_party,
            "public_document": public_document, "indicator": indicator, "tree": tree, "field": field,
            "service": service, "org_a": org_a, "org_b": org_b, "funder": funder}


def urls(w, public=False) -> dict[str, str]:
    a = w["public"] if public else w["agreement"]
    party = w["public_party"] if public else w["party_a"]
    doc = w["public_document"] if public else w["document"]
    base = f"{BASE}/{a.uuid}"
    out = {
        "agreement-list": f"{BASE}/",
        "agreement-create": f"{BASE}/neu/",
        "agreement-detail": f"{base}/",
        "agreement-update": f"{base}/bearbeiten/",
        "agreement-party-create": f"{base}/parteien/neu/",
        "agreement-party-update": f"{base}/parteien/{party.pk}/bearbeiten/",
        "agreement-party-delete": f"{base}/parteien/{party.pk}/entfernen/",
        "agreement-step-create": f"{base}/stufen/neu/",
        "agreement-document-create": f"{base}/dokumente/neu/",
        "agreement-document-download": f"{base}/dokumente/{doc.uuid}/",
        "agreement-document-delete": f"{base}/dokumente/{doc.uuid}/loeschen/",
        "agreement-transition": f"{base}/status/",
        "agreement-party-confirm": f"{base}/parteien/{party.pk}/bestaetigen/",
    }
    if not public:
        out.update({
            "agreement-party-update-funder": f"{base}/parteien/{w['party_f'].pk}/bearbeiten/",
            "agreement-step-delete": f"{base}/stufen/{w['step'].pk}/entfernen/",
            "agreement-goal-create": f"{base}/ziele/neu/",
            "agreement-goal-update": f"{base}/ziele/{w['goal'].pk}/bearbeiten/",
            "agreement-goal-delete": f"{base}/ziele/{w['goal'].pk}/loeschen/",
        })
    return out


# planner, region_lead, viewer, provider_editor_a (party, lead), provider_editor_b (not a party)
GET_CODES = {
    "agreement-list": (200, 200, 200, 200, 200),
    "agreement-create": (200, 403, 403, 403, 403),
    "agreement-detail": (200, 200, 200, 200, 404),
    "agreement-update": (200, 403, 403, 403, 404),
    "agreement-party-create": (200, 403, 403, 403, 404),
    "agreement-party-update": (200, 403, 403, 200, 404),
    "agreement-party-update-funder": (200, 403, 403, 403, 404),
    "agreement-party-delete": (200, 403, 403, 403, 404),
    "agreement-step-create": (200, 403, 403, 403, 404),
    "agreement-document-create": (200, 403, 403, 200, 404),
    "agreement-document-download": (200, 200, 200, 200, 404),
    "agreement-document-delete": (200, 403, 403, 403, 404),
    "agreement-goal-create": (200, 403, 403, 403, 404),
    "agreement-goal-update": (200, 403, 403, 403, 404),
    "agreement-goal-delete": (200, 403, 403, 403, 404),
}
POST_ONLY = {"agreement-transition", "agreement-party-confirm", "agreement-step-delete"}
# writes by the personas that must be refused: (url name, persona) → status
REFUSED_POSTS = {
    (name, persona): code
    for name, codes in GET_CODES.items() if name not in ("agreement-list", "agreement-detail",
                                                         "agreement-document-download")
    for persona, code in zip(PERSONAS, codes, strict=True) if code != 200
}
REFUSED_POSTS.update({
    ("agreement-transition", "region_lead"): 403, ("agreement-transition", "viewer"): 403,
    ("agreement-transition", "provider_editor_b"): 404,
    ("agreement-party-confirm", "planner"): 403, ("agreement-party-confirm", "region_lead"): 403,
    ("agreement-party-confirm", "viewer"): 403, ("agreement-party-confirm", "provider_editor_b"): 404,
    ("agreement-step-delete", "region_lead"): 403, ("agreement-step-delete", "viewer"): 403,
    ("agreement-step-delete", "provider_editor_a"): 403, ("agreement-step-delete", "provider_editor_b"): 404,
})


def snapshot():
    return (
        list(Agreement.objects.order_by("pk").values_list("pk", "title", "status", "public")),
        list(AgreementParty.objects.order_by("pk").values_list(
            "pk", "organization_id", "role", "responsibilities", "budget_share", "confirmed_at")),
        list(EscalationStep.objects.order_by("pk").values_list("pk", "order", "handled_by")),
        list(AgreementDocument.objects.order_by("pk").values_list("pk", "title")),
        list(Goal.objects.order_by("pk").values_list("pk", "title", "target_value")),
    )


def full_post(w, name) -> dict:
    """A valid POST for each write URL (so a refusal is not a form error)."""
    f = w["field"]
    return {
        "agreement-create": {"title": "Neu", "kind": "service", "valid_from": "2026-01-01",
                             "review_interval_months": "12", "fields": [f.pk]},
        "agreement-update": {"title": "Umbenannt", "kind": "service", "valid_from": "2026-01-01",
                             "review_interval_months": "12"},
        "agreement-party-create": {"organization": w["org_b"].pk, "role": "partner"},
        "agreement-party-update": {"role": "partner", "responsibilities": "Alles", "budget_share": "5"},
        "agreement-party-update-funder": {"role": "partner", "responsibilities": "Alles", "budget_share": "5"},
        "agreement-step-create": {"stufe-order": "2", "stufe-handled_by": "Leitung", "stufe-days": "7"},
        "agreement-document-create": {"title": "Anlage", "kind": "annex",
                                      "file": SimpleUploadedFile("anlage.pdf", PDF)},
        "agreement-goal-create": {"title": "Ziel", "indicator": w["indicator"].pk, "region": w["tree"]["P11"].pk,
                                  "target_value": "50", "target_date": "2030-01-01"},
        "agreement-goal-update": {"title": "Ziel", "indicator": w["indicator"].pk, "region": w["tree"]["P11"].pk,
                                  "target_value": "50", "target_date": "2030-01-01"},
        "agreement-transition": {"to": S.NEGOTIATION},
    }.get(name, {})


class TestEveryUrlEveryPersona:
    @pytest.mark.parametrize("name", sorted(GET_CODES))
    @pytest.mark.parametrize("persona_index", range(len(PERSONAS)), ids=PERSONAS)
    def test_get(self, world, personas, name, persona_index):
        response = client_for(personas[PERSONAS[persona_index]]).get(urls(world)[name])
        assert response.status_code == GET_CODES[name][persona_index]

    @pytest.mark.parametrize(("name", "persona"), sorted(REFUSED_POSTS))
    def test_refused_posts_change_nothing(self, world, personas, name, persona):
        before = snapshot()
        response = client_for(personas[persona]).post(urls(world)[name], full_post(world, name))
        assert response.status_code == REFUSED_POSTS[(name, persona)]
        assert snapshot() == before

    @pytest.mark.parametrize("name", sorted(set(GET_CODES) | POST_ONLY))
    def test_anonymous_goes_to_the_login_page(self, world, name):
        client = Client()
        login = reverse("login")
        for response in (client.get(urls(world)[name]), client.post(urls(world)[name], {})):
            assert response.status_code == 302
            assert response.url.startswith(login + "?next=")

    @pytest.mark.parametrize("name", sorted(POST_ONLY))
    def test_post_only_urls_refuse_get(self, world, planner, name):
        assert client_for(planner).get(urls(world)[name]).status_code == 405

    def test_unknown_agreement_or_part_is_404(self, world, planner):
        client = client_for(planner)
        a = world["agreement"]
        other = world["public"]
        for url in (f"{BASE}/00000000-0000-0000-0000-000000000000/",
                    f"{BASE}/{a.uuid}/parteien/{world['public_party'].pk}/bearbeiten/",  # a party of another agreement
                    f"{BASE}/{other.uuid}/dokumente/{world['document'].uuid}/",  # a document of another agreement
                    f"{BASE}/{other.uuid}/ziele/{world['goal'].pk}/bearbeiten/"):
            assert client.get(url).status_code == 404, url

    @pytest.mark.parametrize(("name", "code"), [
        ("agreement-detail", 200), ("agreement-document-download", 200), ("agreement-update", 403),
        ("agreement-party-create", 403), ("agreement-party-update", 403), ("agreement-document-create", 403),
        ("agreement-step-create", 403), ("agreement-document-delete", 403),
    ])
    def test_public_agreement_is_read_by_a_provider_who_is_not_a_party(self, world, provider_editor_b, name, code):
        assert client_for(provider_editor_b).get(urls(world, public=True)[name]).status_code == code

    def test_provider_b_cannot_make_transitions_of_a_public_agreement(self, world, provider_editor_b):
        before = snapshot()
        response = client_for(provider_editor_b).post(urls(world, public=True)["agreement-transition"],
                                                      {"to": S.NEGOTIATION})
        assert response.status_code == 403
        assert snapshot() == before


class TestList:
    def test_providers_see_their_agreements_and_public_ones(self, world, provider_editor_a, provider_editor_b,
                                                           viewer):
        page_a = text(client_for(provider_editor_a).get(f"{BASE}/"))
        page_b = text(client_for(provider_editor_b).get(f"{BASE}/"))
        page_v = text(client_for(viewer).get(f"{BASE}/"))
        assert "Kooperation Nord" in page_a and "Rahmenvertrag Stadt" in page_a
        assert "Kooperation Nord" not in page_b and "Rahmenvertrag Stadt" in page_b
        assert "Kooperation Nord" in page_v and "Rahmenvertrag Stadt" in page_v
        assert "Neue Vereinbarung" not in page_v

    def test_columns_status_as_text_and_review_flag(self, world, planner):
        Agreement.objects.filter(pk=world["public"].pk).update(next_review=TODAY + datetime.timedelta(days=10))
        response = client_for(planner).get(f"{BASE}/")
        html = response.content.decode()
        row = next(r for r in re.findall(r"<tr.*?</tr>", html, re.S) if "Rahmenvertrag Stadt" in r)
        assert "Entwurf" in text(row) and "Rahmenvertrag" in text(row) and "Überprüfung fällig" in text(row)
        row = next(r for r in re.findall(r"<tr.*?</tr>", html, re.S) if "Kooperation Nord" in r)
        assert "Überprüfung fällig" not in row
        assert "Träger A e. V." in text(row) and "Jugendamt Teststadt" in text(row)
        assert "Neue Vereinbarung" in text(response)

    @pytest.mark.parametrize(("query", "expected"), [
        ("q=Nord", {"Kooperation Nord"}),
        ("q=Jugend+im+Norden", {"Kooperation Nord"}),  # searches the shared goals too
        ("kind=framework", {"Rahmenvertrag Stadt"}),
        ("status=draft&status=active", {"Kooperation Nord", "Rahmenvertrag Stadt"}),
        ("status=active", set()),
        ("region=P11", {"Kooperation Nord"}),  # the agreement for D1 covers its Planungsräume
        ("region=D2", set()),
        ("field=test-jugend", {"Kooperation Nord"}),
        ("review_before=2099-01-01", {"Kooperation Nord"}),
        ("public=true", {"Rahmenvertrag Stadt"}),
    ])
    def test_filters(self, world, planner, query, expected):
        response = client_for(planner).get(f"{BASE}/?{query}")
        found = {t for t in ("Kooperation Nord", "Rahmenvertrag Stadt") if t in text(response)}
        assert found == expected

    def test_filter_by_party(self, world, planner):
        page = text(client_for(planner).get(f"{BASE}/?organization={world['org_a'].uuid}"))
        assert "Kooperation Nord" in page and "Rahmenvertrag Stadt" not in page
        form = client_for(planner).get(f"{BASE}/").content.decode()
        assert f'value="{world["org_a"].uuid}"' in form  # the party filter offers organisations by name

    def test_paginated(self, world, planner):
        for i in range(51):
            AgreementFactory(title=f"Zusatz {i:02d}", valid_from=datetime.date(2020, 1, 1))
        page1 = client_for(planner).get(f"{BASE}/")
        page2 = client_for(planner).get(f"{BASE}/?page=2")
        assert "1–50 von 53 Einträgen" in text(page1)
        assert "51–53 von 53 Einträgen" in text(page2)

    def test_query_count_pinned(self, world, planner, django_assert_max_num_queries):
        client = client_for(planner)
        client.get(f"{BASE}/")  # session and caches warm
        with django_assert_max_num_queries(11):
            client.get(f"{BASE}/")
        for i in range(20):
            a = AgreementFactory(title=f"Mehr {i}", regions=[world["tree"]["P11"], world["tree"]["P12"]])
            AgreementPartyFactory(agreement=a, organization=world["org_a"])
            AgreementPartyFactory(agreement=a, organization=world["org_b"])
        with django_assert_max_num_queries(11):
            response = client.get(f"{BASE}/")
        assert "Mehr 19" in text(response)

    def test_query_count_pinned_for_a_provider(self, world, provider_editor_a, django_assert_max_num_queries):
        client = client_for(provider_editor_a)
        client.get(f"{BASE}/")
        for i in range(10):
            a = AgreementFactory(title=f"Mehr {i}", public=True)
            AgreementPartyFactory(agreement=a, organization=world["org_b"])
        with django_assert_max_num_queries(13):
            client.get(f"{BASE}/")


class TestDetail:
    def test_everything_shown(self, world, planner):
        a = world["agreement"]
        response = client_for(planner).get(f"{BASE}/{a.uuid}/")
        page = text(response)
        html = response.content.decode()
        assert "Kooperationsvereinbarung" in page and "Entwurf" in page
        assert f"{TODAY:%d.%m.%Y} bis {TODAY + datetime.timedelta(days=365):%d.%m.%Y}" in page
        assert "Nord" in page and reverse("region-detail", args=["D1"]) in html
        assert reverse("field-of-action-detail", args=["test-jugend"]) in html
        assert reverse("service-detail", args=[world["service"].uuid]) in html
        assert "Gemeinsam für die Jugend im Norden." in page
        assert "alle 12 Monate" in page
        # parties: organisation link, role, responsibilities, reachability, share with parts, confirmation
        assert reverse("organization-detail", args=[world["org_a"].uuid]) in html
        assert "federführender Träger" in page and "Offene Jugendarbeit" in page
        assert "nord@traeger-a.example" in page and "Mo–Fr 9–15 Uhr" in page
        assert "60 % (für fallspezifisch)" in page
        assert "12,5 % (für alle drei Teile)" in page
        assert "Anteile zusammen 72,5 %" in page
        assert page.count("noch nicht bestätigt") == 2
        # conflict procedure, documents, goals
        assert "1. Sozialraumteam 14" in page
        assert "Vertrag Vertragstext" in page
        assert "1,4 KB" in page  # German size
        assert reverse("agreement-document-download", args=[a.uuid, world["document"].uuid]) in html
        # goal: 100 (2022) → 80 (2024), target 60: half way
        assert "100 Fälle (2022)" in page and "80 Fälle (2024)" in page and "60 Fälle" in page
        assert "bis 31.12.2028" in page
        assert '<progress max="100" value="50"' in html and "50,0 %" in page and "auf dem Weg" in page
        # history
        assert "Änderungsverlauf" in page

    def test_review_flag(self, world, viewer):
        a = world["agreement"]
        for days, flagged in ((31, False), (30, True), (0, True), (-5, True)):
            Agreement.objects.filter(pk=a.pk).update(next_review=TODAY + datetime.timedelta(days=days))
            page = text(client_for(viewer).get(f"{BASE}/{a.uuid}/"))
            assert ("Überprüfung fällig" in page) is flagged, days

    def test_no_write_controls_for_readers(self, world, viewer, region_lead, provider_editor_b):
        for user, agreement in ((viewer, world["agreement"]), (region_lead, world["agreement"]),
                                (provider_editor_b, world["public"])):
            html = client_for(user).get(f"{BASE}/{agreement.uuid}/").content.decode()
            for control in ("/bearbeiten/", "/entfernen/", "/loeschen/", "/neu/", "/status/", "/bestaetigen/"):
                assert control not in html, (user.username, control)

    def test_party_editor_controls(self, world, provider_editor_a):
        html = client_for(provider_editor_a).get(f"{BASE}/{world['agreement'].uuid}/").content.decode()
        assert urls(world)["agreement-party-update"] in html  # her own party
        assert urls(world)["agreement-party-update-funder"] not in html
        assert urls(world)["agreement-document-create"] in html
        assert "In Verhandlung geben" in html  # the lead provider proposes
        assert urls(world)["agreement-update"] not in html and "/loeschen/" not in html

    def test_history_shows_transitions_and_confirmations(self, world, planner, provider_editor_a, funder_staff):
        a = world["agreement"]
        client_for(planner).post(f"{BASE}/{a.uuid}/status/", {"to": S.NEGOTIATION})
        client_for(provider_editor_a).post(f"{BASE}/{a.uuid}/parteien/{world['party_a'].pk}/bestaetigen/")
        page = text(client_for(planner).get(f"{BASE}/{a.uuid}/"))
        assert "Vereinbarung geändert planner Status Entwurf in Verhandlung" in page
        assert "Partei Träger A e. V. bestätigt provider_a bestätigt am –" in page
        assert "bestätigt von – provider_a" in page

    def test_query_count_pinned(self, world, planner, provider_editor_a, django_assert_max_num_queries):
        a = world["agreement"]
        client = client_for(planner)
        client.get(f"{BASE}/{a.uuid}/")
        with django_assert_max_num_queries(20):
            client.get(f"{BASE}/{a.uuid}/")
        for i in range(8):
            AgreementPartyFactory(agreement=a, organization=OrganizationFactory(), budget_share=D("1"))
            EscalationStepFactory(agreement=a, order=i + 2)
            GoalFactory(agreement=a, indicator=world["indicator"], region=world["tree"]["P12"])
            documents.add_document(a, SimpleUploadedFile(f"anlage{i}.pdf", PDF), title=f"Anlage {i}", kind="annex",
                                   user=planner)
            client.post(f"{BASE}/{a.uuid}/ziele/{world['goal'].pk}/bearbeiten/", {
                "title": f"Ziel {i}", "indicator": world["indicator"].pk, "region": world["tree"]["P11"].pk,
                "target_value": "60", "target_date": "2028-12-31"})
        with django_assert_max_num_queries(21):
            response = client.get(f"{BASE}/{a.uuid}/")
        assert text(response).count("Anlage ") >= 8
        client = client_for(provider_editor_a)
        client.get(f"{BASE}/{a.uuid}/")
        with django_assert_max_num_queries(22):
            client.get(f"{BASE}/{a.uuid}/")


class TestLifecycle:
    def post_transition(self, user, agreement, to):
        return client_for(user).post(f"{BASE}/{agreement.uuid}/status/", {"to": to}, follow=True)

    def buttons(self, user, agreement) -> list[str]:
        html = client_for(user).get(f"{BASE}/{agreement.uuid}/").content.decode()
        forms = re.findall(r'<form method="post" action="[^"]*/status/".*?</form>', html, re.S)
        return [text(f) for f in forms]

    def test_buttons_per_role_and_status(self, world, planner, provider_editor_a, viewer, region_lead):
        a = world["agreement"]
        assert self.buttons(planner, a) == ["In Verhandlung geben"]
        assert self.buttons(provider_editor_a, a) == ["In Verhandlung geben"]  # lead party
        assert self.buttons(viewer, a) == [] and self.buttons(region_lead, a) == []
        Agreement.objects.filter(pk=a.pk).update(status=S.NEGOTIATION)
        assert self.buttons(planner, a) == ["Zurück in den Entwurf", "Beenden"]
        assert self.buttons(provider_editor_a, a) == []
        Agreement.objects.filter(pk=a.pk).update(status=S.ACTIVE)
        assert self.buttons(planner, a) == ["Aussetzen", "Beenden"]
        Agreement.objects.filter(pk=a.pk).update(status=S.SUSPENDED)
        assert self.buttons(planner, a) == ["Wieder aktivieren", "Beenden"]
        Agreement.objects.filter(pk=a.pk).update(status=S.TERMINATED)
        assert self.buttons(planner, a) == []

    def test_lead_provider_proposes_but_may_not_go_back(self, world, provider_editor_a):
        a = world["agreement"]
        response = self.post_transition(provider_editor_a, a, S.NEGOTIATION)
        assert "Die Vereinbarung ist jetzt „in Verhandlung“." in text(response)
        a.refresh_from_db()
        assert a.status == S.NEGOTIATION
        response = self.post_transition(provider_editor_a, a, S.DRAFT)
        assert response.status_code == 200
        assert "Diesen Übergang darf nur die Planung vornehmen." in text(response)
        a.refresh_from_db()
        assert a.status == S.NEGOTIATION

    def test_refused_transitions_are_error_messages(self, world, planner):
        a = world["agreement"]
        response = self.post_transition(planner, a, S.ACTIVE)
        assert "Von „Entwurf“ nach „aktiv“ gibt es keinen Übergang." in text(response)
        response = self.post_transition(planner, a, "unsinn")
        assert "Unbekannter Status „unsinn“." in text(response)
        empty = AgreementFactory(title="Ohne Parteien")
        response = self.post_transition(planner, empty, S.NEGOTIATION)
        assert "Eine Vereinbarung ohne Parteien kann nicht verhandelt werden." in text(response)
        a.refresh_from_db()
        empty.refresh_from_db()
        assert a.status == S.DRAFT and empty.status == S.DRAFT

    def test_confirmation_by_party_editors_then_active(self, world, planner, provider_editor_a, funder_staff):
        a, party_a, party_f = world["agreement"], world["party_a"], world["party_f"]
        confirm_a = f"{BASE}/{a.uuid}/parteien/{party_a.pk}/bestaetigen/"
        confirm_f = f"{BASE}/{a.uuid}/parteien/{party_f.pk}/bestaetigen/"
        # in draft: not yet
        response = client_for(provider_editor_a).post(confirm_a, follow=True)
        assert "Bestätigt wird eine Vereinbarung, solange sie verhandelt wird." in text(response)
        self.post_transition(planner, a, S.NEGOTIATION)
        html = client_for(provider_editor_a).get(f"{BASE}/{a.uuid}/").content.decode()
        assert "Für Träger A e. V. bestätigen" in html and "Für Jugendamt Teststadt bestätigen" not in html
        assert "Für Träger A e. V. bestätigen" not in client_for(planner).get(f"{BASE}/{a.uuid}/").content.decode()
        # another party's editor, a planner who is no member: refused
        assert client_for(provider_editor_a).post(confirm_f).status_code == 403
        assert client_for(planner).post(confirm_a).status_code == 403
        response = client_for(provider_editor_a).post(confirm_a, follow=True)
        assert "Für Träger A e. V. bestätigt." in text(response)
        party_a.refresh_from_db()
        assert party_a.confirmed_by == provider_editor_a and party_a.confirmed_at is not None
        a.refresh_from_db()
        assert a.status == S.NEGOTIATION
        assert "bestätigt am" in text(response) and "1 von 2 Parteien haben bestätigt." in text(response)
        response = client_for(funder_staff).post(confirm_f, follow=True)
        assert "Alle Parteien haben bestätigt: die Vereinbarung ist jetzt aktiv." in text(response)
        a.refresh_from_db()
        assert a.status == S.ACTIVE
        assert "Die Vereinbarung ist: aktiv" in text(response)

    def test_future_start_waits(self, world, planner, provider_editor_a, funder_staff):
        a = world["agreement"]
        start = TODAY + datetime.timedelta(days=10)
        Agreement.objects.filter(pk=a.pk).update(valid_from=start)
        self.post_transition(planner, a, S.NEGOTIATION)
        client_for(provider_editor_a).post(f"{BASE}/{a.uuid}/parteien/{world['party_a'].pk}/bestaetigen/")
        response = client_for(funder_staff).post(f"{BASE}/{a.uuid}/parteien/{world['party_f'].pk}/bestaetigen/",
                                                 follow=True)
        assert f"Alle Parteien haben bestätigt; aktiv wird die Vereinbarung am {start:%d.%m.%Y}." in text(response)
        a.refresh_from_db()
        assert a.status == S.NEGOTIATION

    def test_suspend_reactivate_terminate(self, world, planner):
        a = world["agreement"]
        Agreement.objects.filter(pk=a.pk).update(status=S.ACTIVE)
        AgreementParty.objects.filter(agreement=a).update(confirmed_at=timezone.now())
        for to, label in ((S.SUSPENDED, "ausgesetzt"), (S.ACTIVE, "aktiv"), (S.TERMINATED, "beendet")):
            response = self.post_transition(planner, a, to)
            assert f"Die Vereinbarung ist jetzt „{label}“." in text(response)
            a.refresh_from_db()
            assert a.status == to

    def test_back_to_draft_withdraws_confirmations(self, world, planner, provider_editor_a):
        a = world["agreement"]
        self.post_transition(planner, a, S.NEGOTIATION)
        client_for(provider_editor_a).post(f"{BASE}/{a.uuid}/parteien/{world['party_a'].pk}/bestaetigen/")
        self.post_transition(planner, a, S.DRAFT)
        assert not AgreementParty.objects.filter(agreement=a).exclude(confirmed_at=None).exists()


class TestAgreementForm:
    def data(self, world, **changes):
        data = {"title": "Leistungsvereinbarung Süd", "kind": "service", "regions": [world["tree"]["D2"].pk],
                "fields": [world["field"].pk], "services": [world["service"].pk], "valid_from": "2026-03-31",
                "valid_until": "2028-12-31", "goals": "Mehr Beratung.", "review_interval_months": "11",
                "next_review": "", "public": "on"}
        data.update(changes)
        return {k: v for k, v in data.items() if v is not None}

    def test_create_as_draft_with_default_review(self, world, planner):
        response = client_for(planner).post(f"{BASE}/neu/", self.data(world), follow=True)
        a = Agreement.objects.get(title="Leistungsvereinbarung Süd")
        assert a.status == S.DRAFT and a.public and a.kind == "service"
        assert a.next_review == datetime.date(2027, 2, 28)  # 31 March + 11 months: end of February
        assert list(a.regions.all()) == [world["tree"]["D2"]] and list(a.services.all()) == [world["service"]]
        assert a.created_by == planner
        assert "angelegt (Entwurf)" in text(response)

    def test_status_is_not_in_the_form(self, world, planner):
        a = world["agreement"]
        html = client_for(planner).get(f"{BASE}/{a.uuid}/bearbeiten/").content.decode()
        assert 'name="status"' not in html and 'name="title"' in html
        client_for(planner).post(f"{BASE}/{a.uuid}/bearbeiten/", self.data(world, status=S.ACTIVE))
        a.refresh_from_db()
        assert a.title == "Leistungsvereinbarung Süd" and a.status == S.DRAFT

    def test_explicit_next_review_kept(self, world, planner):
        client_for(planner).post(f"{BASE}/neu/", self.data(world, next_review="2026-06-01"))
        assert Agreement.objects.get(title="Leistungsvereinbarung Süd").next_review == datetime.date(2026, 6, 1)

    @pytest.mark.parametrize(("changes", "field", "message"), [
        ({"title": ""}, "title", "Bitte den Titel der Vereinbarung angeben."),
        ({"valid_from": ""}, "valid_from", "Bitte angeben, ab wann die Vereinbarung gilt."),
        ({"valid_until": "2025-01-01"}, "valid_until", "„gültig bis“ liegt vor „gültig ab“."),
        ({"valid_from": "31.02.2026"}, "valid_from", "Bitte ein Datum angeben"),
        ({"review_interval_months": "0"}, "review_interval_months", "Mindestens ein Monat."),
        ({"regions": ["999999"]}, "regions", "Bitte nur Räume aus der Liste wählen."),
    ])
    def test_validation_messages(self, world, planner, changes, field, message):
        response = client_for(planner).post(f"{BASE}/neu/", self.data(world, **changes))
        assert response.status_code == 200
        html = response.content.decode()
        assert f'id="id_{field}_error"' in html and message in text(response)
        assert "Bitte 1 Angabe korrigieren." in text(response)
        assert not Agreement.objects.filter(title="Leistungsvereinbarung Süd").exists()

    def test_changes_while_negotiating_withdraw_confirmations(self, world, planner, provider_editor_a):
        a = world["agreement"]
        client_for(planner).post(f"{BASE}/{a.uuid}/status/", {"to": S.NEGOTIATION})
        client_for(provider_editor_a).post(f"{BASE}/{a.uuid}/parteien/{world['party_a'].pk}/bestaetigen/")
        page = text(client_for(planner).get(f"{BASE}/{a.uuid}/bearbeiten/"))
        assert "werden alle Bestätigungen der Parteien zurückgesetzt" in page
        response = client_for(planner).post(f"{BASE}/{a.uuid}/bearbeiten/", self.data(world), follow=True)
        assert "die Parteien müssen sie erneut bestätigen" in text(response)
        assert not AgreementParty.objects.filter(agreement=a).exclude(confirmed_at=None).exists()

    def test_saving_unchanged_keeps_confirmations(self, world, planner, provider_editor_a):
        a = world["agreement"]
        client_for(planner).post(f"{BASE}/{a.uuid}/status/", {"to": S.NEGOTIATION})
        client_for(provider_editor_a).post(f"{BASE}/{a.uuid}/parteien/{world['party_a'].pk}/bestaetigen/")
        unchanged = {"title": a.title, "kind": a.kind, "regions": [world["tree"]["D1"].pk],
                     "fields": [world["field"].pk], "services": [world["service"].pk],
                     "valid_from": a.valid_from.isoformat(), "valid_until": a.valid_until.isoformat(),
                     "goals": a.goals, "review_interval_months": "12", "next_review": a.next_review.isoformat()}
        response = client_for(planner).post(f"{BASE}/{a.uuid}/bearbeiten/", unchanged, follow=True)
        assert "gespeichert" in text(response) and "erneut bestätigen" not in text(response)
        assert AgreementParty.objects.filter(agreement=a).exclude(confirmed_at=None).count() == 1


class TestParties:
    def add(self, user, agreement, **data):
        return client_for(user).post(f"{BASE}/{agreement.uuid}/parteien/neu/", data, follow=True)

    def test_planner_adds_a_party(self, world, planner):
        a = world["agreement"]
        response = self.add(planner, a, organization=world["org_b"].pk, role="partner",
                            responsibilities="Schulsozialarbeit", contact="b@example.org", availability="Di 10–12",
                            budget_share="27,5", work_modes=["case_overarching", "case_unspecific"])
        party = a.parties.get(organization=world["org_b"])
        assert party.budget_share == D("27.5") and party.work_modes == ["case_overarching", "case_unspecific"]
        assert "Träger B gGmbH ist jetzt Partei der Vereinbarung." in text(response)
        assert "Anteile zusammen 100 %" in text(response)

    def test_shares_over_100_percent_refused(self, world, planner):
        a = world["agreement"]
        response = self.add(planner, a, organization=world["org_b"].pk, role="partner", budget_share="27,6")
        assert response.status_code == 200
        page = text(response)
        assert ("Die Anteile aller Parteien ergeben zusammen 100,1 %; höchstens 100 % sind möglich. Die übrigen "
                "Parteien haben schon 72,5 %, für diese Partei bleiben höchstens 27,5 %.") in page
        assert 'id="id_budget_share_error"' in response.content.decode()
        assert not a.parties.filter(organization=world["org_b"]).exists()
        # raising an existing party's share is checked against the others, not itself
        url = f"{BASE}/{a.uuid}/parteien/{world['party_a'].pk}/bearbeiten/"
        response = client_for(planner).post(url, {"role": "lead", "budget_share": "87,5"}, follow=True)
        assert "Angaben von Träger A e. V. gespeichert." in text(response)
        response = client_for(planner).post(url, {"role": "lead", "budget_share": "87,6"})
        assert "höchstens 100 % sind möglich" in text(response)
        world["party_a"].refresh_from_db()
        assert world["party_a"].budget_share == D("87.5")

    def test_organisation_only_once(self, world, planner):
        a = world["agreement"]
        response = self.add(planner, a, organization=world["org_a"].pk, role="partner")
        assert "Bitte eine Organisation aus der Liste wählen." in text(response)
        assert a.parties.count() == 2

    def test_only_in_draft_or_negotiation(self, world, planner):
        a = world["agreement"]
        Agreement.objects.filter(pk=a.pk).update(status=S.ACTIVE)
        response = self.add(planner, a, organization=world["org_b"].pk, role="partner")
        assert "Parteien werden nur im Entwurf oder während der Verhandlung hinzugefügt oder entfernt" in text(response)
        assert not a.parties.filter(organization=world["org_b"]).exists()
        response = client_for(planner).post(f"{BASE}/{a.uuid}/parteien/{world['party_f'].pk}/entfernen/", follow=True)
        assert "Parteien werden nur im Entwurf" in text(response)
        assert a.parties.count() == 2
        assert "Partei hinzufügen" not in text(client_for(planner).get(f"{BASE}/{a.uuid}/"))

    def test_adding_or_removing_while_negotiating_withdraws_confirmations(self, world, planner, provider_editor_a):
        a = world["agreement"]
        client_for(planner).post(f"{BASE}/{a.uuid}/status/", {"to": S.NEGOTIATION})
        confirm = f"{BASE}/{a.uuid}/parteien/{world['party_a'].pk}/bestaetigen/"
        client_for(provider_editor_a).post(confirm)
        assert "setzt das Hinzufügen oder Entfernen einer Partei alle Bestätigungen zurück" in text(
            client_for(planner).get(f"{BASE}/{a.uuid}/"))
        response = self.add(planner, a, organization=world["org_b"].pk, role="partner")
        assert "wurden alle Bestätigungen zurückgesetzt" in text(response)
        assert not a.parties.exclude(confirmed_at=None).exists()
        client_for(provider_editor_a).post(confirm)
        party_b = a.parties.get(organization=world["org_b"])
        response = client_for(planner).post(f"{BASE}/{a.uuid}/parteien/{party_b.pk}/entfernen/", follow=True)
        assert "Träger B gGmbH ist nicht mehr Partei der Vereinbarung." in text(response)
        assert "wurden alle Bestätigungen zurückgesetzt" in text(response)
        assert not a.parties.exclude(confirmed_at=None).exists()
        history = text(response)[text(response).index("Änderungsverlauf"):]
        assert "Partei Träger B gGmbH gelöscht planner" in history
        assert "Partei Träger A e. V. Bestätigung zurückgesetzt planner" in history

    def test_removal_in_draft(self, world, planner):
        a = world["agreement"]
        url = f"{BASE}/{a.uuid}/parteien/{world['party_f'].pk}/entfernen/"
        assert "Soll diese Organisation nicht mehr Partei" in text(client_for(planner).get(url))
        client_for(planner).post(url)
        assert list(a.parties.values_list("organization_id", flat=True)) == [world["org_a"].pk]

    def test_party_editor_keeps_only_responsibilities_and_reachability(self, world, provider_editor_a):
        a, party = world["agreement"], world["party_a"]
        url = f"{BASE}/{a.uuid}/parteien/{party.pk}/bearbeiten/"
        html = client_for(provider_editor_a).get(url).content.decode()
        assert 'name="responsibilities"' in html and 'name="contact"' in html and 'name="availability"' in html
        for name in ("organization", "role", "budget_share", "work_modes"):
            assert f'name="{name}"' not in html
        response = client_for(provider_editor_a).post(url, {
            "responsibilities": "Offene Jugendarbeit und Streetwork", "contact": "streetwork@traeger-a.example",
            "availability": "Mo–Do", "role": "partner", "budget_share": "99", "organization": world["org_b"].pk,
            "work_modes": ["case_unspecific"]}, follow=True)
        assert "Angaben von Träger A e. V. gespeichert." in text(response)
        party.refresh_from_db()
        assert party.responsibilities == "Offene Jugendarbeit und Streetwork"
        assert party.contact == "streetwork@traeger-a.example" and party.availability == "Mo–Do"
        assert party.role == "lead" and party.budget_share == D("60") and party.organization == world["org_a"]
        assert party.work_modes == ["case_specific"]

    def test_planner_cannot_move_a_party_to_another_organisation(self, world, planner):
        a, party = world["agreement"], world["party_a"]
        client_for(planner).post(f"{BASE}/{a.uuid}/parteien/{party.pk}/bearbeiten/", {
            "organization": world["org_b"].pk, "role": "partner", "budget_share": "10"})
        party.refresh_from_db()
        assert party.organization == world["org_a"] and party.role == "partner" and party.budget_share == D("10")


class TestEscalationSteps:
    def test_add_with_next_order_and_remove(self, world, planner):
        a = world["agreement"]
        url = f"{BASE}/{a.uuid}/stufen/neu/"
        assert 'name="stufe-order" value="2"' in client_for(planner).get(url).content.decode()
        response = client_for(planner).post(url, {"stufe-order": "2", "stufe-handled_by": "Fachdienstleitung",
                                                  "stufe-days": "21"}, follow=True)
        assert "Stufe 2 (Fachdienstleitung) hinzugefügt." in text(response)
        assert "2. Fachdienstleitung 21" in text(response)
        step = a.escalation_steps.get(order=2)
        response = client_for(planner).post(f"{BASE}/{a.uuid}/stufen/{step.pk}/entfernen/", follow=True)
        assert "Stufe 2 entfernt." in text(response)
        assert list(a.escalation_steps.values_list("order", flat=True)) == [1]

    @pytest.mark.parametrize(("data", "field", "message"), [
        ({"stufe-order": "1", "stufe-handled_by": "Leitung", "stufe-days": "7"}, "order",
         "Stufe 1 gibt es schon; bitte eine andere Nummer wählen."),
        ({"stufe-order": "0", "stufe-handled_by": "Leitung", "stufe-days": "7"}, "order", "Die Stufe ist mindestens 1."),
        ({"stufe-order": "2", "stufe-handled_by": "", "stufe-days": "7"}, "handled_by",
         "Bitte angeben, wer auf dieser Stufe zuständig ist."),
        ({"stufe-order": "2", "stufe-handled_by": "Leitung", "stufe-days": "0"}, "days",
         "Die Frist ist mindestens ein Tag."),
    ])
    def test_validation(self, world, planner, data, field, message):
        a = world["agreement"]
        response = client_for(planner).post(f"{BASE}/{a.uuid}/stufen/neu/", data)
        assert response.status_code == 200
        assert f'id="id_stufe-{field}_error"' in response.content.decode() and message in text(response)
        assert a.escalation_steps.count() == 1


class TestDocuments:
    def upload(self, user, agreement, name, content, **data):
        return client_for(user).post(f"{BASE}/{agreement.uuid}/dokumente/neu/", {
            "title": data.get("title", ""), "kind": data.get("kind", "annex"),
            "file": SimpleUploadedFile(name, content, content_type=data.get("content_type", "application/pdf"))},
            follow=True)

    def test_party_editor_uploads_and_everyone_who_sees_it_downloads(self, world, provider_editor_a, viewer):
        a = world["agreement"]
        content = PDF + b"x" * 1000
        response = self.upload(provider_editor_a, a, "Protokoll März.pdf", content, title="Protokoll", kind="minutes")
        assert "Dokument „Protokoll“ hochgeladen." in text(response)
        document = a.documents.get(title="Protokoll")
        assert document.content_type == "application/pdf" and document.size == len(content)
        assert document.original_name == "Protokoll_März.pdf"
        assert document.created_by == provider_editor_a
        assert "Protokoll Protokoll 2,4 KB" in text(response)
        for user in (provider_editor_a, viewer):
            response = client_for(user).get(f"{BASE}/{a.uuid}/dokumente/{document.uuid}/")
            assert response.status_code == 200
            assert b"".join(response.streaming_content) == content
            assert response["Content-Type"] == "application/pdf"
            assert response["Content-Disposition"] == "attachment; filename*=utf-8''Protokoll_M%C3%A4rz.pdf"
            assert response["X-Content-Type-Options"] == "nosniff"

    def test_title_defaults_to_the_file_name(self, world, planner):
        self.upload(planner, world["agreement"], "anlage.pdf", PDF)
        assert world["agreement"].documents.filter(title="anlage.pdf").exists()

    def test_provider_of_another_organisation_gets_404(self, world, provider_editor_b):
        a, document = world["agreement"], world["document"]
        client = client_for(provider_editor_b)
        assert client.get(f"{BASE}/{a.uuid}/dokumente/{document.uuid}/").status_code == 404
        # nor through the public agreement's address
        assert client.get(f"{BASE}/{world['public'].uuid}/dokumente/{document.uuid}/").status_code == 404
        assert client.get(f"{BASE}/{world['public'].uuid}/dokumente/{world['public_document'].uuid}/") \
            .status_code == 200

    def test_not_reachable_by_any_media_url(self, world, planner, settings):
        document = world["document"]
        path = Path(document.file.path)
        assert path.is_file() and path.read_bytes() == PDF
        assert Path(settings.MEDIA_ROOT, "private") in path.parents
        client = client_for(planner)
        name = document.file.name
        for url in (f"/media/{name}", f"/media/private/{name}", f"/private/{name}", f"/{name}",
                    f"{settings.MEDIA_URL or '/'}{name}", f"/static/{name}", f"/media/{path.name}"):
            assert client.get(url).status_code == 404, url

    def test_pdf_that_is_really_a_png_is_refused(self, world, planner):
        a = world["agreement"]
        response = self.upload(planner, a, "vertrag.pdf", PNG)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'id="id_file_error"' in html
        assert "Der Inhalt von „vertrag.pdf“ passt nicht zur Endung .pdf" in text(response)
        assert a.documents.count() == 1

    def test_unknown_type_refused(self, world, planner):
        response = self.upload(planner, world["agreement"], "skript.exe", b"MZ\x90\x00")
        assert "Dateityp „.exe“ ist nicht erlaubt." in text(response)
        assert world["agreement"].documents.count() == 1

    @override_settings(AGREEMENT_DOCUMENT_MAX_MB=1)
    def test_too_large_refused(self, world, planner):
        a = world["agreement"]
        page = text(client_for(planner).get(f"{BASE}/{a.uuid}/dokumente/neu/"))
        assert "höchstens 1 MB" in page
        response = self.upload(planner, a, "gross.pdf", PDF + b"0" * (1024 * 1024))
        assert "Die Datei „gross.pdf“ ist 1,0 MB groß; erlaubt sind höchstens 1 MB." in text(response)
        assert 'id="id_file_error"' in response.content.decode()
        assert a.documents.count() == 1
        self.upload(planner, a, "klein.pdf", PDF + b"0" * (1024 * 1024 - len(PDF)))  # exactly 1 MB
        assert a.documents.filter(original_name="klein.pdf").exists()

    def test_missing_file(self, world, planner):
        response = client_for(planner).post(f"{BASE}/{world['agreement'].uuid}/dokumente/neu/",
                                            {"title": "x", "kind": "annex"})
        assert "Bitte eine Datei auswählen." in text(response)

    def test_planner_deletes_and_the_file_goes(self, world, planner, django_capture_on_commit_callbacks):
        a, document = world["agreement"], world["document"]
        path = Path(document.file.path)
        url = f"{BASE}/{a.uuid}/dokumente/{document.uuid}/loeschen/"
        assert "Die Datei wird endgültig entfernt." in text(client_for(planner).get(url))
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(planner).post(url, follow=True)
        assert "Dokument „Vertrag“ gelöscht." in text(response)
        assert not a.documents.exists() and not path.exists()

    def test_party_editor_may_not_delete(self, world, provider_editor_a):
        a, document = world["agreement"], world["document"]
        response = client_for(provider_editor_a).post(f"{BASE}/{a.uuid}/dokumente/{document.uuid}/loeschen/")
        assert response.status_code == 403
        assert Path(document.file.path).is_file()


class TestGoals:
    def data(self, world, **changes):
        data = {"title": "Mehr Kinder in Kitas", "indicator": world["indicator"].pk, "region": world["tree"]["P11"].pk,
                "baseline_period": "2024", "target_value": "70,5", "target_date": "2029-12-31"}
        data.update(changes)
        return data

    def test_add_edit_delete(self, world, planner):
        a = world["agreement"]
        response = client_for(planner).post(f"{BASE}/{a.uuid}/ziele/neu/", self.data(world), follow=True)
        assert "Wirkungsziel „Mehr Kinder in Kitas“ angelegt." in text(response)
        goal = a.outcome_goals.get(title="Mehr Kinder in Kitas")
        assert goal.target_value == D("70.5") and goal.baseline_period == "2024" and goal.created_by == planner
        # baseline = the latest value: no movement yet
        row = next(r for r in re.findall(r"<tr>.*?</tr>", response.content.decode(), re.S) if "Mehr Kinder" in r)
        assert "80 Fälle (2024)" in text(row) and "0,0 %" in text(row) and "keine Verbesserung" in text(row)
        response = client_for(planner).post(f"{BASE}/{a.uuid}/ziele/{goal.pk}/bearbeiten/",
                                            self.data(world, title="Umbenannt", baseline_period=""), follow=True)
        assert "Wirkungsziel „Umbenannt“ gespeichert." in text(response)
        goal.refresh_from_db()
        assert goal.title == "Umbenannt" and goal.baseline_period == ""
        response = client_for(planner).post(f"{BASE}/{a.uuid}/ziele/{goal.pk}/loeschen/", follow=True)
        assert "Wirkungsziel „Umbenannt“ gelöscht." in text(response)
        assert not a.outcome_goals.filter(pk=goal.pk).exists()

    @pytest.mark.parametrize(("changes", "field", "message"), [
        ({"baseline_period": "2023"}, "baseline_period",
         "Für Nord-West gibt es im Zeitraum „2023“ keinen Wert dieses Indikators. Vorhandene Zeiträume: 2022, 2024."),
        ({"target_value": "viel"}, "target_value", "Bitte den Zielwert als Zahl angeben, z. B. 12,5."),
        ({"title": ""}, "title", "Bitte das Ziel benennen."),
        ({"indicator": ""}, "indicator", "Bitte den Indikator wählen."),
        ({"target_date": ""}, "target_date", "Bitte angeben, bis wann das Ziel erreicht sein soll."),
    ])
    def test_validation(self, world, planner, changes, field, message):
        a = world["agreement"]
        response = client_for(planner).post(f"{BASE}/{a.uuid}/ziele/neu/", self.data(world, **changes))
        assert response.status_code == 200
        assert f'id="id_{field}_error"' in response.content.decode() and message in text(response)
        assert a.outcome_goals.count() == 1

    def test_no_values_yet(self, world, planner):
        a = world["agreement"]
        response = client_for(planner).post(f"{BASE}/{a.uuid}/ziele/neu/",
                                            self.data(world, region=world["tree"]["P21"].pk, baseline_period=""),
                                            follow=True)
        row = next(r for r in re.findall(r"<tr>.*?</tr>", response.content.decode(), re.S) if "Mehr Kinder" in r)
        assert "keine Werte" in text(row) and "nicht berechenbar" in text(row) and "<progress" not in row


# --- Real Berlin figures ---------------------------------------------------------------------

PLR = ["01100101", "01100102"]  # Stülerstraße, Großer Tiergarten (Mitte)


def berlin_rows(name, delimiter):
    with open(BERLIN_DIR / name, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


def write_subset(path: Path, name: str, delimiter: str, keep) -> Path:
    """The real file's header and the rows ``keep`` selects, byte for byte
    (BOM, delimiter, line ends as they are)."""
    raw = (BERLIN_DIR / name).read_bytes()
    lines = raw.splitlines(keepends=True)
    path.write_bytes(lines[0] + b"".join(line for line in lines[1:] if keep(line.decode("utf-8"))))
    return path


@pytest.fixture
def berlin(tmp_path):
    """LOR hierarchy, residents 2022 and MSS 2021 context indicators for two
    Planungsräume, imported from subsets of the real files with the real
    profiles. The MSS file's residents at 31.12.2020 are also imported as
    "Einwohner insgesamt", so that indicator has two periods
    (2020-12-31 from the MSS, 2022-06-30 from the register)."""
    if not (BERLIN_DIR / "lor_2021.csv").is_file():
        pytest.skip(f"Berlin open data not found at {BERLIN_DIR}")
    import json

    from core.imports.base import import_now
    from core.models import ImportRun
    from regions.services import upsert_indicators

    catalogue = json.loads((Path(__file__).resolve().parents[2] / "regions" / "catalogues" / "berlin.json")
                           .read_text(encoding="utf-8"))
    upsert_indicators(catalogue["indicators"])
    keep = lambda line: any(code in line for code in PLR)  # noqa: E731
    lor = write_subset(tmp_path / "lor.csv", "lor_2021.csv", ",", keep)
    ew = write_subset(tmp_path / "ew.csv", "einwohner_2022-06_plr.csv", ";", keep)
    mss = write_subset(tmp_path / "mss.csv", "mss_2021_kontext_plr.csv", ";", keep)
    for kind, path, options in (
        ("regions", lor, {"profile": "berlin-lor"}),
        ("indicator_values", ew, {"profile": "berlin-einwohner"}),
        ("indicator_values", mss, {"profile": "berlin-mss-2021"}),
        ("indicator_values", mss, {"profile": "berlin-mss-2021", "indicator_columns": {"EW 31.12.2020": "ew_gesamt"},
                                   "ignore_columns": ["PLR-Name", "K01", "K02", "K03", "K04", "K05", "K06", "K07",
                                                      "K09", "K10", "K11", "K12", "K13", "K16", "K17"]}),
    ):
        run = import_now(kind, path, options=options, original_name=path.name)
        assert run.status == ImportRun.Status.SUCCEEDED, run.errors[:5]
    residents_2022 = {r["PLR-ID"]: r["Gesamt"] for r in berlin_rows("einwohner_2022-06_plr.csv", ";")}
    mss_rows = {r["PLR-ID"]: r for r in berlin_rows("mss_2021_kontext_plr.csv", ";")}
    return {"ew_2022": {c: D(residents_2022[c]) for c in PLR},
            "ew_2020": {c: D(mss_rows[c]["EW 31.12.2020"]) for c in PLR},
            "k01": {c: D(mss_rows[c]["K01"]) for c in PLR}}


@pytest.mark.berlin
class TestGoalAttainmentFromBerlinData:
    def test_attainment_shown_from_real_values(self, berlin, planner, org_a):
        from regions.models import Indicator, IndicatorValue, Region

        ew = Indicator.objects.get(key="ew_gesamt")
        k01 = Indicator.objects.get(key="k01")
        stueler, tiergarten = Region.objects.get(code="01100101"), Region.objects.get(code="01100102")
        assert sorted(IndicatorValue.objects.filter(indicator=ew, region=stueler).values_list("period", flat=True)) \
            == ["2020-12-31", "2022-06-30"]
        agreement = AgreementFactory(title="Kooperation Tiergarten Süd", regions=[stueler, tiergarten])
        AgreementPartyFactory(agreement=agreement, organization=org_a, role="lead")
        client = client_for(planner)
        goals = [
            ("Einwohnerzahl Stülerstraße", ew, stueler, "", "3600"),
            ("Einwohnerzahl Großer Tiergarten", ew, tiergarten, "2020-12-31", "1900"),
            ("K01 Stülerstraße senken", k01, stueler, "2020-12-31", "2,0"),
        ]
        for title, indicator, region, period, target in goals:
            response = client.post(f"{BASE}/{agreement.uuid}/ziele/neu/", {
                "title": title, "indicator": indicator.pk, "region": region.pk, "baseline_period": period,
                "target_value": target, "target_date": "2030-12-31"})
            assert response.status_code == 302, text(response)
        html = client.get(f"{BASE}/{agreement.uuid}/").content.decode()
        def row(title):
            return next(text(r) for r in re.findall(r"<tr>.*?</tr>", html, re.S) if title in r)

        def german(value: D, places: int) -> str:
            return f"{value:,.{places}f}".replace(",", "X").replace(".", ",").replace("X", ".")

        # Stülerstraße: 3,419 residents (MSS, 31.12.2020) → 3,503 (register, 30.06.2022), target 3,600
        base, now = berlin["ew_2020"]["01100101"], berlin["ew_2022"]["01100101"]
        assert (base, now) == (D(3419), D(3503))
        progress = ((now - base) / (D(3600) - base) * 100).quantize(D("0.1"))
        assert progress == D("46.4")
        r = row("Einwohnerzahl Stülerstraße")
        assert f"{german(base, 0)} Personen (2020-12-31)" in r and f"{german(now, 0)} Personen (2022-06-30)" in r
        assert "3.600 Personen (bis 31.12.2030)" in r and "46,4 %" in r and "auf dem Weg" in r
        assert 'value="46"' in next(x for x in re.findall(r"<tr>.*?</tr>", html, re.S) if "Einwohnerzahl Stüler" in x)

        # Großer Tiergarten: 1,791 → 1,996, target 1,900 reached (progress over 100 %, bar full)
        base, now = berlin["ew_2020"]["01100102"], berlin["ew_2022"]["01100102"]
        progress = ((now - base) / (D(1900) - base) * 100).quantize(D("0.1"))
        r = row("Einwohnerzahl Großer Tiergarten")
        assert f"{german(progress, 1)} %" in r and "erreicht" in r
        assert 'value="100"' in next(x for x in re.findall(r"<tr>.*?</tr>", html, re.S) if "Großer Tiergarten" in x)

        # K01 has one period: baseline = current, no movement towards the lower target yet
        value = berlin["k01"]["01100101"]
        r = row("K01 Stülerstraße senken")
        assert f"{german(value, 2)} % (2020-12-31)" in r and "2,00 % (bis 31.12.2030)" in r
        assert "0,0 %" in r and "keine Verbesserung" in r
