"""Pages of organisations and offerings: "Meine Angebote" (create, edit,
duplicate, close, delete, confirm), the offering and organisation pages,
memberships, the list of unconfirmed offerings.

Every URL is tried by every persona: provider editor A never reaches
organisation B's objects (404, nothing changed), cannot move an offering to B
and cannot grant memberships; viewers read only (403 on writes); anonymous
visitors are sent to the login page; planners do everything. Also the German
validation messages next to their fields, the region found for a new
location, and query counts."""

import datetime
import re
from decimal import Decimal as D
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from cooperation.models import Location, Membership, Organization, Service
from tests.factories import (
    FieldOfActionFactory,
    LocationFactory,
    MembershipFactory,
    OrganizationFactory,
    ServiceFactory,
    TargetGroupFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

BASE = "/organisationen"
SQUARE = {"type": "Polygon", "coordinates": [[[13.0, 52.0], [14.0, 52.0], [14.0, 53.0], [13.0, 53.0], [13.0, 52.0]]]}
WEST = {"type": "Polygon", "coordinates": [[[13.0, 52.0], [13.5, 52.0], [13.5, 53.0], [13.0, 53.0], [13.0, 52.0]]]}


def client_for(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def text(html) -> str:
    if not isinstance(html, str):
        html = html.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ").strip()


def old(service, days=400):
    """Make ``service`` look created ``days`` ago and never confirmed."""
    Service.objects.filter(pk=service.pk).update(created_at=timezone.now() - datetime.timedelta(days=days),
                                                 last_confirmed_at=None)
    service.refresh_from_db()
    return service


@pytest.fixture
def field_a(db):
    return FieldOfActionFactory(key="test-beratung", name="Testberatung")


@pytest.fixture
def world(tree, org_a, org_b, field_a):
    """Organisation A with a location and two offerings (one old and never
    confirmed), organisation B with a location and one offering."""
    loc_a = LocationFactory(organization=org_a, name="Haus A")
    loc_b = LocationFactory(organization=org_b, name="Haus B")
    group = TargetGroupFactory(key="test-familien", name="Testfamilien")
    a1 = ServiceFactory(organization=org_a, name="Erziehungsberatung Nord", fields=[field_a], locations=[loc_a],
                        regions=[tree["P11"]], target_groups=[group], languages=["de", "tr"], age_min=0, age_max=17)
    a2 = old(ServiceFactory(organization=org_a, name="Familiencafé", fields=[field_a]))
    b1 = ServiceFactory(organization=org_b, name="Schuldnerberatung", fields=[field_a], locations=[loc_b])
    return {"a1": a1, "a2": a2, "b1": b1, "loc_a": loc_a, "loc_b": loc_b, "group": group, "tree": tree,
            "org_a": org_a, "org_b": org_b, "field": field_a}


def service_data(world, service=None, **changes):
    """A complete, valid POST of the offering form."""
    data = {
        "organization": (service.organization_id if service else world["org_a"].pk),
        "name": service.name if service else "Neue Beratung",
        "description": "Beratung für Familien.",
        "keywords": "Erziehung, Familie",
        "fields": [world["field"].pk],
        "setting": "ambulant",
        "work_mode": "case_specific",
        "cost": "free",
        "status": "active",
        "confirm": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# --- Every URL, every persona ---------------------------------------------------------


def urls(world, target="a1"):
    service = world[target]
    org = service.organization
    membership = Membership.objects.filter(organization=org).first()
    return {
        "organization-list": f"{BASE}/",
        "organization-create": f"{BASE}/neu/",
        "organization-detail": f"{BASE}/{org.uuid}/",
        "organization-update": f"{BASE}/{org.uuid}/bearbeiten/",
        "my-services": f"{BASE}/meine-angebote/",
        "service-create": f"{BASE}/angebote/neu/",
        "services-unconfirmed": f"{BASE}/angebote/zu-bestaetigen/",
        "service-detail": f"{BASE}/angebote/{service.uuid}/",
        "service-update": f"{BASE}/angebote/{service.uuid}/bearbeiten/",
        "service-close": f"{BASE}/angebote/{service.uuid}/schliessen/",
        "service-delete": f"{BASE}/angebote/{service.uuid}/loeschen/",
        "service-duplicate": f"{BASE}/angebote/{service.uuid}/duplizieren/",
        "service-confirm": f"{BASE}/angebote/{service.uuid}/bestaetigen/",
        "services-confirm": f"{BASE}/angebote/bestaetigen/",
        "membership-create": f"{BASE}/{org.uuid}/mitglieder/",
        "membership-update": f"{BASE}/{org.uuid}/mitglieder/{membership.pk}/",
        "membership-delete": f"{BASE}/{org.uuid}/mitglieder/{membership.pk}/entfernen/",
    }


# GET status per page and persona, for pages of organisation A and its offering a1
GET_EXPECTED = {
    #                          planner lead  viewer prov_a prov_b
    "organization-list":      (200, 200, 200, 200, 200),
    "organization-create":    (200, 403, 403, 403, 403),
    "organization-detail":    (200, 200, 200, 200, 404),
    "organization-update":    (200, 403, 403, 200, 404),
    "my-services":            (200, 200, 200, 200, 200),
    "service-create":         (200, 403, 403, 200, 200),
    "services-unconfirmed":   (200, 200, 200, 200, 200),
    "service-detail":         (200, 200, 200, 200, 404),
    "service-update":         (200, 403, 403, 200, 404),
    "service-close":          (200, 403, 403, 200, 404),
    "service-delete":         (200, 403, 403, 200, 404),
}
# POST status (writes) per persona
POST_EXPECTED = {
    "service-duplicate":      (302, 403, 403, 302, 404),
    "service-confirm":        (302, 403, 403, 302, 404),
    "membership-create":      (302, 403, 403, 403, 404),
    "membership-update":      (302, 403, 403, 403, 404),
    "membership-delete":      (302, 403, 403, 403, 404),
}
PERSONAS = ("planner", "region_lead", "viewer", "provider_editor_a", "provider_editor_b")


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
        data = {"mitglied-username": "viewer", "mitglied-role": "viewer"}
        membership = Membership.objects.filter(organization=world["org_a"]).first()
        data[f"m{membership.pk}-role"] = "viewer"
        response = client_for(personas[persona]).post(urls(world)[name], data)
        assert response.status_code == expected, (name, persona)

    @pytest.mark.parametrize("name", sorted(set(GET_EXPECTED) | set(POST_EXPECTED) | {"services-confirm"}))
    def test_anonymous_goes_to_the_login_page(self, world, personas, name):
        url = urls(world)[name]
        for method in ("get", "post"):
            response = getattr(Client(), method)(url)
            if response.status_code == 405:  # POST-only URLs answer GET with 405 before anything else
                continue
            assert response.status_code == 302 and response["Location"].startswith("/anmelden/?next="), (name, method)

    def test_post_only_urls_refuse_get(self, world, planner, provider_editor_a):
        client = client_for(planner)
        for name in ("service-duplicate", "service-confirm", "services-confirm", "membership-create",
                     "membership-update", "membership-delete"):
            assert client.get(urls(world)[name]).status_code == 405, name


class TestProviderIsolation:
    """Provider editor A against organisation B's objects: 404, nothing changes."""

    def test_cannot_open_or_change_org_b_offerings(self, world, provider_editor_a):
        client = client_for(provider_editor_a)
        b1 = world["b1"]
        before = Service.objects.count()
        assert client.get(f"{BASE}/angebote/{b1.uuid}/bearbeiten/").status_code == 404
        response = client.post(f"{BASE}/angebote/{b1.uuid}/bearbeiten/", service_data(world, b1, name="gekapert"))
        assert response.status_code == 404
        assert client.post(f"{BASE}/angebote/{b1.uuid}/duplizieren/").status_code == 404
        assert client.post(f"{BASE}/angebote/{b1.uuid}/schliessen/", {"status": "defunct"}).status_code == 404
        assert client.post(f"{BASE}/angebote/{b1.uuid}/bestaetigen/").status_code == 404
        assert client.post(f"{BASE}/angebote/{b1.uuid}/loeschen/").status_code == 404
        b1_after = Service.objects.get(pk=b1.pk)
        assert (b1_after.name, b1_after.status, b1_after.last_confirmed_at) == ("Schuldnerberatung", "active", None)
        assert Service.objects.count() == before

    def test_confirm_all_ignores_org_b(self, world, provider_editor_a):
        response = client_for(provider_editor_a).post(f"{BASE}/angebote/bestaetigen/", {
            "service": [str(world["a2"].uuid), str(world["b1"].uuid), "kein-uuid"]})
        assert response.status_code == 302
        assert Service.objects.get(pk=world["a2"].pk).last_confirmed_at is not None
        assert Service.objects.get(pk=world["b1"].pk).last_confirmed_at is None

    def test_cannot_move_an_offering_to_org_b(self, world, provider_editor_a):
        a1 = world["a1"]
        html = client_for(provider_editor_a).get(f"{BASE}/angebote/{a1.uuid}/bearbeiten/").content.decode()
        assert re.search(r'<select name="organization"[^>]*disabled', html)
        assert "Träger B" not in html
        response = client_for(provider_editor_a).post(
            f"{BASE}/angebote/{a1.uuid}/bearbeiten/",
            service_data(world, a1, organization=world["org_b"].pk, name="Erziehungsberatung Nord (neu)"))
        assert response.status_code == 302
        a1.refresh_from_db()
        assert a1.organization == world["org_a"] and a1.name == "Erziehungsberatung Nord (neu)"

    def test_cannot_create_an_offering_for_org_b(self, world, provider_editor_a):
        before = Service.objects.count()
        response = client_for(provider_editor_a).post(
            f"{BASE}/angebote/neu/", service_data(world, organization=world["org_b"].pk))
        assert response.status_code == 200
        assert "Bitte eine Organisation wählen, für die Sie Angebote pflegen." in text(response)
        assert Service.objects.count() == before

    def test_cannot_attach_org_b_locations(self, world, provider_editor_a):
        a1 = world["a1"]
        response = client_for(provider_editor_a).post(
            f"{BASE}/angebote/{a1.uuid}/bearbeiten/", service_data(world, a1, locations=[world["loc_b"].pk]))
        assert response.status_code == 200
        assert "Bitte nur Standorte der gewählten Organisation wählen." in text(response)
        assert list(a1.locations.all()) == [world["loc_a"]]

    def test_create_page_offers_only_own_organisations(self, world, provider_editor_a):
        response = client_for(provider_editor_a).get(f"{BASE}/angebote/neu/?organisation={world['org_b'].uuid}")
        page = response.content.decode()
        # B is not one of A's: the choice is asked again, offering only A
        assert "Bitte eine Organisation aus der Liste wählen." in text(page)
        assert "Träger B" not in page and "Haus B" not in page
        assert f'<option value="{world["org_a"].uuid}">Träger A e. V.</option>' in page

    def test_cannot_manage_memberships(self, world, provider_editor_a, org_a):
        client = client_for(provider_editor_a)
        own = Membership.objects.get(user=provider_editor_a)
        outsider = UserFactory(username="freund")
        assert client.post(f"{BASE}/{org_a.uuid}/mitglieder/", {
            "mitglied-username": "freund", "mitglied-role": "editor"}).status_code == 403
        assert not Membership.objects.filter(user=outsider).exists()
        assert client.post(f"{BASE}/{org_a.uuid}/mitglieder/{own.pk}/entfernen/").status_code == 403
        assert Membership.objects.filter(pk=own.pk).exists()
        html = client.get(f"{BASE}/{org_a.uuid}/").content.decode()
        assert "/mitglieder/" not in html and "Mitglied hinzufügen" not in html

    def test_provider_reader_cannot_raise_own_role(self, world, org_a):
        reader = UserFactory(username="a_reader")
        membership = MembershipFactory(user=reader, organization=org_a, role="viewer")
        client = client_for(reader)
        response = client.post(f"{BASE}/{org_a.uuid}/mitglieder/{membership.pk}/",
                               {f"m{membership.pk}-role": "editor"})
        assert response.status_code == 403
        assert Membership.objects.get(pk=membership.pk).role == "viewer"
        # and reads, but does not change, the organisation's offerings
        assert client.get(f"{BASE}/angebote/{world['a1'].uuid}/").status_code == 200
        assert client.get(f"{BASE}/angebote/{world['a1'].uuid}/bearbeiten/").status_code == 403
        assert client.get(f"{BASE}/angebote/neu/").status_code == 403

    def test_org_b_is_not_listed(self, world, provider_editor_a):
        page = text(client_for(provider_editor_a).get(f"{BASE}/"))
        assert "Träger A e. V." in page and "Träger B" not in page
        page = text(client_for(provider_editor_a).get(f"{BASE}/meine-angebote/"))
        assert "Erziehungsberatung Nord" in page and "Schuldnerberatung" not in page
        page = text(client_for(provider_editor_a).get(f"{BASE}/angebote/zu-bestaetigen/"))
        assert "Familiencafé" in page and "Schuldnerberatung" not in page


class TestViewerReadsOnly:
    def test_no_write_controls(self, world, viewer):
        client = client_for(viewer)
        html = client.get(f"{BASE}/angebote/{world['a1'].uuid}/").content.decode()
        assert "Erziehungsberatung Nord" in html
        assert "/bearbeiten/" not in html and "/duplizieren/" not in html and "/bestaetigen/" not in html
        html = client.get(f"{BASE}/{world['org_a'].uuid}/").content.decode()
        assert "/bearbeiten/" not in html and "Mitglied hinzufügen" not in html and "/angebote/neu/" not in html
        html = client.get(f"{BASE}/").content.decode()
        assert f'href="{BASE}/neu/"' not in html
        page = text(client.get(f"{BASE}/meine-angebote/"))
        assert "Sie pflegen für keine Organisation Angebote." in page and "Neues Angebot anlegen" not in page

    def test_writes_are_refused(self, world, viewer):
        client = client_for(viewer)
        a1 = world["a1"]
        assert client.post(f"{BASE}/angebote/{a1.uuid}/bearbeiten/",
                           service_data(world, a1, name="anders")).status_code == 403
        assert client.post(f"{BASE}/angebote/{a1.uuid}/schliessen/", {"status": "defunct"}).status_code == 403
        assert client.post(f"{BASE}/angebote/{a1.uuid}/loeschen/").status_code == 403
        assert client.post(f"{BASE}/{world['org_a'].uuid}/bearbeiten/", {"name": "anders"}).status_code == 403
        assert client.post(f"{BASE}/neu/", {"name": "Neu", "kind": "provider", "umbrella": "none"}).status_code == 403
        a1.refresh_from_db()
        assert (a1.name, a1.status) == ("Erziehungsberatung Nord", "active")
        assert not Organization.objects.filter(name__in=["anders", "Neu"]).exists()
        # "confirm all shown" just confirms nothing for a reader
        client.post(f"{BASE}/angebote/bestaetigen/", {"service": [str(world["a2"].uuid)]})
        assert Service.objects.get(pk=world["a2"].pk).last_confirmed_at is None


# --- The offering form -------------------------------------------------------------------


class TestServiceForm:
    def test_provider_creates_an_offering_with_every_field(self, world, provider_editor_a):
        tree = world["tree"]
        data = service_data(
            world, name="Familienberatung Süd", target_groups=[world["group"].pk], age_min="3", age_max="17",
            legal_bases=["sgb8_27", "sgb8_16"], languages=["de", "ar"], accessibility=["step_free", "lift"],
            cost="fee", cost_note="5 € je Termin", access_modes=["appointment", "walk_in"],
            regions=[tree["P21"].pk, tree["D1"].pk], locations=[world["loc_a"].pk], opening_hours="Mo–Fr 9–17 Uhr",
            email="beratung@traeger-a.de", phone="+49 30 123456", url="https://traeger-a.de/beratung",
            capacity="10", free_places="2", free_places_reported_at=str(timezone.localdate()),
            setting="open", work_mode="case_overarching",
        )
        client = client_for(provider_editor_a)
        response = client.post(f"{BASE}/angebote/neu/", data)
        assert response.status_code == 302
        service = Service.objects.get(name="Familienberatung Süd")
        assert response["Location"] == f"{BASE}/angebote/{service.uuid}/"
        assert service.organization == world["org_a"]
        assert (service.setting, service.work_mode, service.cost, service.cost_note) == (
            "open", "case_overarching", "fee", "5 € je Termin")
        assert (service.age_min, service.age_max, service.capacity, service.free_places) == (3, 17, 10, 2)
        assert sorted(service.legal_bases) == ["sgb8_16", "sgb8_27"] and sorted(service.languages) == ["ar", "de"]
        assert sorted(service.accessibility) == ["lift", "step_free"]
        assert sorted(service.access_modes) == ["appointment", "walk_in"]
        assert set(service.regions.all()) == {tree["P21"], tree["D1"]}
        assert list(service.locations.all()) == [world["loc_a"]]
        assert list(service.fields.all()) == [world["field"]]
        assert list(service.target_groups.all()) == [world["group"]]
        assert service.last_confirmed_at is not None and service.created_by == provider_editor_a
        page = text(client.get(response["Location"]))
        assert "Angebot „Familienberatung Süd“ angelegt." in page
        assert "Arabisch" in page and "stufenloser Zugang" in page and "nach Terminvereinbarung" in page
        assert "3 bis 17 Jahre" in page and "Süd-Mitte" in page

    def test_provider_with_one_organisation_gets_the_form_directly(self, world, provider_editor_a):
        html = client_for(provider_editor_a).get(f"{BASE}/angebote/neu/").content.decode()
        assert re.search(rf'<option value="{world["org_a"].pk}" selected>', html)
        assert "Haus A" in html  # the organisation's locations are offered

    def test_planner_first_chooses_the_organisation(self, world, planner):
        client = client_for(planner)
        page = text(client.get(f"{BASE}/angebote/neu/"))
        assert "Zu welcher Organisation gehört das Angebot?" in page
        assert "Träger A e. V." in page and "Träger B gGmbH" in page
        html = client.get(f"{BASE}/angebote/neu/?organisation={world['org_b'].uuid}").content.decode()
        assert "Haus B" in html and "Haus A" not in html
        assert re.search(rf'<option value="{world["org_b"].pk}" selected>', html)
        assert "Bitte eine Organisation aus der Liste wählen." in text(
            client.get(f"{BASE}/angebote/neu/?organisation=kaputt"))

    def test_planner_moves_an_offering_to_another_organisation(self, world, planner):
        a1 = world["a1"]
        html = client_for(planner).get(f"{BASE}/angebote/{a1.uuid}/bearbeiten/").content.decode()
        assert not re.search(r'<select name="organization"[^>]*disabled', html)
        # A's location does not belong to B: refused, named at the field
        response = client_for(planner).post(f"{BASE}/angebote/{a1.uuid}/bearbeiten/", service_data(
            world, a1, organization=world["org_b"].pk, locations=[world["loc_a"].pk]))
        assert response.status_code == 200
        assert "Bitte nur Standorte der gewählten Organisation wählen." in text(response)
        # the form now offers B's locations
        assert "Haus B" in response.content.decode()
        response = client_for(planner).post(f"{BASE}/angebote/{a1.uuid}/bearbeiten/", service_data(
            world, a1, organization=world["org_b"].pk, locations=[world["loc_b"].pk]))
        assert response.status_code == 302
        a1.refresh_from_db()
        assert a1.organization == world["org_b"] and list(a1.locations.all()) == [world["loc_b"]]

    def test_edit_form_shows_current_values(self, world, provider_editor_a):
        a1 = world["a1"]
        html = client_for(provider_editor_a).get(f"{BASE}/angebote/{a1.uuid}/bearbeiten/").content.decode()
        assert re.search(rf'<option value="{world["tree"]["P11"].pk}" selected>Nord-West \(P11\)</option>', html)
        assert re.search(r'name="languages" value="tr"[^>]*checked', html)
        assert re.search(rf'name="locations" value="{world["loc_a"].pk}"[^>]*checked', html)
        assert re.search(rf'name="fields" value="{world["field"].pk}"[^>]*checked', html)
        assert '<optgroup label="Bezirk">' in html and '<optgroup label="Planungsraum">' in html
        assert '<option value="' + str(world["tree"]["CITY"].pk) + '"' not in html  # the top: "stadtweit" instead

    @pytest.mark.parametrize("changes, name, message", [
        ({"name": ""}, "name", "Bitte den Namen des Angebots angeben."),
        ({"fields": None}, "fields", "Bitte mindestens ein Handlungsfeld wählen."),
        ({"age_min": "12", "age_max": "6"}, "age_max", "„Alter bis“ muss mindestens „Alter von“ sein."),
        ({"age_min": "130"}, "age_min", "Bitte ein Alter bis höchstens 120 Jahre angeben."),
        ({"age_min": "zwölf"}, "age_min", "Bitte ein Alter in ganzen Jahren angeben, z. B. 6."),
        ({"capacity": "5", "free_places": "6", "free_places_reported_at": "2024-01-10"}, "free_places",
         "Es gibt mehr freie Plätze (6) als Plätze (5)."),
        ({"free_places": "2"}, "free_places_reported_at", "Bitte angeben, wann die freien Plätze gemeldet wurden."),
        ({"free_places": "2", "free_places_reported_at": "2999-01-01"}, "free_places_reported_at",
         "Das Datum liegt in der Zukunft."),
        ({"email": "keine-adresse"}, "email", "Bitte eine gültige E-Mail-Adresse angeben, z. B. beratung@traeger.de."),
        ({"url": "nicht da"}, "url", "Bitte eine vollständige Adresse angeben, z. B. https://www.traeger.de/angebot."),
        ({"phone": "ruf an!"}, "phone", "Telefonnummer aus Ziffern, Leerzeichen und + ( ) / -."),
        ({"city_wide": "on", "regions": ["REGION"]}, "regions", "Ein stadtweites Angebot braucht keine einzelnen Räume"),
        ({"cost": "fee", "cost_note": ""}, "cost_note", "Bitte angeben, was das Angebot kostet"),
        ({"setting": "irgendwie"}, "setting", "irgendwie"),
        ({"standort-city": "Berlin", "standort-postal_code": "10115"}, "standort-street",
         "Bitte Straße und Hausnummer des neuen Standorts angeben."),
        ({"standort-street": "Weg 1", "standort-city": "Berlin", "standort-postal_code": "123"},
         "standort-postal_code", "Postleitzahl mit 4 (Österreich) oder 5 Ziffern (Deutschland)."),
        ({"standort-street": "Weg 1", "standort-city": "Berlin", "standort-postal_code": "10115",
          "standort-latitude": "52,5"}, "standort-longitude", "Bitte Breiten- und Längengrad angeben oder beide leer"),
        ({"standort-street": "Weg 1", "standort-city": "Berlin", "standort-postal_code": "10115",
          "standort-latitude": "95", "standort-longitude": "13,4"}, "standort-latitude",
         "Der Breitengrad liegt zwischen −90 und 90"),
    ])
    def test_validation_messages_next_to_their_fields(self, world, provider_editor_a, changes, name, message):
        if changes.get("regions") == ["REGION"]:
            changes = {**changes, "regions": [world["tree"]["P12"].pk]}
        a1 = world["a1"]
        before = Service.objects.get(pk=a1.pk)
        locations_before = Location.objects.count()
        response = client_for(provider_editor_a).post(
            f"{BASE}/angebote/{a1.uuid}/bearbeiten/", service_data(world, a1, **{"name": "X", **changes}))
        assert response.status_code == 200
        html = response.content.decode()
        errors = re.search(rf'<ul class="errorlist" id="id_{name}_error">(.*?)</ul>', html, re.S)
        assert errors and message in text(errors.group(1)), text(html)[:3000]
        # the control (or its fieldset) is marked invalid and described by the message
        control = re.search(rf'<(?:input|select|textarea)[^>]*name="{name}"[^>]*>', html).group(0)
        assert 'aria-invalid="true"' in control
        fieldset = re.search(rf'<fieldset[^>]*aria-describedby="[^"]*id_{name}_error[^"]*"', html)
        assert f"id_{name}_error" in control or fieldset
        assert 'role="alert"' in html and "Angabe" in text(html) and f'href="#id_{name}' in html
        after = Service.objects.get(pk=a1.pk)
        assert (after.name, after.updated_at) == (before.name, before.updated_at)
        assert Location.objects.count() == locations_before

    def test_one_transaction_for_offering_relations_and_location(self, world, provider_editor_a):
        a1 = world["a1"]
        data = service_data(world, a1, name="Neuer Name", **{
            "standort-street": "Weg 1", "standort-postal_code": "10115", "standort-city": "Berlin"})
        with mock.patch.object(Location, "save", side_effect=RuntimeError("Platte voll")):
            with pytest.raises(RuntimeError):
                client_for(provider_editor_a).post(f"{BASE}/angebote/{a1.uuid}/bearbeiten/", data)
        a1.refresh_from_db()
        assert a1.name == "Erziehungsberatung Nord"  # the offering's save was rolled back too
        assert list(a1.regions.all()) == [world["tree"]["P11"]]


    def test_history_names_the_change_and_its_author(self, world, provider_editor_a):
        a1 = world["a1"]
        client = client_for(provider_editor_a)
        client.post(f"{BASE}/angebote/{a1.uuid}/bearbeiten/", service_data(world, a1, name="Erziehungsberatung Mitte"))
        page = text(client.get(f"{BASE}/angebote/{a1.uuid}/"))
        history = page[page.index("Änderungsverlauf"):]
        assert "geändert provider_a" in history
        assert "Name Erziehungsberatung Nord Erziehungsberatung Mitte" in history


class TestAccessibleMarkup:
    """Every control has a label (checkbox and radio groups a fieldset with a
    legend), every table a caption and column headers with scope."""

    def test_service_form(self, world, planner):
        html = client_for(planner).get(f"{BASE}/angebote/{world['a1'].uuid}/bearbeiten/").content.decode()
        controls = re.findall(r'<(?:input|select|textarea)\b[^>]*>', html)
        for control in controls:
            if 'type="hidden"' in control:
                continue
            control_id = re.search(r'id="([^"]+)"', control).group(1)
            assert f'<label for="{control_id}"' in html or f'for="{control_id}"' in html, control
        assert html.count("<fieldset") == html.count("<legend")
        assert '<legend>Sprachen</legend>' in html and '<legend>Handlungsfelder <span class="required">' in html

    @pytest.mark.parametrize("page", ["organization-list", "organization-detail", "my-services",
                                      "services-unconfirmed", "service-detail"])
    def test_tables(self, world, planner, provider_editor_a, page):
        user = provider_editor_a if page == "my-services" else planner
        html = client_for(user).get(urls(world)[page]).content.decode()
        tables = re.findall(r"<table\b.*?</table>", html, re.S)
        assert tables, page
        for table in tables:
            assert "<caption" in table and 'scope="col"' in table


class TestLocationRegion:
    @pytest.fixture
    def boundaries(self, tree):
        tree["D1"].set_boundary(SQUARE)
        tree["P11"].set_boundary(WEST)
        for region in (tree["D1"], tree["P11"]):
            region.save()

    def post_location(self, world, user, **location):
        a1 = world["a1"]
        data = service_data(world, a1, locations=[world["loc_a"].pk], **{
            "standort-name": "Familienzentrum West", "standort-street": "Weg 1", "standort-postal_code": "10115",
            "standort-city": "Berlin", **{f"standort-{k}": v for k, v in location.items()}})
        return client_for(user).post(f"{BASE}/angebote/{a1.uuid}/bearbeiten/", data, follow=True)

    def test_new_location_shows_its_region(self, world, boundaries, provider_editor_a):
        response = self.post_location(world, provider_editor_a, latitude="52,5", longitude="13,25")
        page = text(response)
        assert "Neuer Standort „Familienzentrum West, 10115 Berlin“ angelegt. Sozialraum: Nord-West (P11)" in page
        location = Location.objects.get(name="Familienzentrum West")
        assert location.region == world["tree"]["P11"] and location.organization == world["org_a"]
        assert set(world["a1"].locations.all()) == {world["loc_a"], location}
        assert location.latitude == D("52.5") and location.longitude == D("13.25")
        # the offering page and the form name the region too
        assert "Familienzentrum West Weg 1, 10115 Berlin Nord-West (P11)" in page
        html = client_for(provider_editor_a).get(f"{BASE}/angebote/{world['a1'].uuid}/bearbeiten/").content.decode()
        assert "Familienzentrum West, 10115 Berlin – Sozialraum: Nord-West (P11)" in html

    def test_decimal_point_and_a_point_outside_every_region(self, world, boundaries, provider_editor_a):
        page = text(self.post_location(world, provider_editor_a, latitude="48.1", longitude="11.5"))
        assert "Sozialraum: keiner gefunden" in page
        assert Location.objects.get(name="Familienzentrum West").region is None

    def test_without_coordinates(self, world, boundaries, provider_editor_a):
        page = text(self.post_location(world, provider_editor_a))
        assert "Ohne Koordinaten wird kein Sozialraum bestimmt." in page


# --- Duplicate, close, delete, confirm -----------------------------------------------------


class TestDuplicate:
    @pytest.mark.parametrize("persona", ["planner", "provider_editor_a"])
    def test_copy_with_the_same_relations_then_its_form(self, world, personas, persona):
        a1 = world["a1"]
        Service.objects.filter(pk=a1.pk).update(last_confirmed_at=timezone.now())
        client = client_for(personas[persona])
        response = client.post(f"{BASE}/angebote/{a1.uuid}/duplizieren/")
        copy = Service.objects.get(name="Erziehungsberatung Nord (Kopie)")
        assert response.status_code == 302 and response["Location"] == f"{BASE}/angebote/{copy.uuid}/bearbeiten/"
        assert copy.pk != a1.pk and copy.uuid != a1.uuid and copy.organization == world["org_a"]
        assert (copy.age_min, copy.age_max, copy.languages, copy.status) == (0, 17, ["de", "tr"], "active")
        for relation in ("fields", "target_groups", "regions", "locations"):
            assert set(getattr(copy, relation).all()) == set(getattr(a1, relation).all()), relation
        assert copy.last_confirmed_at is None and copy.created_by == personas[persona]
        page = text(client.get(response["Location"]))
        assert "Kopie „Erziehungsberatung Nord (Kopie)“ angelegt." in page

    def test_long_names_stay_within_the_limit(self, world, planner):
        long = ServiceFactory(organization=world["org_a"], name="L" * 200, fields=[world["field"]])
        client_for(planner).post(f"{BASE}/angebote/{long.uuid}/duplizieren/")
        copy = Service.objects.exclude(pk=long.pk).get(name__endswith="(Kopie)")
        assert len(copy.name) == 200


class TestClose:
    def test_asks_then_closes(self, world, provider_editor_a):
        a1 = world["a1"]
        client = client_for(provider_editor_a)
        html = client.get(f"{BASE}/angebote/{a1.uuid}/schliessen/").content.decode()
        for value in ("temporarily closed", "inactive", "defunct"):
            assert f'value="{value}"' in html
        assert 'value="active"' not in html and "<legend>Wie wird das Angebot geschlossen?" in html
        response = client.post(f"{BASE}/angebote/{a1.uuid}/schliessen/", {"status": "defunct"}, follow=True)
        a1.refresh_from_db()
        assert a1.status == "defunct"
        assert "Angebot „Erziehungsberatung Nord“ ist jetzt „eingestellt“." in text(response)

    @pytest.mark.parametrize("status, message", [
        ("", "Bitte wählen, wie das Angebot geschlossen wird."),
        ("active", "Bitte eine der angebotenen Möglichkeiten wählen."),
    ])
    def test_invalid_choice(self, world, planner, status, message):
        a1 = world["a1"]
        response = client_for(planner).post(f"{BASE}/angebote/{a1.uuid}/schliessen/", {"status": status})
        assert response.status_code == 200
        html = response.content.decode()
        assert message in text(re.search(r'<ul class="errorlist" id="id_status_error">(.*?)</ul>', html, re.S).group(1))
        assert re.search(r'<fieldset[^>]*aria-describedby="[^"]*id_status_error', html)
        a1.refresh_from_db()
        assert a1.status == "active"


class TestDelete:
    def test_asks_then_deletes(self, world, provider_editor_a):
        a2 = world["a2"]
        client = client_for(provider_editor_a)
        assert "Soll dieses Angebot gelöscht werden?" in text(client.get(f"{BASE}/angebote/{a2.uuid}/loeschen/"))
        response = client.post(f"{BASE}/angebote/{a2.uuid}/loeschen/")
        assert response.status_code == 302 and response["Location"] == f"{BASE}/meine-angebote/"
        assert not Service.objects.filter(pk=a2.pk).exists()


class TestConfirm:
    def test_one_click(self, world, provider_editor_a):
        a2 = world["a2"]
        assert a2.needs_confirmation
        response = client_for(provider_editor_a).post(f"{BASE}/angebote/{a2.uuid}/bestaetigen/",
                                                      {"next": f"{BASE}/meine-angebote/?page=1"})
        assert response.status_code == 302 and response["Location"] == f"{BASE}/meine-angebote/?page=1"
        a2.refresh_from_db()
        assert not a2.needs_confirmation and a2.updated_by == provider_editor_a
        assert timezone.now() - a2.last_confirmed_at < datetime.timedelta(minutes=1)

    def test_next_must_stay_on_this_site(self, world, provider_editor_a):
        a2 = world["a2"]
        response = client_for(provider_editor_a).post(f"{BASE}/angebote/{a2.uuid}/bestaetigen/",
                                                      {"next": "https://example.com/"})
        assert response["Location"] == f"{BASE}/angebote/{a2.uuid}/"

    def test_confirm_all_shown(self, world, provider_editor_a):
        inactive = old(ServiceFactory(organization=world["org_a"], name="Altes Angebot", status="inactive"))
        client = client_for(provider_editor_a)
        html = client.get(f"{BASE}/meine-angebote/").content.decode()
        form = re.search(r'<form method="post" action="/organisationen/angebote/bestaetigen/".*?</form>', html, re.S)
        shown = re.findall(r'name="service" value="([0-9a-f-]+)"', form.group(0))
        assert sorted(shown) == sorted([str(world["a1"].uuid), str(world["a2"].uuid)])  # not the inactive one
        response = client.post(f"{BASE}/angebote/bestaetigen/", {"service": shown + [str(inactive.uuid)]},
                               follow=True)
        assert "2 Angebote als aktuell bestätigt." in text(response)
        assert Service.objects.get(pk=world["a2"].pk).last_confirmed_at is not None
        assert Service.objects.get(pk=inactive.pk).last_confirmed_at is None


# --- Lists ---------------------------------------------------------------------------------


class TestMyServices:
    def test_rows_flags_and_actions(self, world, provider_editor_a):
        html = client_for(provider_editor_a).get(f"{BASE}/meine-angebote/").content.decode()
        rows = re.findall(r"<tr[^>]*>\s*<th scope=\"row\">(.*?)</tr>", html, re.S)
        assert [text(r).split(" Träger A")[0] for r in rows] == ["Erziehungsberatung Nord", "Familiencafé"]
        cafe = text(rows[1])
        assert "Bitte bestätigen" in cafe and "nie (angelegt am" in cafe
        assert "Bitte bestätigen" not in text(rows[0])
        assert f"{BASE}/angebote/{world['a2'].uuid}/bearbeiten/" in rows[1]
        assert f"{BASE}/angebote/{world['a2'].uuid}/duplizieren/" in rows[1]
        assert f"{BASE}/angebote/{world['a2'].uuid}/schliessen/" in rows[1]
        assert f"{BASE}/angebote/{world['a2'].uuid}/bestaetigen/" in rows[1]
        assert 'aria-label="Familiencafé bearbeiten"' in rows[1]
        assert "1 Angebot auf dieser Seite wurde lange nicht als aktuell bestätigt." in text(html)
        assert f'href="{BASE}/angebote/neu/"' in html

    def test_branch_offerings_belong_to_the_provider(self, world, provider_editor_a):
        branch = OrganizationFactory(name="Kita Sonnenschein", parent=world["org_a"])
        ServiceFactory(organization=branch, name="Krippe")
        assert "Krippe" in text(client_for(provider_editor_a).get(f"{BASE}/meine-angebote/"))

    def test_filter_by_status(self, world, provider_editor_a):
        Service.objects.filter(pk=world["a2"].pk).update(status="inactive")
        page = text(client_for(provider_editor_a).get(f"{BASE}/meine-angebote/", {"status": "inactive"}))
        assert "Familiencafé" in page and "Erziehungsberatung Nord" not in page

    def test_planner_gets_a_note_and_links(self, world, planner):
        html = client_for(planner).get(f"{BASE}/meine-angebote/").content.decode()
        assert "Als Planung können Sie alle Angebote und Organisationen ändern." in text(html)
        assert f'href="{BASE}/"' in html and f'href="{BASE}/angebote/zu-bestaetigen/"' in html
        assert "Erziehungsberatung Nord" not in html  # the planner is nobody's member


class TestUnconfirmed:
    def test_planner_follows_up(self, world, planner, settings):
        settings.SERVICE_CONFIRMATION_MONTHS = 12
        older = old(ServiceFactory(organization=world["org_b"], name="Uraltangebot"), days=900)
        old(ServiceFactory(organization=world["org_b"], name="Eingestellt", status="defunct"))
        Organization.objects.filter(pk=world["org_b"].pk).update(email="info@traeger-b.de", phone="030 1234")
        html = client_for(planner).get(f"{BASE}/angebote/zu-bestaetigen/").content.decode()
        page = text(html)
        assert page.index("Uraltangebot") < page.index("Familiencafé")  # oldest first
        assert "Erziehungsberatung Nord" not in page and "Eingestellt" not in page
        assert "info@traeger-b.de" in page and "Träger B gGmbH" in page
        assert f"{BASE}/angebote/{older.uuid}/bestaetigen/" in html
        assert "2 Einträge" in page

    def test_readers_see_the_list_without_buttons(self, world, viewer):
        html = client_for(viewer).get(f"{BASE}/angebote/zu-bestaetigen/").content.decode()
        assert "Familiencafé" in html and "/bestaetigen/" not in html


# --- Organisations -------------------------------------------------------------------------


class TestOrganizations:
    def test_list_filters_and_pagination(self, world, viewer):
        school = OrganizationFactory(name="Grundschule am Park", kind="school", umbrella="none")
        school.regions.set([world["tree"]["P21"]])
        for i in range(50):
            OrganizationFactory(name=f"Verein {i:02d}")
        client = client_for(viewer)
        page = text(client.get(f"{BASE}/"))
        assert "1–50 von 53 Einträgen" in page
        assert "Seite 2 von 2" in text(client.get(f"{BASE}/", {"page": 2}))
        page = text(client.get(f"{BASE}/", {"kind": "school"}))
        assert "Grundschule am Park" in page and "Träger A" not in page
        page = text(client.get(f"{BASE}/", {"umbrella": "diakonie"}))
        assert "Träger B gGmbH" in page and "Träger A" not in page
        page = text(client.get(f"{BASE}/", {"region": "D2"}))
        assert "Grundschule am Park" in page and "1 Eintrag" in page
        page = text(client.get(f"{BASE}/", {"q": "träger a"}))
        assert "Träger A e. V." in page and "1 Eintrag" in page

    def test_branches_link_and_parent_filter(self, world, viewer):
        branch = OrganizationFactory(name="Kita Sonnenschein", parent=world["org_a"], kind="daycare")
        client = client_for(viewer)
        html = client.get(f"{BASE}/{world['org_a'].uuid}/").content.decode()
        assert "Kita Sonnenschein" in html and f"{BASE}/?parent={world['org_a'].uuid}" in html
        page = text(client.get(f"{BASE}/", {"parent": str(world["org_a"].uuid)}))
        assert "Zweigstellen und Einrichtungen von Träger A e. V." in page and "1 Eintrag" in page
        assert f"{BASE}/{world['org_a'].uuid}/" in client.get(f"{BASE}/{branch.uuid}/").content.decode()

    def test_detail_shows_offerings_locations_members_history(self, world, planner, provider_editor_a,
                                                              boundaries_p11):
        loc = LocationFactory(organization=world["org_a"], name="Treffpunkt", latitude=D("52.5"),
                              longitude=D("13.25"))
        assert loc.region == world["tree"]["P11"]
        html = client_for(planner).get(f"{BASE}/{world['org_a'].uuid}/").content.decode()
        page = text(html)
        assert "Erziehungsberatung Nord" in page and "Familiencafé" in page
        assert "Treffpunkt Musterstraße" in page and "Nord-West (P11)" in page
        assert "provider_a" in page and "Mitglied hinzufügen" in page
        assert "Änderungsverlauf" in page and "angelegt" in page

    def test_planner_creates_an_organisation(self, world, planner):
        response = client_for(planner).post(f"{BASE}/neu/", {
            "name": "Nachbarschaftshaus Ost", "kind": "association", "umbrella": "paritaetischer",
            "legal_form": "ev", "parent": world["org_a"].pk, "email": "info@nbh-ost.de",
            "postal_code": "10245", "city": "Berlin", "regions": [world["tree"]["D2"].pk]})
        org = Organization.objects.get(name="Nachbarschaftshaus Ost")
        assert response.status_code == 302 and response["Location"] == f"{BASE}/{org.uuid}/"
        assert org.parent == world["org_a"] and org.created_by == planner
        assert list(org.regions.all()) == [world["tree"]["D2"]]

    @pytest.mark.parametrize("changes, name, message", [
        ({"name": ""}, "name", "Bitte den Namen der Organisation angeben."),
        ({"postal_code": "ABC"}, "postal_code", "Postleitzahl mit 4 (Österreich) oder 5 Ziffern"),
        ({"email": "x@"}, "email", "Bitte eine gültige E-Mail-Adresse angeben"),
        ({"kind": "raumschiff"}, "kind", "raumschiff"),
    ])
    def test_organisation_validation(self, world, planner, changes, name, message):
        data = {"name": "Neu", "kind": "provider", "umbrella": "none", **changes}
        response = client_for(planner).post(f"{BASE}/neu/", data)
        assert response.status_code == 200
        html = response.content.decode()
        errors = re.search(rf'<ul class="errorlist" id="id_{name}_error">(.*?)</ul>', html, re.S)
        assert errors and message in text(errors.group(1))
        control = re.search(rf'<(?:input|select)[^>]*name="{name}"[^>]*>', html).group(0)
        assert 'aria-invalid="true"' in control and f"id_{name}_error" in control
        assert not Organization.objects.filter(name="Neu").exists()

    def test_no_cycles(self, world, planner):
        branch = OrganizationFactory(name="Zweig", parent=world["org_a"])
        response = client_for(planner).post(f"{BASE}/{world['org_a'].uuid}/bearbeiten/", {
            "name": "Träger A e. V.", "kind": "provider", "umbrella": "none", "parent": branch.pk})
        assert "Die übergeordnete Organisation darf nicht zu ihren Zweigstellen gehören." in text(response)

    def test_provider_edits_its_organisation_without_kind_and_parent(self, world, provider_editor_a):
        org_a = world["org_a"]
        client = client_for(provider_editor_a)
        html = client.get(f"{BASE}/{org_a.uuid}/bearbeiten/").content.decode()
        assert 'name="kind"' not in html and 'name="parent"' not in html and 'name="umbrella"' in html
        response = client.post(f"{BASE}/{org_a.uuid}/bearbeiten/", {
            "name": "Träger A e. V. (neu)", "umbrella": "caritas", "kind": "police", "parent": world["org_b"].pk,
            "phone": "030 555", "regions": [world["tree"]["P12"].pk]})
        assert response.status_code == 302
        org_a.refresh_from_db()
        assert (org_a.name, org_a.umbrella, org_a.phone) == ("Träger A e. V. (neu)", "caritas", "030 555")
        assert org_a.kind == "provider" and org_a.parent is None
        assert list(org_a.regions.all()) == [world["tree"]["P12"]]
        assert client.post(f"{BASE}/{world['org_b'].uuid}/bearbeiten/", {"name": "x"}).status_code == 404


@pytest.fixture
def boundaries_p11(tree):
    tree["P11"].set_boundary(WEST)
    tree["P11"].save()


class TestMemberships:
    def test_planner_adds_changes_and_removes(self, world, planner, org_a):
        person = UserFactory(username="neue_kollegin")
        client = client_for(planner)
        response = client.post(f"{BASE}/{org_a.uuid}/mitglieder/", {
            "mitglied-username": " neue_kollegin ", "mitglied-role": "viewer"}, follow=True)
        membership = Membership.objects.get(user=person, organization=org_a)
        assert membership.role == "viewer"
        assert "neue_kollegin gehört jetzt zu „Träger A e. V.“ (lesen)." in text(response)
        client.post(f"{BASE}/{org_a.uuid}/mitglieder/{membership.pk}/", {f"m{membership.pk}-role": "editor"})
        membership.refresh_from_db()
        assert membership.role == "editor"
        client.post(f"{BASE}/{org_a.uuid}/mitglieder/{membership.pk}/entfernen/")
        assert not Membership.objects.filter(pk=membership.pk).exists()

    @pytest.mark.parametrize("username, message", [
        ("", "Bitte den Benutzernamen angeben."),
        ("gibt_es_nicht", "Es gibt keinen aktiven Benutzer mit dem Benutzernamen „gibt_es_nicht“."),
        ("provider_a", "provider_a gehört dieser Organisation schon an"),
    ])
    def test_errors_next_to_the_field(self, world, planner, provider_editor_a, org_a, username, message):
        response = client_for(planner).post(f"{BASE}/{org_a.uuid}/mitglieder/", {
            "mitglied-username": username, "mitglied-role": "editor"})
        assert response.status_code == 200
        html = response.content.decode()
        errors = re.search(r'<ul class="errorlist" id="id_mitglied-username_error">(.*?)</ul>', html, re.S)
        assert errors and message in text(errors.group(1))
        assert re.search(r'<input[^>]*name="mitglied-username"[^>]*aria-invalid="true"', html)
        assert Membership.objects.filter(organization=org_a).count() == 1

    def test_a_membership_of_another_organisation_is_404(self, world, planner, org_a, provider_editor_b):
        other = Membership.objects.get(user=provider_editor_b)
        response = client_for(planner).post(f"{BASE}/{org_a.uuid}/mitglieder/{other.pk}/entfernen/")
        assert response.status_code == 404 and Membership.objects.filter(pk=other.pk).exists()


# --- Query counts --------------------------------------------------------------------------


@pytest.fixture
def many(world, tree):
    """40 offerings of A (with relations and locations), 40 organisations."""
    field = world["field"]
    for i in range(40):
        loc = LocationFactory(organization=world["org_a"])
        ServiceFactory(organization=world["org_a"], name=f"Angebot {i:02d}", fields=[field], locations=[loc],
                       regions=[tree["P11"], tree["P12"]], target_groups=[world["group"]])
        org = OrganizationFactory(name=f"Verein {i:02d}", parent=world["org_b"] if i % 2 else None)
        org.regions.set([tree["P21"]])
    return world


class TestQueryCounts:
    """Each page loads what it shows in a fixed number of queries, however
    many rows there are."""

    @pytest.mark.parametrize("persona, page, limit", [
        ("provider_editor_a", "my-services", 9),
        ("planner", "my-services", 9),
        ("planner", "services-unconfirmed", 10),
        ("provider_editor_a", "services-unconfirmed", 10),
        ("viewer", "organization-list", 9),
        ("provider_editor_a", "organization-list", 9),
        ("planner", "organization-detail", 14),
        ("provider_editor_a", "organization-detail", 13),
        ("viewer", "service-detail", 14),
        ("provider_editor_a", "service-update", 18),
        ("planner", "service-update", 18),
    ])
    def test_pages(self, many, personas, persona, page, limit, django_assert_max_num_queries):
        Service.objects.update(created_at=timezone.now() - datetime.timedelta(days=400))
        client = client_for(personas[persona])
        url = urls(many)[page]
        with django_assert_max_num_queries(limit):
            response = client.get(url)
        assert response.status_code == 200

    def test_saving_the_form_is_constant(self, many, provider_editor_a, django_assert_max_num_queries):
        a1 = many["a1"]
        data = service_data(many, a1, regions=[many["tree"]["P11"].pk, many["tree"]["P12"].pk],
                            locations=[many["loc_a"].pk], target_groups=[many["group"].pk],
                            **{"standort-street": "Weg 1", "standort-postal_code": "10115", "standort-city": "Berlin"})
        # pghistory adds a context statement to each write; the rest is one query per relation
        with django_assert_max_num_queries(60):
            response = client_for(provider_editor_a).post(f"{BASE}/angebote/{a1.uuid}/bearbeiten/", data)
        assert response.status_code == 302

