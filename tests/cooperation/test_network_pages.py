"""Pages of networks below /kooperation/netzwerke/: list, network page with
members, conflict procedure, meetings and open tasks; create/edit/delete;
meetings with attendees, case-conference counts and task rows; marking tasks
done; the task list ("Meine Aufgaben").

Every URL is tried by every persona: provider editor A (editor of the
coordinating organisation) runs the network, provider editor B (outsider) gets
404 for the private network, viewers and region leads read (403 on writes),
anonymous visitors go to the login page, planners do everything. Also: case
conference fields refused for other kinds, tasks done only by the responsible
organisation's editors (or the network's runners), atomic saves, query counts."""

import datetime
import re
from unittest import mock

import pytest
from django.db import IntegrityError
from django.test import Client
from django.utils import timezone

from cooperation import meetings
from cooperation.models import EscalationStep, Meeting, MeetingTask, Network, NetworkMember
from cooperation.network_forms import MeetingForm, meeting_task_formset
from tests.factories import (
    EscalationStepFactory,
    FieldOfActionFactory,
    MeetingFactory,
    MeetingTaskFactory,
    MembershipFactory,
    NetworkFactory,
    NetworkMemberFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

BASE = "/kooperation/netzwerke"
PERSONAS = ("planner", "region_lead", "viewer", "provider_editor_a", "provider_editor_b")


def client_for(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def text(html) -> str:
    if not isinstance(html, str):
        html = html.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ").strip()


def at(day: datetime.date, hour=14, minute=0):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


@pytest.fixture
def field_a(db):
    return FieldOfActionFactory(key="test-jugend", name="Testjugendhilfe")


@pytest.fixture
def org_c(db):
    return OrganizationFactory(name="Familienzentrum C")


@pytest.fixture
def provider_editor_c(org_c):
    """Editor of org C, an ordinary member of the network."""
    user = UserFactory(username="provider_c")
    MembershipFactory(user=user, organization=org_c, role="editor")
    return user


@pytest.fixture
def world(tree, org_a, org_b, org_c, field_a):
    """A private social space team coordinated by A with member C, one step,
    one meeting with a task for C (open, due yesterday) and a task for A;
    a private case conference coordinated by A; a public district conference
    coordinated by B."""
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    team = NetworkFactory(name="Sozialraumteam Nord", kind="social_space_team", coordinator=org_a, public=False,
                          regions=[tree["P11"]], fields=[field_a], cadence="monthly", contact="srt-nord@example.org",
                          description="Fallübergreifende Abstimmung im Norden.")
    member_c = NetworkMemberFactory(network=team, organization=org_c, role="member",
                                    responsibilities="Familienbildung")
    step = EscalationStepFactory(agreement=None, network=team, order=1, handled_by="Sozialraumteam", days=14)
    meeting = MeetingFactory(network=team, starts_at=at(timezone.localdate() - datetime.timedelta(days=7)),
                             place="Stadtteilzentrum Nord", agenda="1. Bedarfe", decisions="Ferienangebot planen",
                             attendees=[org_a, org_c])
    task_c = MeetingTaskFactory(meeting=meeting, title="Ferienprogramm abstimmen", responsible=org_c, due=yesterday)
    task_a = MeetingTaskFactory(meeting=meeting, title="Raum reservieren", responsible=org_a,
                                due=timezone.localdate() + datetime.timedelta(days=30))
    case = NetworkFactory(name="Fallkonferenz Nord", kind="case_conference", coordinator=org_a, public=False)
    public_b = NetworkFactory(name="Stadtteilkonferenz Süd", kind="district_conference", coordinator=org_b,
                              public=True, regions=[tree["P21"]])
    return {"team": team, "member_c": member_c, "step": step, "meeting": meeting, "task_c": task_c,
            "task_a": task_a, "case": case, "public_b": public_b, "org_a": org_a, "org_b": org_b, "org_c": org_c,
            "field": field_a, "tree": tree}


def urls(world):
    team, meeting = world["team"], world["meeting"]
    return {
        "network-list": f"{BASE}/",
        "network-create": f"{BASE}/neu/",
        "task-list": f"{BASE}/aufgaben/",
        "network-detail": f"{BASE}/{team.uuid}/",
        "network-update": f"{BASE}/{team.uuid}/bearbeiten/",
        "network-delete": f"{BASE}/{team.uuid}/loeschen/",
        "member-create": f"{BASE}/{team.uuid}/mitglieder/",
        "member-update": f"{BASE}/{team.uuid}/mitglieder/{world['member_c'].pk}/",
        "member-delete": f"{BASE}/{team.uuid}/mitglieder/{world['member_c'].pk}/entfernen/",
        "step-create": f"{BASE}/{team.uuid}/konfliktverfahren/",
        "step-delete": f"{BASE}/{team.uuid}/konfliktverfahren/{world['step'].pk}/entfernen/",
        "meeting-create": f"{BASE}/{team.uuid}/sitzungen/neu/",
        "meeting-detail": f"{BASE}/sitzungen/{meeting.uuid}/",
        "meeting-update": f"{BASE}/sitzungen/{meeting.uuid}/bearbeiten/",
        "meeting-delete": f"{BASE}/sitzungen/{meeting.uuid}/loeschen/",
        "task-create": f"{BASE}/sitzungen/{meeting.uuid}/aufgaben/",
        "task-done": f"{BASE}/aufgaben/{world['task_c'].pk}/erledigt/",
        "task-reopen": f"{BASE}/aufgaben/{world['task_c'].pk}/wieder-offen/",
    }


def meeting_data(world, day=None, **changes):
    """A complete, valid POST of the meeting form (three empty task rows)."""
    day = day or timezone.localdate()
    data = {
        "date": day.isoformat(), "time": "15:30", "place": "Rathaus", "agenda": "1. Bericht",
        "decisions": "Weiter wie geplant.", "attendees": [world["org_a"].pk, world["org_c"].pk],
        "aufgaben-TOTAL_FORMS": "3", "aufgaben-INITIAL_FORMS": "0", "aufgaben-MIN_NUM_FORMS": "0",
        "aufgaben-MAX_NUM_FORMS": "1000",
    }
    for i in range(3):
        data.update({f"aufgaben-{i}-title": "", f"aufgaben-{i}-responsible": "", f"aufgaben-{i}-due": ""})
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def edit_data(meeting, **changes):
    """A valid POST of the edit form of ``meeting`` as it is (its tasks unchanged, one empty row)."""
    tasks = list(MeetingTask.objects.filter(meeting=meeting).order_by("pk"))
    local = timezone.localtime(meeting.starts_at)
    data = {
        "date": local.date().isoformat(), "time": local.strftime("%H:%M"), "place": meeting.place,
        "agenda": meeting.agenda, "decisions": meeting.decisions,
        "attendees": [o.pk for o in meeting.attendees.all()],
        "aufgaben-TOTAL_FORMS": str(len(tasks) + 1), "aufgaben-INITIAL_FORMS": str(len(tasks)),
        "aufgaben-MIN_NUM_FORMS": "0", "aufgaben-MAX_NUM_FORMS": "1000",
    }
    for i, task in enumerate(tasks):
        data.update({f"aufgaben-{i}-id": task.pk, f"aufgaben-{i}-title": task.title,
                     f"aufgaben-{i}-responsible": task.responsible_id, f"aufgaben-{i}-due": task.due.isoformat()})
    n = len(tasks)
    data.update({f"aufgaben-{n}-title": "", f"aufgaben-{n}-responsible": "", f"aufgaben-{n}-due": ""})
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def network_data(world, **changes):
    data = {"name": "Sozialraumteam Nord", "kind": "social_space_team", "description": "Neu beschrieben.",
            "regions": [world["tree"]["P11"].pk], "fields": [world["field"].pk], "coordinator": world["org_a"].pk,
            "cadence": "quarterly", "contact": "srt@example.org", "active": "on"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def post_data(world, name):
    """A valid POST for each write URL."""
    newcomer = OrganizationFactory(name="Neue Initiative")
    return {
        "member-create": {"mitglied-organization": newcomer.pk, "mitglied-role": "guest",
                          "mitglied-responsibilities": "Beratung"},
        "member-update": {f"m{world['member_c'].pk}-role": "guest", f"m{world['member_c'].pk}-responsibilities": "x"},
        "step-create": {"stufe-order": 2, "stufe-handled_by": "Lenkungsgruppe", "stufe-days": 30},
        "task-create": {"aufgabe-title": "Einladung verschicken", "aufgabe-responsible": world["org_a"].pk,
                        "aufgabe-due": "2030-01-31"},
        "network-update": network_data(world),
        "meeting-update": edit_data(world["meeting"], place="Neuer Ort"),
        "meeting-create": meeting_data(world),
    }.get(name, {})


# --- Every URL, every persona ---------------------------------------------------------------

GET_EXPECTED = {
    #                       planner lead  viewer prov_a prov_b
    "network-list":        (200, 200, 200, 200, 200),
    "network-create":      (200, 403, 403, 403, 403),
    "task-list":           (200, 200, 200, 200, 200),
    "network-detail":      (200, 200, 200, 200, 404),
    "network-update":      (200, 403, 403, 200, 404),
    "network-delete":      (200, 403, 403, 403, 404),
    "meeting-create":      (200, 403, 403, 200, 404),
    "meeting-detail":      (200, 200, 200, 200, 404),
    "meeting-update":      (200, 403, 403, 200, 404),
    "meeting-delete":      (200, 403, 403, 200, 404),
}
POST_EXPECTED = {
    "network-update":      (302, 403, 403, 302, 404),
    "network-delete":      (302, 403, 403, 403, 404),
    "member-create":       (302, 403, 403, 302, 404),
    "member-update":       (302, 403, 403, 302, 404),
    "member-delete":       (302, 403, 403, 302, 404),
    "step-create":         (302, 403, 403, 302, 404),
    "step-delete":         (302, 403, 403, 302, 404),
    "meeting-create":      (302, 403, 403, 302, 404),
    "meeting-update":      (302, 403, 403, 302, 404),
    "meeting-delete":      (302, 403, 403, 302, 404),
    "task-create":         (302, 403, 403, 302, 404),
    "task-done":           (302, 403, 403, 302, 404),
    "task-reopen":         (302, 403, 403, 302, 404),
}
POST_ONLY = ("member-create", "member-update", "member-delete", "step-create", "step-delete", "task-create",
             "task-done", "task-reopen")


class TestEveryUrlEveryPersona:
    @pytest.mark.parametrize("name", sorted(GET_EXPECTED))
    @pytest.mark.parametrize("persona", PERSONAS)
    def test_get(self, world, personas, name, persona):
        expected = GET_EXPECTED[name][PERSONAS.index(persona)]
        response = client_for(personas[persona]).get(urls(world)[name])
        assert response.status_code == expected, (name, persona)

    @pytest.mark.parametrize("name", sorted(POST_EXPECTED))
    @pytest.mark.parametrize("persona", PERSONAS)
    def test_post(self, world, personas, name, persona):
        expected = POST_EXPECTED[name][PERSONAS.index(persona)]
        counts = (Network.objects.count(), NetworkMember.objects.count(), EscalationStep.objects.count(),
                  Meeting.objects.count(), MeetingTask.objects.count())
        response = client_for(personas[persona]).post(urls(world)[name], post_data(world, name))
        assert response.status_code == expected, (name, persona, response.content.decode()[:2000])
        if expected != 302:  # refused: nothing changed
            assert counts == (Network.objects.count(), NetworkMember.objects.count(), EscalationStep.objects.count(),
                              Meeting.objects.count(), MeetingTask.objects.count())
            assert MeetingTask.objects.get(pk=world["task_c"].pk).done_at is None
            assert NetworkMember.objects.get(pk=world["member_c"].pk).role == "member"
            assert Meeting.objects.get(pk=world["meeting"].pk).place == "Stadtteilzentrum Nord"
            assert Network.objects.get(pk=world["team"].pk).cadence == "monthly"

    @pytest.mark.parametrize("name", sorted(set(GET_EXPECTED) | set(POST_EXPECTED)))
    def test_anonymous_goes_to_the_login_page(self, world, name):
        url = urls(world)[name]
        for method in ("get", "post"):
            response = getattr(Client(), method)(url)
            assert response.status_code == 302 and response["Location"].startswith("/anmelden/?next="), (name, method)
        assert MeetingTask.objects.get(pk=world["task_c"].pk).done_at is None
        assert Network.objects.filter(pk=world["team"].pk).exists()

    def test_post_only_urls_refuse_get(self, world, planner):
        client = client_for(planner)
        for name in POST_ONLY:
            assert client.get(urls(world)[name]).status_code == 405, name

    def test_writes_need_the_csrf_token(self, world, provider_editor_a):
        client = Client(enforce_csrf_checks=True)
        client.force_login(provider_editor_a)
        assert client.post(urls(world)["task-done"]).status_code == 403
        assert client.post(urls(world)["step-create"], post_data(world, "step-create")).status_code == 403
        assert MeetingTask.objects.get(pk=world["task_c"].pk).done_at is None
        assert EscalationStep.objects.filter(network=world["team"]).count() == 1

    def test_unknown_objects_are_404(self, world, planner):
        client = client_for(planner)
        assert client.get(f"{BASE}/00000000-0000-0000-0000-000000000000/").status_code == 404
        assert client.post(f"{BASE}/aufgaben/999999/erledigt/").status_code == 404
        team = world["team"]
        other = EscalationStepFactory(agreement=None, network=world["case"], order=1)
        # a step or member of another network through this network's URL
        assert client.post(f"{BASE}/{team.uuid}/konfliktverfahren/{other.pk}/entfernen/").status_code == 404
        member_elsewhere = NetworkMemberFactory(network=world["case"], organization=world["org_b"])
        assert client.post(f"{BASE}/{team.uuid}/mitglieder/{member_elsewhere.pk}/entfernen/").status_code == 404
        assert EscalationStep.objects.filter(pk=other.pk).exists()
        assert NetworkMember.objects.filter(pk=member_elsewhere.pk).exists()


class TestWhoRunsANetwork:
    def test_member_with_coordination_role_may_change(self, world, provider_editor_c):
        client = client_for(provider_editor_c)
        team = world["team"]
        # an ordinary member reads, but does not change
        assert client.get(f"{BASE}/{team.uuid}/").status_code == 200
        assert client.get(f"{BASE}/{team.uuid}/bearbeiten/").status_code == 403
        assert client.post(f"{BASE}/{team.uuid}/konfliktverfahren/", post_data(world, "step-create")).status_code == 403
        NetworkMember.objects.filter(pk=world["member_c"].pk).update(role="coordination")
        client = client_for(provider_editor_c)
        assert client.get(f"{BASE}/{team.uuid}/bearbeiten/").status_code == 200
        assert client.post(f"{BASE}/{team.uuid}/konfliktverfahren/", post_data(world, "step-create")).status_code == 302
        assert client.get(f"{BASE}/{team.uuid}/loeschen/").status_code == 403  # delete: planners only

    def test_provider_reader_of_the_coordinator_reads_only(self, world):
        reader = UserFactory(username="a_reader")
        MembershipFactory(user=reader, organization=world["org_a"], role="viewer")
        client = client_for(reader)
        team = world["team"]
        assert client.get(f"{BASE}/{team.uuid}/").status_code == 200
        assert client.get(f"{BASE}/{team.uuid}/bearbeiten/").status_code == 403
        assert client.post(f"{BASE}/aufgaben/{world['task_a'].pk}/erledigt/").status_code == 403
        assert MeetingTask.objects.get(pk=world["task_a"].pk).done_at is None

    def test_outsider_sees_public_networks_only(self, world, provider_editor_b):
        client = client_for(provider_editor_b)
        page = text(client.get(f"{BASE}/"))
        assert "Stadtteilkonferenz Süd" in page
        assert "Sozialraumteam Nord" not in page and "Fallkonferenz Nord" not in page
        assert client.get(f"{BASE}/{world['public_b'].uuid}/").status_code == 200
        # B coordinates its own public network
        assert client.get(f"{BASE}/{world['public_b'].uuid}/bearbeiten/").status_code == 200
        page = text(client.get(f"{BASE}/aufgaben/?mine=false"))
        assert "Ferienprogramm abstimmen" not in page and "Raum reservieren" not in page

    def test_provider_a_reads_but_does_not_change_b_public_network(self, world, provider_editor_a):
        client = client_for(provider_editor_a)
        public_b = world["public_b"]
        assert client.get(f"{BASE}/{public_b.uuid}/").status_code == 200
        assert client.get(f"{BASE}/{public_b.uuid}/bearbeiten/").status_code == 403
        assert client.get(f"{BASE}/{public_b.uuid}/sitzungen/neu/").status_code == 403
        html = client.get(f"{BASE}/{public_b.uuid}/").content.decode()
        assert "/bearbeiten/" not in html and "Mitglied hinzufügen" not in html and "Stufe hinzufügen" not in html


class TestViewerReadsOnly:
    def test_no_write_controls(self, world, viewer):
        client = client_for(viewer)
        html = client.get(f"{BASE}/{world['team'].uuid}/").content.decode()
        assert "Sozialraumteam Nord" in html and "Familienbildung" in html
        for needle in ("/bearbeiten/", "/loeschen/", "/mitglieder/", "/konfliktverfahren/", "/sitzungen/neu/",
                       "/erledigt/", "Mitglied hinzufügen"):
            assert needle not in html, needle
        html = client.get(f"{BASE}/sitzungen/{world['meeting'].uuid}/").content.decode()
        assert "Ferienangebot planen" in html
        assert "/bearbeiten/" not in html and "/erledigt/" not in html and "Aufgabe hinzufügen" not in html
        assert f'href="{BASE}/neu/"' not in client.get(f"{BASE}/").content.decode()


# --- The network page ---------------------------------------------------------------------------


class TestNetworkPage:
    def test_shows_everything(self, world, provider_editor_a):
        older = MeetingFactory(network=world["team"], starts_at=at(datetime.date(2024, 3, 5)), place="Altbau")
        EscalationStepFactory(agreement=None, network=world["team"], order=2, handled_by="Fachdienstleitung", days=30)
        html = client_for(provider_editor_a).get(f"{BASE}/{world['team'].uuid}/").content.decode()
        page = text(html)
        for expected in ("Sozialraumteam", "Nord-West", "Testjugendhilfe", "Träger A e. V.", "monatlich",
                         "srt-nord@example.org", "Fallübergreifende Abstimmung im Norden.", "Familienzentrum C",
                         "Familienbildung", "Fachdienstleitung", "Ferienprogramm abstimmen", "Änderungsverlauf"):
            assert expected in page, expected
        # meetings newest first, with links
        newest = html.index(f"{BASE}/sitzungen/{world['meeting'].uuid}/")
        assert newest < html.index(f"{BASE}/sitzungen/{older.uuid}/")
        # steps in order
        assert page.index("Sozialraumteam 14") < page.index("Fachdienstleitung 30")
        # the overdue task says so in words, the other not
        row = re.search(r"<tr class=\"row--attention\">.*?</tr>", html, re.S).group(0)
        assert "Ferienprogramm abstimmen" in row and "überfällig" in row
        assert html.count("überfällig</strong>") == 1
        assert "1 Aufgabe ist überfällig." in page

    def test_organisation_links_only_where_the_page_can_be_opened(self, world, provider_editor_a, viewer):
        html = client_for(provider_editor_a).get(f"{BASE}/{world['team'].uuid}/").content.decode()
        assert f"/organisationen/{world['org_a'].uuid}/" in html
        assert f"/organisationen/{world['org_c'].uuid}/" not in html  # 404 for A: not linked
        html = client_for(viewer).get(f"{BASE}/{world['team'].uuid}/").content.decode()
        assert f"/organisationen/{world['org_c'].uuid}/" in html

    def test_history_records_changes(self, world, planner):
        client = client_for(planner)
        client.post(f"{BASE}/{world['team'].uuid}/bearbeiten/", network_data(world, cadence="weekly"))
        page = text(client.get(f"{BASE}/{world['team'].uuid}/"))
        assert "Sitzungsrhythmus monatlich wöchentlich" in page


class TestMembers:
    def test_add_change_remove(self, world, provider_editor_a):
        client = client_for(provider_editor_a)
        team = world["team"]
        response = client.post(f"{BASE}/{team.uuid}/mitglieder/", {
            "mitglied-organization": world["org_b"].pk, "mitglied-role": "member",
            "mitglied-responsibilities": "Schuldnerberatung"})
        assert response.status_code == 302 and response["Location"].endswith("#mitglieder")
        member = NetworkMember.objects.get(network=team, organization=world["org_b"])
        assert member.responsibilities == "Schuldnerberatung"
        messages = text(client.get(response["Location"]))
        assert "„Träger B gGmbH“ ist jetzt im Netzwerk (Mitglied)." in messages
        response = client.post(f"{BASE}/{team.uuid}/mitglieder/{member.pk}/", {
            f"m{member.pk}-role": "coordination", f"m{member.pk}-responsibilities": "Moderation"})
        assert response.status_code == 302
        member.refresh_from_db()
        assert (member.role, member.responsibilities) == ("coordination", "Moderation")
        assert client.post(f"{BASE}/{team.uuid}/mitglieder/{member.pk}/entfernen/").status_code == 302
        assert not NetworkMember.objects.filter(pk=member.pk).exists()

    def test_errors_next_to_the_fields(self, world, provider_editor_a):
        client = client_for(provider_editor_a)
        team = world["team"]
        response = client.post(f"{BASE}/{team.uuid}/mitglieder/", {
            "mitglied-organization": world["org_c"].pk, "mitglied-role": "member"})
        assert response.status_code == 200
        html = response.content.decode()
        assert "Bitte 1 Angabe korrigieren." in text(html)
        assert 'href="#id_mitglied-organization"' in html
        assert re.search(r'id="id_mitglied-organization_error"><li>Bitte eine Organisation aus der Liste wählen; '
                         r'wer schon Mitglied ist, steht nicht zur Wahl.</li>', html)
        assert NetworkMember.objects.filter(network=team).count() == 1
        member = world["member_c"]
        response = client.post(f"{BASE}/{team.uuid}/mitglieder/{member.pk}/", {f"m{member.pk}-role": "boss"})
        assert response.status_code == 200
        assert "Rolle: Bitte eine der angebotenen Rollen wählen." in text(response)
        assert NetworkMember.objects.get(pk=member.pk).role == "member"

    def test_member_choices_leave_out_members(self, world, provider_editor_a):
        html = client_for(provider_editor_a).get(f"{BASE}/{world['team'].uuid}/").content.decode()
        select = re.search(r'<select name="mitglied-organization".*?</select>', html, re.S).group(0)
        assert "Träger B gGmbH" in select and "Familienzentrum C" not in select


class TestEscalationSteps:
    def test_add_and_remove(self, world, provider_editor_a):
        client = client_for(provider_editor_a)
        team = world["team"]
        html = client.get(f"{BASE}/{team.uuid}/").content.decode()
        assert re.search(r'name="stufe-order" value="2"', html)  # the next number is proposed
        response = client.post(f"{BASE}/{team.uuid}/konfliktverfahren/", {
            "stufe-order": 2, "stufe-handled_by": "Lenkungsgruppe", "stufe-days": 30})
        assert response.status_code == 302 and response["Location"].endswith("#konfliktverfahren")
        step = EscalationStep.objects.get(network=team, order=2)
        assert (step.handled_by, step.days, step.agreement_id) == ("Lenkungsgruppe", 30, None)
        assert client.post(f"{BASE}/{team.uuid}/konfliktverfahren/{step.pk}/entfernen/").status_code == 302
        assert list(EscalationStep.objects.filter(network=team).values_list("order", flat=True)) == [1]

    def test_duplicate_order_and_zero_days_are_refused(self, world, provider_editor_a):
        client = client_for(provider_editor_a)
        team = world["team"]
        response = client.post(f"{BASE}/{team.uuid}/konfliktverfahren/", {
            "stufe-order": 1, "stufe-handled_by": "Lenkungsgruppe", "stufe-days": 0})
        assert response.status_code == 200
        page = text(response)
        assert "Bitte 2 Angaben korrigieren." in page
        assert "Diese Stufe gibt es schon." in page and "Die Frist ist mindestens ein Tag." in page
        assert page.count("Die Frist ist mindestens ein Tag.") == 2  # summary and field, no duplicate
        response = client.post(f"{BASE}/{team.uuid}/konfliktverfahren/", {"stufe-order": 3, "stufe-days": 5})
        assert "Bitte angeben, wer auf dieser Stufe zuständig ist." in text(response)
        assert EscalationStep.objects.filter(network=team).count() == 1


# --- Create, edit, delete a network --------------------------------------------------------------


class TestNetworkForm:
    def test_planner_creates_a_network(self, world, planner):
        tree = world["tree"]
        response = client_for(planner).post(f"{BASE}/neu/", network_data(
            world, name="Trägerverbund Süd", kind="provider_alliance", coordinator=world["org_b"].pk,
            regions=[tree["D2"].pk, tree["P21"].pk], public="on"))
        network = Network.objects.get(name="Trägerverbund Süd")
        assert response.status_code == 302 and response["Location"] == f"{BASE}/{network.uuid}/"
        assert network.coordinator == world["org_b"] and network.public and network.kind == "provider_alliance"
        assert set(network.regions.values_list("code", flat=True)) == {"D2", "P21"}
        assert list(network.fields.all()) == [world["field"]]
        assert network.created_by == planner

    def test_coordinator_editor_cannot_hand_the_network_away(self, world, provider_editor_a):
        client = client_for(provider_editor_a)
        team = world["team"]
        html = client.get(f"{BASE}/{team.uuid}/bearbeiten/").content.decode()
        assert re.search(r'<select name="coordinator"[^>]*disabled', html)
        assert "Träger B gGmbH" not in html
        response = client.post(f"{BASE}/{team.uuid}/bearbeiten/", network_data(
            world, coordinator=world["org_b"].pk, name="Sozialraumteam Nord-West"))
        assert response.status_code == 302
        team.refresh_from_db()
        assert team.coordinator == world["org_a"] and team.name == "Sozialraumteam Nord-West"

    def test_validation_errors(self, world, planner):
        response = client_for(planner).post(f"{BASE}/neu/", network_data(world, name="", kind="club", cadence=""))
        assert response.status_code == 200
        html = response.content.decode()
        page = text(html)
        assert "Bitte 3 Angaben korrigieren." in page
        assert "Bitte den Namen des Netzwerks angeben." in page
        assert "Bitte eine der angebotenen Arten wählen." in page and "Bitte den Sitzungsrhythmus wählen." in page
        assert 'id="id_name_error"' in html
        assert Network.objects.count() == 3

    def test_planner_deletes_with_meetings_and_tasks(self, world, planner):
        client = client_for(planner)
        team = world["team"]
        page = text(client.get(f"{BASE}/{team.uuid}/loeschen/"))
        assert "1 Sitzung gelöscht mit 2 Aufgaben" in page
        response = client.post(f"{BASE}/{team.uuid}/loeschen/")
        assert response.status_code == 302 and response["Location"] == f"{BASE}/"
        assert not Network.objects.filter(pk=team.pk).exists()
        assert not Meeting.objects.filter(network_id=team.pk).exists()
        assert not MeetingTask.objects.filter(pk=world["task_c"].pk).exists()


# --- The list --------------------------------------------------------------------------------------


class TestNetworkList:
    def names(self, client, query=""):
        page = client.get(f"{BASE}/{query}")
        assert page.status_code == 200
        return {n.name for n in page.context["object_list"]}

    def test_filters(self, world, planner):
        client = client_for(planner)
        NetworkFactory(name="Altes Gremium", kind="expert_board", active=False)
        assert self.names(client) == {"Sozialraumteam Nord", "Fallkonferenz Nord", "Stadtteilkonferenz Süd",
                                      "Altes Gremium"}
        assert self.names(client, "?kind=case_conference&kind=district_conference") == {
            "Fallkonferenz Nord", "Stadtteilkonferenz Süd"}
        assert self.names(client, "?q=nord") == {"Sozialraumteam Nord", "Fallkonferenz Nord"}
        assert self.names(client, "?q=Fallübergreifende") == {"Sozialraumteam Nord"}
        assert self.names(client, "?region=D1") == {"Sozialraumteam Nord"}  # P11 lies in D1
        assert self.names(client, "?region=P21") == {"Stadtteilkonferenz Süd"}
        assert self.names(client, f"?field={world['field'].key}") == {"Sozialraumteam Nord"}
        assert self.names(client, f"?organization={world['org_c'].uuid}") == {"Sozialraumteam Nord"}
        assert self.names(client, f"?organization={world['org_b'].uuid}") == {"Stadtteilkonferenz Süd"}
        assert self.names(client, "?active=false") == {"Altes Gremium"}
        assert self.names(client, "?public=true") == {"Stadtteilkonferenz Süd"}

    def test_filter_form_offers_the_visible_organisations(self, world, provider_editor_c):
        html = client_for(provider_editor_c).get(f"{BASE}/").content.decode()
        select = re.search(r'<select name="organization".*?</select>', html, re.S).group(0)
        # C is in the team (coordinated by A) and sees B's public conference
        assert "Familienzentrum C" in select and "Träger A e. V." in select and "Träger B gGmbH" in select
        names = {n.name for n in client_for(provider_editor_c).get(f"{BASE}/").context["object_list"]}
        assert names == {"Sozialraumteam Nord", "Stadtteilkonferenz Süd"}

    def test_member_count_is_not_multiplied_by_filters(self, world, planner):
        other_field = FieldOfActionFactory(key="test-alter", name="Testalter")
        world["team"].fields.add(other_field)
        NetworkMemberFactory(network=world["team"], organization=world["org_b"])
        rows = client_for(planner).get(f"{BASE}/?q=Sozialraumteam").context["object_list"]
        assert [(n.name, n.member_count) for n in rows] == [("Sozialraumteam Nord", 2)]


# --- Meetings ------------------------------------------------------------------------------------------


class TestMeetingForm:
    def test_create_with_attendees_and_tasks(self, world, provider_editor_a):
        client = client_for(provider_editor_a)
        team = world["team"]
        day = datetime.date(2026, 5, 12)
        html = client.get(f"{BASE}/{team.uuid}/sitzungen/neu/").content.decode()
        assert "Keine personenbezogenen Daten von Klientinnen und Klienten eintragen" in html
        assert 'name="cases_discussed"' not in html and 'name="case_fields"' not in html
        attendees = re.search(r'<fieldset class="field field--choices".*?Anwesende Organisationen.*?</fieldset>',
                              html, re.S).group(0)
        assert "Träger A e. V." in attendees and "Familienzentrum C" in attendees
        assert "Träger B gGmbH" not in attendees
        response = client.post(f"{BASE}/{team.uuid}/sitzungen/neu/", meeting_data(world, day=day, **{
            "aufgaben-0-title": "Protokoll verschicken", "aufgaben-0-responsible": world["org_a"].pk,
            "aufgaben-0-due": "2026-05-19",
            "aufgaben-2-title": "Flyer drucken", "aufgaben-2-responsible": world["org_c"].pk,
            "aufgaben-2-due": "2026-06-01"}))
        meeting = Meeting.objects.exclude(pk=world["meeting"].pk).get(network=team)
        assert response.status_code == 302 and response["Location"] == f"{BASE}/sitzungen/{meeting.uuid}/"
        assert timezone.localtime(meeting.starts_at).replace(tzinfo=None) == datetime.datetime(2026, 5, 12, 15, 30)
        assert set(meeting.attendees.all()) == {world["org_a"], world["org_c"]}
        tasks = sorted(meeting.tasks.values_list("title", "responsible_id", "due", "created_by_id"))
        assert tasks == [("Flyer drucken", world["org_c"].pk, datetime.date(2026, 6, 1), provider_editor_a.pk),
                         ("Protokoll verschicken", world["org_a"].pk, datetime.date(2026, 5, 19), provider_editor_a.pk)]
        assert meeting.cases_discussed is None and not meeting.case_fields.exists()
        assert "Sitzung am 12.05.2026 15:30 angelegt." in text(client.get(response["Location"]))

    def test_attendees_and_responsible_only_from_the_network(self, world, provider_editor_a):
        client = client_for(provider_editor_a)
        response = client.post(f"{BASE}/{world['team'].uuid}/sitzungen/neu/", meeting_data(world, **{
            "attendees": [world["org_b"].pk], "aufgaben-0-title": "Etwas", "aufgaben-0-responsible": world["org_b"].pk,
            "aufgaben-0-due": "2026-01-01"}))
        assert response.status_code == 200
        page = text(response)
        assert "Bitte nur Organisationen des Netzwerks wählen." in page
        assert "Bitte eine Organisation des Netzwerks wählen." in page
        assert Meeting.objects.count() == 1

    def test_errors_next_to_fields_with_summary(self, world, provider_editor_a):
        response = client_for(provider_editor_a).post(f"{BASE}/{world['team'].uuid}/sitzungen/neu/", meeting_data(
            world, date="", time="25:99", **{"aufgaben-1-title": "Ohne Datum", "aufgaben-1-responsible": ""}))
        assert response.status_code == 200
        html = response.content.decode()
        page = text(html)
        assert "Bitte 4 Angaben korrigieren." in page
        assert "Bitte das Datum der Sitzung angeben." in page and "Bitte eine Uhrzeit angeben, z. B. 14:30." in page
        assert "Bitte die verantwortliche Organisation wählen." in page and "Bitte das Fälligkeitsdatum angeben." in page
        assert 'href="#id_aufgaben-1-due"' in html and 'id="id_date_error"' in html
        assert Meeting.objects.count() == 1 and MeetingTask.objects.count() == 2

    def test_edit_changes_removes_and_adds_tasks(self, world, provider_editor_a):
        meeting = world["meeting"]
        data = edit_data(meeting, place="Bibliothek", attendees=[world["org_a"].pk], **{
            "aufgaben-0-title": "Ferienprogramm abstimmen (bis Juni)", "aufgaben-1-DELETE": "on",
            "aufgaben-2-title": "Neue Aufgabe", "aufgaben-2-responsible": world["org_c"].pk,
            "aufgaben-2-due": "2030-01-01"})
        response = client_for(provider_editor_a).post(f"{BASE}/sitzungen/{meeting.uuid}/bearbeiten/", data)
        assert response.status_code == 302
        meeting.refresh_from_db()
        assert meeting.place == "Bibliothek" and list(meeting.attendees.all()) == [world["org_a"]]
        assert sorted(meeting.tasks.values_list("title", flat=True)) == [
            "Ferienprogramm abstimmen (bis Juni)", "Neue Aufgabe"]
        assert not MeetingTask.objects.filter(pk=world["task_a"].pk).exists()

    def test_edit_shows_the_current_values(self, world, provider_editor_a):
        meeting = world["meeting"]
        html = client_for(provider_editor_a).get(f"{BASE}/sitzungen/{meeting.uuid}/bearbeiten/").content.decode()
        local = timezone.localtime(meeting.starts_at)
        assert f'value="{local.date().isoformat()}"' in html and 'value="14:00"' in html
        assert 'value="Stadtteilzentrum Nord"' in html and 'value="Ferienprogramm abstimmen"' in html
        assert re.search(rf'name="attendees" value="{world["org_c"].pk}"[^>]*checked', html)

    def test_planner_deletes_a_meeting(self, world, provider_editor_a):
        meeting = world["meeting"]
        client = client_for(provider_editor_a)
        assert "Mit der Sitzung werden 2 Aufgaben gelöscht." in text(client.get(f"{BASE}/sitzungen/{meeting.uuid}/loeschen/"))
        response = client.post(f"{BASE}/sitzungen/{meeting.uuid}/loeschen/")
        assert response.status_code == 302 and response["Location"] == f"{BASE}/{world['team'].uuid}/#sitzungen"
        assert not Meeting.objects.filter(pk=meeting.pk).exists() and not MeetingTask.objects.exists()


class TestCaseConference:
    def test_only_anonymous_counts_for_case_conferences(self, world, provider_editor_a):
        client = client_for(provider_editor_a)
        case = world["case"]
        NetworkMemberFactory(network=case, organization=world["org_c"])
        html = client.get(f"{BASE}/{case.uuid}/sitzungen/neu/").content.decode()
        assert 'name="cases_discussed"' in html and 'name="case_fields"' in html
        assert "Von Fallkonferenzen werden nur die Anzahl der beratenen Fälle und ihre Handlungsfelder" in text(html)
        response = client.post(f"{BASE}/{case.uuid}/sitzungen/neu/", meeting_data(
            world, cases_discussed="4", case_fields=[world["field"].pk]))
        assert response.status_code == 302
        meeting = Meeting.objects.get(network=case)
        assert meeting.cases_discussed == 4 and list(meeting.case_fields.all()) == [world["field"]]
        page = text(client.get(f"{BASE}/sitzungen/{meeting.uuid}/"))
        assert "beratene Fälle (Anzahl) 4" in page and "Handlungsfelder der Fälle Testjugendhilfe" in page

    def test_case_count_is_bounded(self, world, provider_editor_a):
        response = client_for(provider_editor_a).post(f"{BASE}/{world['case'].uuid}/sitzungen/neu/", meeting_data(
            world, attendees=[world["org_a"].pk], cases_discussed="1000"))
        assert response.status_code == 200
        assert "Bitte höchstens 999 Fälle angeben." in text(response)
        assert not Meeting.objects.filter(network=world["case"]).exists()

    @pytest.mark.parametrize("posted", [{"cases_discussed": "3"}, {"case_fields": "FIELD"},
                                        {"cases_discussed": "0"}])
    def test_case_fields_refused_for_other_kinds(self, world, provider_editor_a, posted):
        posted = {k: (world["field"].pk if v == "FIELD" else v) for k, v in posted.items()}
        client = client_for(provider_editor_a)
        team = world["team"]
        response = client.post(f"{BASE}/{team.uuid}/sitzungen/neu/", meeting_data(world, **posted))
        assert response.status_code == 200
        assert ("Anzahl und Handlungsfelder beratener Fälle werden nur bei Fallkonferenzen erfasst (Art dieses "
                "Netzwerks: Sozialraumteam).") in text(response)
        assert Meeting.objects.filter(network=team).count() == 1
        # and on an existing meeting
        meeting = world["meeting"]
        response = client.post(f"{BASE}/sitzungen/{meeting.uuid}/bearbeiten/", edit_data(
            meeting, place="Anderswo", **posted))
        assert response.status_code == 200
        meeting.refresh_from_db()
        assert meeting.place == "Stadtteilzentrum Nord" and meeting.cases_discussed is None
        assert not meeting.case_fields.exists()

    def test_form_refuses_without_the_view(self, world, planner):
        form = MeetingForm(meeting_data(world, cases_discussed="2"), network=world["team"], user=planner)
        assert not form.is_valid()
        assert "cases_discussed" not in form.fields and form.non_field_errors()


class TestAtomicSaves:
    def test_new_meeting_is_all_or_nothing(self, world, provider_editor_a):
        data = meeting_data(world, **{
            "aufgaben-0-title": "Erste", "aufgaben-0-responsible": world["org_a"].pk, "aufgaben-0-due": "2030-01-01",
            "aufgaben-1-title": "Zweite", "aufgaben-1-responsible": world["org_c"].pk, "aufgaben-1-due": "2030-01-02"})
        original_save = MeetingTask.save
        calls = []

        def failing_save(self, *args, **kwargs):
            calls.append(self.title)
            if len(calls) == 2:
                raise IntegrityError("simulated failure on the second task")
            return original_save(self, *args, **kwargs)

        with mock.patch.object(MeetingTask, "save", failing_save), pytest.raises(IntegrityError):
            client_for(provider_editor_a).post(f"{BASE}/{world['team'].uuid}/sitzungen/neu/", data)
        assert calls == ["Erste", "Zweite"]
        assert Meeting.objects.count() == 1
        assert not MeetingTask.objects.filter(title__in=["Erste", "Zweite"]).exists()
        assert Meeting.attendees.through.objects.count() == 2  # only the existing meeting's

    def test_edit_keeps_the_old_state_when_a_task_fails(self, world, provider_editor_a):
        meeting = world["meeting"]
        form = MeetingForm(edit_data(meeting, place="Neu", attendees=[world["org_a"].pk]), instance=meeting,
                           network=world["team"], user=provider_editor_a)
        formset = meeting_task_formset(edit_data(meeting, **{
            "aufgaben-2-title": "Neu", "aufgaben-2-responsible": world["org_a"].pk, "aufgaben-2-due": "2030-01-01"}),
            meeting=meeting, network=world["team"])
        assert form.is_valid() and formset.is_valid(), (form.errors, formset.errors)
        with mock.patch.object(MeetingTask, "save", side_effect=IntegrityError("boom")), \
                pytest.raises(IntegrityError):
            meetings.save_meeting(form, formset, provider_editor_a)
        meeting = Meeting.objects.get(pk=meeting.pk)
        assert meeting.place == "Stadtteilzentrum Nord"
        assert set(meeting.attendees.all()) == {world["org_a"], world["org_c"]}
        assert meeting.tasks.count() == 2

    def test_network_save_is_atomic(self, world, planner):
        from cooperation.network_forms import NetworkForm

        form = NetworkForm(network_data(world, name="Verbund"), user=planner, can_choose_coordinator=True)
        assert form.is_valid(), form.errors
        with mock.patch("django.db.models.ManyToManyField.save_form_data", side_effect=IntegrityError("boom")), \
                pytest.raises(IntegrityError):
            meetings.save_network(form, planner)
        assert not Network.objects.filter(name="Verbund").exists()


# --- Tasks ---------------------------------------------------------------------------------------------


class TestTasks:
    def test_responsible_org_editor_marks_done(self, world, provider_editor_c):
        client = client_for(provider_editor_c)
        task = world["task_c"]
        response = client.post(f"{BASE}/aufgaben/{task.pk}/erledigt/")
        assert response.status_code == 302
        assert response["Location"] == f"{BASE}/sitzungen/{world['meeting'].uuid}/#aufgaben"
        task.refresh_from_db()
        assert task.done_at is not None and task.updated_by == provider_editor_c
        assert "Aufgabe „Ferienprogramm abstimmen“ als erledigt vermerkt." in text(client.get(response["Location"]))
        # twice: nothing changes
        done_at = task.done_at
        client.post(f"{BASE}/aufgaben/{task.pk}/erledigt/")
        task.refresh_from_db()
        assert task.done_at == done_at
        # and open again
        assert client.post(f"{BASE}/aufgaben/{task.pk}/wieder-offen/").status_code == 302
        task.refresh_from_db()
        assert task.done_at is None

    def test_other_members_cannot_mark_someone_elses_task(self, world, provider_editor_c, provider_editor_b):
        task_a = world["task_a"]
        # C is a member of the network and sees A's task, but it is not C's
        assert client_for(provider_editor_c).post(f"{BASE}/aufgaben/{task_a.pk}/erledigt/").status_code == 403
        assert client_for(provider_editor_b).post(f"{BASE}/aufgaben/{task_a.pk}/erledigt/").status_code == 404
        reader = UserFactory(username="c_reader")
        MembershipFactory(user=reader, organization=world["org_c"], role="viewer")
        assert client_for(reader).post(f"{BASE}/aufgaben/{world['task_c'].pk}/erledigt/").status_code == 403
        assert not MeetingTask.objects.filter(done_at__isnull=False).exists()

    def test_done_buttons_only_where_allowed(self, world, provider_editor_c, provider_editor_a):
        html = client_for(provider_editor_c).get(f"{BASE}/sitzungen/{world['meeting'].uuid}/").content.decode()
        assert f"/aufgaben/{world['task_c'].pk}/erledigt/" in html
        assert f"/aufgaben/{world['task_a'].pk}/erledigt/" not in html
        assert "Aufgabe hinzufügen" not in html
        html = client_for(provider_editor_a).get(f"{BASE}/sitzungen/{world['meeting'].uuid}/").content.decode()
        assert f"/aufgaben/{world['task_c'].pk}/erledigt/" in html and f"/aufgaben/{world['task_a'].pk}/erledigt/" in html

    def test_next_stays_on_this_site(self, world, provider_editor_a):
        client = client_for(provider_editor_a)
        task = world["task_a"]
        response = client.post(f"{BASE}/aufgaben/{task.pk}/erledigt/", {"next": "https://evil.example/"})
        assert response["Location"] == f"{BASE}/sitzungen/{world['meeting'].uuid}/#aufgaben"
        response = client.post(f"{BASE}/aufgaben/{task.pk}/wieder-offen/", {"next": f"{BASE}/aufgaben/?done=true"})
        assert response["Location"] == f"{BASE}/aufgaben/?done=true"

    def test_add_task_on_the_meeting_page(self, world, provider_editor_a):
        client = client_for(provider_editor_a)
        meeting = world["meeting"]
        response = client.post(f"{BASE}/sitzungen/{meeting.uuid}/aufgaben/", {
            "aufgabe-title": "Bericht schreiben", "aufgabe-responsible": world["org_c"].pk, "aufgabe-due": "2030-02-01"})
        assert response.status_code == 302 and response["Location"].endswith("#aufgaben")
        task = MeetingTask.objects.get(title="Bericht schreiben")
        assert task.meeting == meeting and task.responsible == world["org_c"] and task.created_by == provider_editor_a
        response = client.post(f"{BASE}/sitzungen/{meeting.uuid}/aufgaben/", {
            "aufgabe-title": "", "aufgabe-responsible": world["org_b"].pk, "aufgabe-due": "morgen"})
        assert response.status_code == 200
        page = text(response)
        assert "Bitte 3 Angaben korrigieren." in page
        for message in ("Bitte die Aufgabe beschreiben.", "Bitte eine Organisation des Netzwerks wählen.",
                        "Bitte ein Datum angeben, z. B. 31.01.2026."):
            assert message in page, message
        assert MeetingTask.objects.count() == 3

    def test_overdue_marked_in_words(self, world, planner):
        MeetingTask.objects.filter(pk=world["task_a"].pk).update(
            due=timezone.localdate() - datetime.timedelta(days=3), done_at=timezone.now())
        html = client_for(planner).get(f"{BASE}/sitzungen/{world['meeting'].uuid}/").content.decode()
        # only the open one is overdue; the done one is not, though its date has passed
        assert html.count("überfällig</strong>") == 1
        row = re.search(r"<tr class=\"row--attention\">.*?</tr>", html, re.S).group(0)
        assert "Ferienprogramm abstimmen" in row


class TestTaskList:
    def titles(self, response):
        assert response.status_code == 200
        return [t.title for t in response.context["object_list"]]

    def test_provider_sees_own_tasks_by_default(self, world, provider_editor_c):
        client = client_for(provider_editor_c)
        response = client.get(f"{BASE}/aufgaben/")
        assert self.titles(response) == ["Ferienprogramm abstimmen"]
        html = response.content.decode()
        assert "<h1>Meine Aufgaben</h1>" in html and "überfällig</strong>" in html
        assert re.search(r'<option value="true" selected>meinen Organisationen</option>', html)
        response = client.get(f"{BASE}/aufgaben/?mine=false")
        assert self.titles(response) == ["Ferienprogramm abstimmen", "Raum reservieren"]
        assert "<h1>Aufgaben aus Sitzungen</h1>" in response.content.decode()

    def test_staff_see_all_open_tasks(self, world, planner, viewer):
        MeetingTaskFactory(meeting=world["meeting"], title="Erledigt", responsible=world["org_a"],
                           done_at=timezone.now())
        for user in (planner, viewer):
            response = client_for(user).get(f"{BASE}/aufgaben/")
            assert self.titles(response) == ["Ferienprogramm abstimmen", "Raum reservieren"]
            assert 'name="mine"' not in response.content.decode()
        client = client_for(planner)
        assert self.titles(client.get(f"{BASE}/aufgaben/?done=true")) == ["Erledigt"]
        assert len(self.titles(client.get(f"{BASE}/aufgaben/?done="))) == 3

    def test_filters(self, world, planner):
        client = client_for(planner)
        assert self.titles(client.get(f"{BASE}/aufgaben/?responsible={world['org_a'].uuid}")) == ["Raum reservieren"]
        assert self.titles(client.get(f"{BASE}/aufgaben/?due_before={timezone.localdate().isoformat()}")) == [
            "Ferienprogramm abstimmen"]
        other = MeetingFactory(network=world["case"])
        MeetingTaskFactory(meeting=other, title="Fallkonferenz vorbereiten", responsible=world["org_a"])
        response = client.get(f"{BASE}/aufgaben/?network={world['case'].uuid}")
        assert self.titles(response) == ["Fallkonferenz vorbereiten"]
        assert "Aufgaben des Netzwerks Fallkonferenz Nord." in text(response)
        assert self.titles(client.get(f"{BASE}/aufgaben/?due_before=kein-datum")) == []

    def test_outsider_sees_no_foreign_tasks(self, world, provider_editor_b):
        client = client_for(provider_editor_b)
        assert self.titles(client.get(f"{BASE}/aufgaben/?mine=false")) == []
        html = client.get(f"{BASE}/aufgaben/?mine=false").content.decode()
        assert "Träger A e. V." not in html and "Familienzentrum C" not in html

    def test_mark_done_from_the_list(self, world, provider_editor_c):
        client = client_for(provider_editor_c)
        html = client.get(f"{BASE}/aufgaben/").content.decode()
        assert f'action="{BASE}/aufgaben/{world["task_c"].pk}/erledigt/"' in html
        assert f'name="next" value="{BASE}/aufgaben/"' in html
        response = client.post(f"{BASE}/aufgaben/{world['task_c'].pk}/erledigt/", {"next": f"{BASE}/aufgaben/"})
        assert response["Location"] == f"{BASE}/aufgaben/"
        assert self.titles(client.get(f"{BASE}/aufgaben/")) == []


# --- Query counts --------------------------------------------------------------------------------------


@pytest.fixture
def many(world, tree, field_a):
    """Twenty networks with members, regions, fields; a network with many
    members, steps, meetings and tasks."""
    team = world["team"]
    for i in range(20):
        org = OrganizationFactory(name=f"Träger {i:02d}")
        network = NetworkFactory(name=f"Netz {i:02d}", coordinator=org, public=True,
                                 regions=[tree["P11"], tree["P12"]], fields=[field_a])
        NetworkMemberFactory(network=network, organization=world["org_a"])
        NetworkMemberFactory(network=team, organization=org, role="guest")
        EscalationStepFactory(agreement=None, network=team, order=i + 2)
        meeting = MeetingFactory(network=team, starts_at=at(datetime.date(2025, 1, 1) + datetime.timedelta(days=i)),
                                 attendees=[org, world["org_a"]])
        MeetingTaskFactory(meeting=meeting, responsible=org)
        MeetingTaskFactory(meeting=world["meeting"], responsible=org, title=f"Aufgabe {i}")
    return world


class TestQueryCounts:
    # measured with 20 networks, 21 members, steps and meetings, 42 tasks: the same
    # counts as with one of each (session, user, roles and memberships included)
    @pytest.mark.parametrize("persona,page,limit", [
        ("planner", "network-list", 10),
        ("provider_editor_a", "network-list", 12),
        ("provider_editor_b", "network-list", 12),
        ("planner", "network-detail", 17),
        ("provider_editor_a", "network-detail", 18),
        ("viewer", "network-detail", 14),
        ("planner", "meeting-detail", 13),
        ("provider_editor_a", "meeting-detail", 15),
        ("viewer", "meeting-detail", 11),
        ("planner", "task-list", 8),
        ("provider_editor_a", "task-list", 10),
        ("provider_editor_a", "meeting-update", 14),
        ("provider_editor_a", "meeting-create", 10),
        ("provider_editor_a", "network-update", 13),
    ])
    def test_pages(self, many, personas, persona, page, limit, django_assert_max_num_queries):
        client = client_for(personas[persona])
        url = urls(many)[page] + ("?mine=false" if page == "task-list" else "")
        with django_assert_max_num_queries(limit):
            response = client.get(url)
        assert response.status_code == 200

    def test_rows_are_all_shown(self, many, planner):
        response = client_for(planner).get(urls(many)["network-detail"])
        assert len(response.context["members"]) == 21 and len(response.context["meetings"]) == 21
        assert len(response.context["steps"]) == 21 and len(response.context["open_tasks"]) == 42
        assert len(client_for(planner).get(f"{BASE}/").context["object_list"]) == 23
