"""Pages of conflict cases: list (filters, overdue deadline as text), raising a
case under an agreement or a network, a case's page with its procedure, the
"Nächste Stufe" and "Abschließen" buttons.

Every URL is tried by the persona that must be refused: anonymous visitors go
to the login page; provider staff of an organisation that is not involved do
not see the case (404) — not even under a public agreement or network; staff
who see a case but do not handle it get 403 on the buttons; planners handle
everything, the network's coordinator its network's cases."""

import datetime
import re

import pytest
from django.test import Client
from django.utils import timezone

from cooperation.models import ConflictCase
from tests.factories import (
    AgreementFactory,
    AgreementPartyFactory,
    ConflictCaseFactory,
    EscalationStepFactory,
    MembershipFactory,
    NetworkFactory,
    NetworkMemberFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

BASE = "/kooperation/konflikte"
HINT = "Sachlich, keine personenbezogenen Daten von Klientinnen und Klienten."


def client_for(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def text(html) -> str:
    if not isinstance(html, str):
        html = html.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ").strip()


def table_text(response) -> str:
    """The text of the list's table body (without the filter form)."""
    match = re.search(r"<tbody>(.*?)</tbody>", response.content.decode(), re.S)
    return text(match.group(1)) if match else ""


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


@pytest.fixture
def org_c(db):
    return OrganizationFactory(name="Jugendhilfe C e. V.")


@pytest.fixture
def coordinator_editor(org_c):
    user = UserFactory(username="coordinator_c")
    MembershipFactory(user=user, organization=org_c, role="editor")
    return user


@pytest.fixture
def world(tree, org_a, org_b, org_c):
    """An agreement (parties A and C, three steps), a public agreement (party A
    only), a network coordinated by C with member B (two steps) and a public
    network with member A only; one open case under each."""
    agreement = AgreementFactory(title="Kooperation Nord", regions=[tree["D1"]], status="active")
    AgreementPartyFactory(agreement=agreement, organization=org_a, role="lead")
    AgreementPartyFactory(agreement=agreement, organization=org_c)
    steps = [EscalationStepFactory(agreement=agreement, order=i, handled_by=h, days=d)
             for i, h, d in ((1, "Sozialraumteam", 14), (2, "Fachdienstleitung", 21), (3, "Lenkungsgruppe", 30))]
    public = AgreementFactory(title="Rahmenvertrag Stadt", public=True, status="active")
    AgreementPartyFactory(agreement=public, organization=org_a)
    network = NetworkFactory(name="Sozialraumteam Süd", coordinator=org_c)
    NetworkMemberFactory(network=network, organization=org_b)
    net_steps = [EscalationStepFactory(agreement=None, network=network, order=i, handled_by=h, days=7)
                 for i, h in ((1, "Koordination"), (2, "Steuerungsrunde"))]
    public_network = NetworkFactory(name="Stadtteilkonferenz Nord", public=True)
    NetworkMemberFactory(network=public_network, organization=org_a)
    today = timezone.localdate()
    case = ConflictCaseFactory(agreement=agreement, raised_by=org_a, subject="Hausbesuche strittig",
                               step=steps[0], step_started=today, step_due=today + datetime.timedelta(days=14))
    public_case = ConflictCaseFactory(agreement=public, raised_by=org_a, subject="Abrechnung Rahmenvertrag")
    net_case = ConflictCaseFactory(agreement=None, network=network, raised_by=org_b, subject="Protokolle fehlen",
                                   step=net_steps[0], step_started=today, step_due=today + datetime.timedelta(days=7))
    public_net_case = ConflictCaseFactory(agreement=None, network=public_network, raised_by=org_a,
                                          subject="Raumvergabe Stadtteilzentrum")
    return {"agreement": agreement, "steps": steps, "public": public, "network": network, "net_steps": net_steps,
            "public_network": public_network, "case": case, "public_case": public_case, "net_case": net_case,
            "public_net_case": public_net_case, "org_a": org_a, "org_b": org_b, "org_c": org_c}


SUBJECTS = ("Hausbesuche strittig", "Abrechnung Rahmenvertrag", "Protokolle fehlen", "Raumvergabe Stadtteilzentrum")


class TestVisibility:
    @pytest.mark.parametrize("suffix", ["/", "/neu/", "/{case}/", "/{case}/naechste-stufe/", "/{case}/abschliessen/"])
    def test_anonymous_goes_to_the_login_page(self, world, suffix):
        url = BASE + suffix.format(case=world["case"].uuid)
        for method in ("get", "post"):
            response = getattr(Client(), method)(url)
            if response.status_code == 405:  # POST-only
                continue
            assert response.status_code == 302 and response["Location"].startswith("/anmelden/?next="), (url, method)

    @pytest.mark.parametrize("persona, seen", [
        ("planner", SUBJECTS),
        ("viewer", SUBJECTS),
        ("provider_editor_a", ("Hausbesuche strittig", "Abrechnung Rahmenvertrag", "Raumvergabe Stadtteilzentrum")),
        # B is a member of the network only; public agreements and networks do not open their conflicts
        ("provider_editor_b", ("Protokolle fehlen",)),
    ])
    def test_list_shows_what_the_persona_may_see(self, world, personas, persona, seen):
        response = client_for(personas[persona]).get(f"{BASE}/")
        assert response.status_code == 200
        page = text(response)
        for subject in SUBJECTS:
            assert (subject in page) == (subject in seen), (persona, subject)

    def test_outsider_gets_404_for_other_cases_also_under_public_owners(self, world, provider_editor_b):
        client = client_for(provider_editor_b)
        for key in ("case", "public_case", "public_net_case"):
            assert client.get(f"{BASE}/{world[key].uuid}/").status_code == 404, key
        assert client.get(f"{BASE}/{world['net_case'].uuid}/").status_code == 200

    def test_outsider_cannot_escalate_or_close_what_it_does_not_see(self, world, provider_editor_b):
        client = client_for(provider_editor_b)
        case = world["case"]
        assert client.post(f"{BASE}/{case.uuid}/naechste-stufe/").status_code == 404
        assert client.post(f"{BASE}/{case.uuid}/abschliessen/", {"status": "resolved", "outcome": "x"}).status_code == 404
        case.refresh_from_db()
        assert case.step == world["steps"][0] and case.status == "open"

    @pytest.mark.parametrize("persona", ["viewer", "provider_editor_a", "provider_editor_b"])
    def test_who_sees_but_does_not_handle_gets_403_and_no_buttons(self, world, personas, persona):
        # A is a party of the agreement, B a member of the network: they read, planners / the coordination handle
        case = world["net_case"] if persona == "provider_editor_b" else world["case"]
        client = client_for(personas[persona])
        page = client.get(f"{BASE}/{case.uuid}/").content.decode()
        assert "Nächste Stufe</button>" not in page and "naechste-stufe" not in page and "abschliessen" not in page
        assert client.post(f"{BASE}/{case.uuid}/naechste-stufe/").status_code == 403
        assert client.post(f"{BASE}/{case.uuid}/abschliessen/",
                           {"status": "resolved", "outcome": "Einigung"}).status_code == 403
        before = case.step_id
        case.refresh_from_db()
        assert case.status == "open" and case.step_id == before

    def test_coordinator_handles_its_network_case_not_the_agreement_case(self, world, coordinator_editor):
        client = client_for(coordinator_editor)
        response = client.post(f"{BASE}/{world['net_case'].uuid}/naechste-stufe/")
        assert response.status_code == 302
        world["net_case"].refresh_from_db()
        assert world["net_case"].step == world["net_steps"][1]
        # C is a party of the agreement (sees the case) but agreement cases are the planners'
        assert client.get(f"{BASE}/{world['case'].uuid}/").status_code == 200
        assert client.post(f"{BASE}/{world['case'].uuid}/naechste-stufe/").status_code == 403

    def test_post_only_urls_refuse_get(self, world, planner):
        client = client_for(planner)
        for suffix in ("naechste-stufe", "abschliessen"):
            assert client.get(f"{BASE}/{world['case'].uuid}/{suffix}/").status_code == 405


class TestList:
    def test_row_shows_owner_raiser_step_deadline_status(self, world, planner):
        page = table_text(client_for(planner).get(f"{BASE}/"))
        due = (timezone.localdate() + datetime.timedelta(days=14)).strftime("%d.%m.%Y")
        assert (f"Hausbesuche strittig Vereinbarung Kooperation Nord Träger A e. V. Stufe 1: Sozialraumteam {due} offen"
                in page)
        assert "Protokolle fehlen Netzwerk Sozialraumteam Süd Träger B gGmbH Stufe 1: Koordination" in page
        assert "Frist überschritten" not in page  # no case overdue yet

    def test_overdue_deadline_as_text_and_filter(self, world, planner):
        ConflictCase.objects.filter(pk=world["net_case"].pk).update(
            step_due=timezone.localdate() - datetime.timedelta(days=1))
        client = client_for(planner)
        page = table_text(client.get(f"{BASE}/"))
        yesterday = (timezone.localdate() - datetime.timedelta(days=1)).strftime("%d.%m.%Y")
        assert f"Stufe 1: Koordination {yesterday} Frist überschritten offen" in page
        assert page.count("Frist überschritten") == 1
        page = table_text(client.get(f"{BASE}/?overdue=true"))
        assert "Protokolle fehlen" in page and "Hausbesuche strittig" not in page
        page = table_text(client.get(f"{BASE}/?overdue=false"))
        assert "Protokolle fehlen" not in page and "Hausbesuche strittig" in page

    def test_closed_case_is_never_overdue(self, world, planner):
        ConflictCase.objects.filter(pk=world["case"].pk).update(
            status="resolved", outcome="geklärt", step_due=timezone.localdate() - datetime.timedelta(days=3))
        page = table_text(client_for(planner).get(f"{BASE}/"))
        assert "Frist überschritten" not in page and "Hausbesuche strittig" in page

    def test_filters_status_agreement_network(self, world, planner):
        ConflictCase.objects.filter(pk=world["public_case"].pk).update(status="mediated", outcome="vermittelt")
        client = client_for(planner)
        page = text(client.get(f"{BASE}/?status=mediated"))
        assert "Abrechnung Rahmenvertrag" in page and "Hausbesuche strittig" not in page
        page = text(client.get(f"{BASE}/?agreement={world['agreement'].uuid}"))
        assert "Hausbesuche strittig" in page and "Abrechnung Rahmenvertrag" not in page
        page = text(client.get(f"{BASE}/?network={world['network'].uuid}"))
        assert "Protokolle fehlen" in page and "Raumvergabe" not in page

    def test_raiser_linked_only_where_the_user_may_open_it(self, world, planner, provider_editor_b):
        org_b = world["org_b"]
        assert f'href="/organisationen/{world["org_a"].uuid}/"' in client_for(planner).get(f"{BASE}/").content.decode()
        client = client_for(provider_editor_b)
        html = client.get(f"{BASE}/").content.decode()
        assert f'href="/organisationen/{org_b.uuid}/"' in html  # its own organisation raised the network case
        ConflictCase.objects.filter(pk=world["net_case"].pk).update(raised_by=world["org_c"])
        for response in (client.get(f"{BASE}/"), client.get(f"{BASE}/{world['net_case'].uuid}/")):
            html = response.content.decode()
            assert f"/organisationen/{world['org_c'].uuid}/" not in html and "Jugendhilfe C e. V." in html

    def test_filter_choices_only_from_visible_cases(self, world, provider_editor_b):
        html = client_for(provider_editor_b).get(f"{BASE}/").content.decode()
        assert str(world["network"].uuid) in html
        for key in ("agreement", "public", "public_network"):
            assert str(world[key].uuid) not in html, key

    @pytest.mark.parametrize("persona", ["planner", "provider_editor_a"])
    def test_query_count_does_not_grow_with_rows(self, world, personas, persona, django_assert_max_num_queries):
        for i in range(25):
            agreement = AgreementFactory(title=f"Vereinbarung {i}", public=True)
            AgreementPartyFactory(agreement=agreement, organization=world["org_a"])
            step = EscalationStepFactory(agreement=agreement, order=1)
            ConflictCaseFactory(agreement=agreement, raised_by=OrganizationFactory(), step=step,
                                step_due=timezone.localdate())
        client = client_for(personas[persona])
        # session, user, roles, memberships (+ branches), filter choices (2), count, rows, linkable raisers,
        # unread notifications (base template)
        with django_assert_max_num_queries(11):
            response = client.get(f"{BASE}/")
        assert response.status_code == 200
        assert text(response).count("Stufe 1:") >= 26


class TestRaise:
    def url(self, owner, param="vereinbarung"):
        return f"{BASE}/neu/?{param}={owner.uuid}"

    def test_form_for_a_party_with_hint_and_procedure(self, world, provider_editor_a):
        response = client_for(provider_editor_a).get(self.url(world["agreement"]))
        assert response.status_code == 200
        page = text(response)
        assert HINT in page
        assert "Sozialraumteam, Frist 14 Tage Fachdienstleitung, Frist 21 Tage Lenkungsgruppe, Frist 30 Tage" in page
        options = re.findall(r"<option[^>]*>([^<]*)</option>", response.content.decode())
        assert options == ["Träger A e. V."]  # only organisations the user edits

    def test_raise_under_agreement_starts_at_step_one(self, world, provider_editor_a):
        response = client_for(provider_editor_a).post(self.url(world["agreement"]), {
            "organization": world["org_a"].pk, "subject": "  Übergaben  ", "description": "Übergaben klappen nicht."})
        assert response.status_code == 302
        case = ConflictCase.objects.get(subject="Übergaben")
        assert response["Location"] == f"{BASE}/{case.uuid}/"
        assert case.agreement == world["agreement"] and case.raised_by == world["org_a"]
        assert case.step == world["steps"][0]
        assert case.step_due == timezone.localdate() + datetime.timedelta(days=14)

    def test_member_raises_under_network(self, world, provider_editor_b):
        response = client_for(provider_editor_b).post(self.url(world["network"], "netzwerk"), {
            "organization": world["org_b"].pk, "subject": "Termine", "description": "Sitzungen fallen aus."})
        assert response.status_code == 302
        assert ConflictCase.objects.get(subject="Termine").network == world["network"]

    def test_errors_next_to_fields(self, world, provider_editor_a):
        response = client_for(provider_editor_a).post(self.url(world["agreement"]), {
            "organization": world["org_a"].pk, "subject": "  ", "description": ""})
        assert response.status_code == 200
        html = response.content.decode()
        assert re.search(r'id="id_subject_error"><li>Bitte den Gegenstand angeben\.', html)
        assert re.search(r'id="id_description_error"><li>Bitte den Konflikt beschreiben\.', html)
        assert "Bitte 2 Angaben korrigieren." in text(html)
        assert ConflictCase.objects.count() == 4

    def test_cannot_raise_for_another_organisation(self, world, provider_editor_a):
        response = client_for(provider_editor_a).post(self.url(world["agreement"]), {
            "organization": world["org_c"].pk, "subject": "Fremd", "description": "Für C eingebracht."})
        assert response.status_code == 200
        assert "Bitte eine der angebotenen Organisationen wählen." in text(response)
        assert not ConflictCase.objects.filter(subject="Fremd").exists()

    def test_owner_must_be_given_and_visible(self, world, provider_editor_b):
        client = client_for(provider_editor_b)
        assert client.get(f"{BASE}/neu/").status_code == 404
        assert client.get(f"{BASE}/neu/?vereinbarung=kein-uuid").status_code == 404
        # a private agreement B is no party to, a private network B does not belong to
        assert client.get(self.url(world["agreement"])).status_code == 404
        other = NetworkFactory(name="Geschlossen")
        assert client.get(self.url(other, "netzwerk")).status_code == 404
        assert client.post(self.url(world["agreement"]), {
            "organization": world["org_b"].pk, "subject": "x", "description": "y"}).status_code == 404

    @pytest.mark.parametrize("persona, owner, param", [
        ("provider_editor_b", "public", "vereinbarung"),  # sees the public agreement, is no party
        ("provider_editor_b", "public_network", "netzwerk"),
        ("viewer", "agreement", "vereinbarung"),  # reads everything, belongs to no organisation
    ])
    def test_no_eligible_organisation_is_403_with_explanation(self, world, personas, persona, owner, param):
        client = client_for(personas[persona])
        response = client.get(self.url(world[owner], param))
        assert response.status_code == 403
        assert "Sie sind bei keiner" in text(response)
        response = client.post(self.url(world[owner], param), {"subject": "x", "description": "y"})
        assert response.status_code == 403
        assert ConflictCase.objects.count() == 4

    def test_planner_may_raise_for_any_party(self, world, planner):
        response = client_for(planner).get(self.url(world["agreement"]))
        options = re.findall(r"<option[^>]*>([^<]*)</option>", response.content.decode())
        assert options == ["Jugendhilfe C e. V.", "Träger A e. V."]


class TestProcedure:
    def detail(self, client, case):
        return client.get(f"{BASE}/{case.uuid}/")

    def current_step(self, html) -> str:
        match = re.search(r'<li aria-current="step">(.*?)</li>', html, re.S)
        return text(match.group(1)) if match else ""

    def test_escalation_through_three_steps_then_last_step_error(self, world, planner):
        client = client_for(planner)
        case = world["case"]
        html = self.detail(client, case).content.decode()
        assert html.count('aria-current="step"') == 1
        assert self.current_step(html).startswith("Sozialraumteam – aktuelle Stufe")
        assert "Nächste Stufe: 2. Fachdienstleitung." in text(html)
        for order, name, days in ((2, "Fachdienstleitung", 21), (3, "Lenkungsgruppe", 30)):
            response = client.post(f"{BASE}/{case.uuid}/naechste-stufe/", follow=True)
            case.refresh_from_db()
            assert case.step.order == order
            assert case.step_due == timezone.localdate() + datetime.timedelta(days=days)
            assert f"jetzt in Stufe {order} ({name})" in messages_of(response)
            current = self.current_step(response.content.decode())
            assert current.startswith(f"{name} – aktuelle Stufe")
            assert case.step_due.strftime("%d.%m.%Y") in current
        assert "Das ist die letzte Stufe des Verfahrens." in text(response)
        response = client.post(f"{BASE}/{case.uuid}/naechste-stufe/", follow=True)
        assert "Die letzte Stufe des Verfahrens ist erreicht" in messages_of(response)
        case.refresh_from_db()
        assert case.step.order == 3 and case.status == "open"

    def test_overdue_deadline_marked_on_the_current_step(self, world, planner):
        ConflictCase.objects.filter(pk=world["case"].pk).update(
            step_due=timezone.localdate() - datetime.timedelta(days=2))
        html = self.detail(client_for(planner), world["case"]).content.decode()
        assert "Frist überschritten" in self.current_step(html)

    def test_closing_requires_an_outcome(self, world, planner):
        client = client_for(planner)
        case = world["case"]
        response = client.post(f"{BASE}/{case.uuid}/abschliessen/", {"status": "mediated", "outcome": "   "})
        assert response.status_code == 200
        html = response.content.decode()
        assert re.search(r'id="id_outcome_error"><li>Bitte das Ergebnis angeben\.', html)
        assert 'href="#id_outcome"' in html  # the error summary leads to the field
        assert re.search(r'value="mediated"[^>]*checked', html)  # the choice is kept
        case.refresh_from_db()
        assert case.status == "open" and case.outcome == ""
        response = client.post(f"{BASE}/{case.uuid}/abschliessen/", {"outcome": "Einigung"})
        assert "Bitte wählen, wie der Konfliktfall endet." in text(response)

    def test_close_shows_outcome_and_removes_buttons(self, world, planner):
        client = client_for(planner)
        case = world["case"]
        response = client.post(f"{BASE}/{case.uuid}/abschliessen/",
                               {"status": "mediated", "outcome": "Hausbesuche macht künftig Träger A."}, follow=True)
        case.refresh_from_db()
        assert case.status == "mediated" and case.closed_at is not None
        page = text(response)
        assert "Ergebnis vermittelt Hausbesuche macht künftig Träger A." in page
        assert "abgeschlossen: vermittelt" in messages_of(response)
        html = response.content.decode()
        assert 'aria-current="step"' not in html and "naechste-stufe" not in html and "abschliessen/" not in html
        assert "(zuletzt erreichte Stufe)" in page
        # closing again: the workflow's message
        response = client.post(f"{BASE}/{case.uuid}/naechste-stufe/", follow=True)
        assert "Der Konfliktfall ist abgeschlossen." in messages_of(response)

    def test_history_and_facts(self, world, planner):
        client = client_for(planner)
        client.post(f"{BASE}/{world['case'].uuid}/naechste-stufe/")
        html = self.detail(client, world["case"]).content.decode()
        page = text(html)
        history = text(re.search(r'<section class="history".*?</section>', html, re.S).group(0))
        assert "angelegt" in history and "Gegenstand – Hausbesuche strittig" in history
        assert "geändert" in history  # the escalation by the planner
        assert "eingebracht von Träger A e. V." in page
        assert "Zuständigkeit für Hausbesuche ist strittig." in page

    def test_detail_query_count(self, world, planner, django_assert_max_num_queries):
        client = client_for(planner)
        with django_assert_max_num_queries(13):
            assert self.detail(client, world["case"]).status_code == 200

