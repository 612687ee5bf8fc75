"""The cooperation API under /api/v1/ (organizations, memberships,
target-groups, locations, services): every endpoint and action per persona,
validation, the directory filters, CSV/XLSX exports and pinned query counts.

Tree (conftest): CITY ─ D1 ─ P11 (13.0–13.5 E, 52.0–52.5 N), P12
                     └ D2 ─ P21 (13.5–14.0 E, 52.0–52.5 N)
Personas: provider_editor_a edits ``org_a``, provider_editor_b edits ``org_b``.
"""

import csv
import datetime
import io
from decimal import Decimal as D
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from cooperation.models import Location, Membership, Organization, Service, TargetGroup
from tests.conftest import client_for
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

API = "/api/v1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STAFF_READERS = ["planner", "viewer", "region_lead", "superuser"]
READ_ONLY_STAFF = ["viewer", "region_lead"]


def box(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


@pytest.fixture
def users(personas, superuser, scoped_planner):
    return {**personas, "superuser": superuser, "scoped_planner": scoped_planner}


@pytest.fixture
def clients(users):
    return {name: client_for(user) for name, user in users.items()}


@pytest.fixture
def fields(db):
    kjh = FieldOfActionFactory(key="t-kjh", name="Kinder- und Jugendhilfe")
    return {
        "kjh": kjh,
        "hze": FieldOfActionFactory(key="t-kjh-hze", name="Hilfen zur Erziehung", parent=kjh),
        "debt": FieldOfActionFactory(key="t-schulden", name="Schuldnerberatung"),
    }


@pytest.fixture
def data(tree, users, org_a, org_b, fields):
    """Boundaries, a location and offerings per organisation."""
    for code, geometry in {"CITY": box(13.0, 52.0, 14.0, 53.0), "D1": box(13.0, 52.0, 13.5, 53.0),
                           "P11": box(13.0, 52.0, 13.5, 52.5), "D2": box(13.5, 52.0, 14.0, 53.0),
                           "P21": box(13.5, 52.0, 14.0, 52.5)}.items():
        tree[code].set_boundary(geometry)
        tree[code].save()
    loc_a = LocationFactory(organization=org_a, name="Familienzentrum Nord", latitude=D("52.25"),
                            longitude=D("13.25"))
    loc_b = LocationFactory(organization=org_b, name="Beratungsstelle Süd", latitude=D("52.25"),
                            longitude=D("13.75"))
    today = timezone.localdate()
    svc_a = ServiceFactory(
        organization=org_a, name="Erziehungsberatung Nord", fields=[fields["hze"]],
        target_groups=[TargetGroup.objects.get(key="kinder-unter-6")], regions=[tree["P11"]], locations=[loc_a],
        age_min=0, age_max=6, capacity=10, free_places=2, free_places_reported_at=today, languages=["de", "tr"],
        access_modes=["walk_in", "appointment"], phone="+49 30 1234567",
    )
    svc_a2 = ServiceFactory(organization=org_a, name="Familiencafé", status="inactive", fields=[fields["kjh"]],
                            regions=[tree["P12"]])
    svc_b = ServiceFactory(organization=org_b, name="Schuldnerberatung", fields=[fields["debt"]], city_wide=True,
                           locations=[loc_b], age_min=18, free_places=0, free_places_reported_at=today)
    return {"tree": tree, "loc_a": loc_a, "loc_b": loc_b, "svc_a": svc_a, "svc_a2": svc_a2, "svc_b": svc_b,
            "org_a": org_a, "org_b": org_b, "fields": fields}


def rows(response):
    body = response.json()
    return body["results"] if isinstance(body, dict) and "results" in body else body


def names(response):
    return sorted(r["name"] for r in rows(response))


def service_payload(org, **kw):
    data = {"organization": str(org.uuid), "name": "Elternberatung", "fields": ["t-kjh-hze"],
            "target_groups": ["eltern"], "setting": "ambulant", "work_mode": "case_specific",
            "languages": ["de", "ar"], "access_modes": ["appointment"], "regions": ["P11"]}
    data.update(kw)
    return data


def location_payload(org, **kw):
    data = {"organization": str(org.uuid), "name": "Treffpunkt", "street": "Hauptstraße 1", "postal_code": "10115",
            "city": "Berlin", "latitude": "52.2", "longitude": "13.2"}
    data.update(kw)
    return data


def assert_refused(response):
    assert response.status_code in (401, 403), (response.status_code, response.content)
    assert set(response.json()) == {"detail"}


def snapshot():
    """Everything a refused write must leave untouched."""
    return (
        sorted(Service.objects.values_list("uuid", "organization_id", "name", "status", "last_confirmed_at")),
        sorted(Location.objects.values_list("uuid", "organization_id", "name", "latitude")),
        sorted(Organization.objects.values_list("uuid", "name", "parent_id")),
        sorted(Membership.objects.values_list("user_id", "organization_id", "role")),
        sorted(TargetGroup.objects.values_list("key", "name", "parent_id")),
    )


# --- anonymous --------------------------------------------------------------------------


class TestAnonymous:
    @pytest.mark.parametrize("path", [
        "/organizations/", "/organizations/{org}/", "/memberships/", "/memberships/{membership}/",
        "/target-groups/", "/target-groups/kinder/", "/locations/", "/locations/{loc}/", "/services/",
        "/services/{svc}/", "/services/?format=csv", "/services/?format=xlsx", "/organizations/?format=csv",
    ])
    def test_reads_refused(self, data, api, path):
        membership = Membership.objects.first()
        url = API + path.format(org=data["org_a"].uuid, membership=membership.pk, loc=data["loc_a"].uuid,
                                svc=data["svc_a"].uuid)
        response = api.get(url)
        assert_refused(response)
        assert response["Content-Type"].startswith("application/json")  # an explanation, never a table

    @pytest.mark.parametrize("method, path", [
        ("post", "/organizations/"), ("patch", "/organizations/{org}/"), ("delete", "/organizations/{org}/"),
        ("post", "/memberships/"), ("delete", "/memberships/{membership}/"),
        ("post", "/target-groups/"), ("patch", "/target-groups/kinder/"),
        ("post", "/locations/"), ("patch", "/locations/{loc}/"), ("delete", "/locations/{loc}/"),
        ("post", "/services/"), ("patch", "/services/{svc}/"), ("put", "/services/{svc}/"),
        ("delete", "/services/{svc}/"), ("post", "/services/{svc}/confirm/"), ("post", "/services/{svc}/duplicate/"),
    ])
    def test_writes_refused(self, data, api, method, path):
        before = snapshot()
        membership = Membership.objects.first()
        url = API + path.format(org=data["org_a"].uuid, membership=membership.pk, loc=data["loc_a"].uuid,
                                svc=data["svc_a"].uuid)
        body = service_payload(data["org_a"]) if "services" in path else {"name": "X"}
        assert_refused(getattr(api, method)(url, body, format="json"))
        assert snapshot() == before

    def test_inactive_user_refused(self, data, inactive_planner):
        assert client_for(inactive_planner).get(f"{API}/services/").status_code in (401, 403)


# --- reading ------------------------------------------------------------------------------


class TestReading:
    @pytest.mark.parametrize("persona", STAFF_READERS)
    def test_staff_read_everything(self, data, clients, persona):
        api = clients[persona]
        assert names(api.get(f"{API}/services/")) == ["Erziehungsberatung Nord", "Familiencafé", "Schuldnerberatung"]
        assert names(api.get(f"{API}/organizations/")) == ["Träger A e. V.", "Träger B gGmbH"]
        assert names(api.get(f"{API}/locations/")) == ["Beratungsstelle Süd", "Familienzentrum Nord"]
        for obj, route in ((data["svc_b"], "services"), (data["loc_b"], "locations"), (data["org_b"], "organizations")):
            assert api.get(f"{API}/{route}/{obj.uuid}/").status_code == 200

    def test_provider_editor_sees_only_its_own(self, data, clients):
        api = clients["provider_editor_a"]
        assert names(api.get(f"{API}/services/")) == ["Erziehungsberatung Nord", "Familiencafé"]
        assert names(api.get(f"{API}/organizations/")) == ["Träger A e. V."]
        assert names(api.get(f"{API}/locations/")) == ["Familienzentrum Nord"]
        for obj, route in ((data["svc_b"], "services"), (data["loc_b"], "locations"), (data["org_b"], "organizations")):
            assert api.get(f"{API}/{route}/{obj.uuid}/").status_code == 404
        assert api.get(f"{API}/services/{data['svc_a'].uuid}/").status_code == 200

    def test_provider_exports_only_its_own(self, data, clients):
        body = clients["provider_editor_b"].get(f"{API}/services/?format=csv").content.decode("utf-8-sig")
        assert "Schuldnerberatung" in body and "Erziehungsberatung" not in body

    def test_service_output(self, data, clients):
        body = clients["viewer"].get(f"{API}/services/{data['svc_a'].uuid}/").json()
        assert body["organization"] == str(data["org_a"].uuid)
        assert body["organization_name"] == "Träger A e. V."
        assert body["fields"] == ["t-kjh-hze"]
        assert body["target_groups"] == ["kinder-unter-6"]
        assert body["regions"] == ["P11"]
        assert body["locations"] == [str(data["loc_a"].uuid)]
        assert body["languages"] == ["de", "tr"] and body["access_modes"] == ["walk_in", "appointment"]
        assert body["needs_confirmation"] is False and body["distance_km"] is None
        assert "id" not in body and "search" not in body

    def test_needs_confirmation(self, data, clients):
        Service.objects.filter(pk=data["svc_a"].pk).update(created_at=timezone.now() - datetime.timedelta(days=800))
        body = clients["viewer"].get(f"{API}/services/{data['svc_a'].uuid}/").json()
        assert body["needs_confirmation"] is True

    def test_location_region_from_point(self, data, clients):
        body = clients["viewer"].get(f"{API}/locations/{data['loc_a'].uuid}/").json()
        assert body["region"] == "P11" and body["latitude"] == "52.250000"
        assert body["organization"] == str(data["org_a"].uuid)

    def test_organization_output(self, data, clients):
        data["org_a"].regions.set([data["tree"]["P11"], data["tree"]["D2"]])
        body = clients["viewer"].get(f"{API}/organizations/{data['org_a'].uuid}/").json()
        assert sorted(body["regions"]) == ["D2", "P11"] and body["parent"] is None

    @pytest.mark.parametrize("persona", ["planner", "viewer", "region_lead", "provider_editor_a", "provider_editor_b"])
    def test_target_groups_readable_by_everyone(self, data, clients, persona):
        api = clients[persona]
        keys = [r["key"] for r in rows(api.get(f"{API}/target-groups/", {"page_size": 1000}))]
        assert "kinder" in keys and "kinder-unter-6" in keys
        body = api.get(f"{API}/target-groups/kinder-unter-6/").json()
        assert body["parent"] == "kinder"
        assert [r["key"] for r in rows(api.get(f"{API}/target-groups/", {"parent": "familien"}))] == [
            "eltern", "alleinerziehende", "schwangere"]

    def test_memberships_everyone_sees_own(self, data, clients, users):
        assert len(rows(clients["planner"].get(f"{API}/memberships/"))) == 2
        own = rows(clients["provider_editor_a"].get(f"{API}/memberships/"))
        assert own == [{"id": own[0]["id"], "user": "provider_a", "organization": str(data["org_a"].uuid),
                        "organization_name": "Träger A e. V.", "role": "editor", "created_at": own[0]["created_at"]}]
        other = Membership.objects.get(user=users["provider_editor_b"])
        assert clients["provider_editor_a"].get(f"{API}/memberships/{other.pk}/").status_code == 404
        assert rows(clients["viewer"].get(f"{API}/memberships/")) == []

    @pytest.mark.parametrize("route", ["organizations", "memberships", "target-groups", "locations", "services"])
    def test_browsable_api(self, data, clients, route):
        response = clients["planner"].get(f"{API}/{route}/", HTTP_ACCEPT="text/html")
        assert response.status_code == 200 and b"<html" in response.content

    def test_api_root_lists_the_endpoints(self, clients):
        body = clients["viewer"].get(f"{API}/").json()
        assert {"organizations", "memberships", "target-groups", "locations", "services"} <= set(body)


# --- provider editors ------------------------------------------------------------------


class TestProviderEditor:
    @pytest.mark.parametrize("method, suffix", [
        ("get", ""), ("patch", ""), ("put", ""), ("delete", ""), ("post", "confirm/"), ("post", "duplicate/"),
    ])
    def test_other_organizations_services_do_not_exist(self, data, clients, method, suffix):
        before = snapshot()
        url = f"{API}/services/{data['svc_b'].uuid}/{suffix}"
        response = getattr(clients["provider_editor_a"], method)(url, service_payload(data["org_a"]), format="json")
        assert response.status_code == 404
        assert snapshot() == before

    @pytest.mark.parametrize("method", ["get", "patch", "put", "delete"])
    def test_other_organizations_locations_do_not_exist(self, data, clients, method):
        before = snapshot()
        url = f"{API}/locations/{data['loc_b'].uuid}/"
        response = getattr(clients["provider_editor_a"], method)(url, location_payload(data["org_a"]), format="json")
        assert response.status_code == 404
        assert snapshot() == before

    @pytest.mark.parametrize("method", ["get", "patch", "delete"])
    def test_other_organization_does_not_exist(self, data, clients, method):
        before = snapshot()
        response = getattr(clients["provider_editor_a"], method)(f"{API}/organizations/{data['org_b'].uuid}/",
                                                                 {"name": "X"}, format="json")
        assert response.status_code == 404
        assert snapshot() == before

    def test_cannot_create_a_service_for_another_organization(self, data, clients):
        before = snapshot()
        response = clients["provider_editor_a"].post(f"{API}/services/", service_payload(data["org_b"]), format="json")
        assert response.status_code == 400
        assert set(response.json()) == {"organization"}
        assert snapshot() == before

    def test_unknown_organization_gives_the_same_answer(self, data, clients):
        """Another organisation and a non-existing one are indistinguishable."""
        other = clients["provider_editor_a"].post(f"{API}/services/", service_payload(data["org_b"]), format="json")
        missing = clients["provider_editor_a"].post(
            f"{API}/services/", service_payload(data["org_b"], organization="00000000-0000-4000-8000-000000000000"),
            format="json")
        assert other.status_code == missing.status_code == 400
        assert other.json()["organization"][0].replace(str(data["org_b"].uuid), "X") == \
            missing.json()["organization"][0].replace("00000000-0000-4000-8000-000000000000", "X")

    def test_creates_edits_and_deletes_own_services(self, data, clients, users):
        api = clients["provider_editor_a"]
        response = api.post(f"{API}/services/", service_payload(data["org_a"]), format="json")
        assert response.status_code == 201, response.json()
        created = Service.objects.get(uuid=response.json()["uuid"])
        assert created.organization == data["org_a"] and created.created_by == users["provider_editor_a"]
        assert sorted(created.target_groups.values_list("key", flat=True)) == ["eltern"]
        url = f"{API}/services/{created.uuid}/"
        response = api.patch(url, {"name": "Elternberatung Nord", "languages": ["de", "de", "en"]}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["languages"] == ["de", "en"]
        # a full update naming the same organisation is fine
        response = api.put(url, service_payload(data["org_a"], name="Elternberatung Süd"), format="json")
        assert response.status_code == 200, response.json()
        assert api.delete(url).status_code == 204
        assert not Service.objects.filter(pk=created.pk).exists()

    def test_cannot_move_own_service_to_another_organization(self, data, clients):
        before = snapshot()
        url = f"{API}/services/{data['svc_a'].uuid}/"
        for body in ({"organization": str(data["org_b"].uuid)},
                     service_payload(data["org_b"], name="Erziehungsberatung Nord")):
            method = "patch" if len(body) == 1 else "put"
            response = getattr(clients["provider_editor_a"], method)(url, body, format="json")
            assert response.status_code == 400 and "organization" in response.json()
        assert snapshot() == before

    def test_cannot_move_own_service_to_own_branch(self, data, clients):
        """Only planners reassign offerings, also between a provider and its branch."""
        branch = OrganizationFactory(name="Träger A – Kita", parent=data["org_a"])
        response = clients["provider_editor_a"].patch(f"{API}/services/{data['svc_a'].uuid}/",
                                                      {"organization": str(branch.uuid)}, format="json")
        assert response.status_code == 400 and "organization" in response.json()
        assert Service.objects.get(pk=data["svc_a"].pk).organization == data["org_a"]
        # but a new offering of the branch is fine
        response = clients["provider_editor_a"].post(f"{API}/services/", service_payload(branch), format="json")
        assert response.status_code == 201, response.json()

    def test_cannot_attach_another_organizations_location(self, data, clients):
        before = snapshot()
        response = clients["provider_editor_a"].post(
            f"{API}/services/", service_payload(data["org_a"], locations=[str(data["loc_b"].uuid)]), format="json")
        assert response.status_code == 400 and set(response.json()) == {"locations"}
        response = clients["provider_editor_a"].patch(
            f"{API}/services/{data['svc_a'].uuid}/", {"locations": [str(data["loc_b"].uuid)]}, format="json")
        assert response.status_code == 400 and set(response.json()) == {"locations"}
        assert snapshot() == before
        assert list(data["svc_a"].locations.all()) == [data["loc_a"]]

    def test_keeps_a_location_a_planner_attached(self, data, clients):
        data["svc_a"].locations.add(data["loc_b"])
        locations = [str(data["loc_a"].uuid), str(data["loc_b"].uuid)]
        response = clients["provider_editor_a"].patch(f"{API}/services/{data['svc_a'].uuid}/",
                                                      {"locations": locations, "name": "Neu"}, format="json")
        assert response.status_code == 200, response.json()
        assert sorted(response.json()["locations"]) == sorted(locations)

    def test_confirms_and_duplicates_own_services(self, data, clients):
        api = clients["provider_editor_a"]
        response = api.post(f"{API}/services/{data['svc_a'].uuid}/confirm/")
        assert response.status_code == 200
        assert response.json()["last_confirmed_at"] is not None
        response = api.post(f"{API}/services/{data['svc_a2'].uuid}/duplicate/")
        assert response.status_code == 201
        assert response.json()["name"] == "Familiencafé (Kopie)"

    def test_locations(self, data, clients):
        api = clients["provider_editor_a"]
        before = snapshot()
        response = api.post(f"{API}/locations/", location_payload(data["org_b"]), format="json")
        assert response.status_code == 400 and set(response.json()) == {"organization"}
        assert snapshot() == before
        response = api.post(f"{API}/locations/", location_payload(data["org_a"]), format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["region"] == "P11"
        url = f"{API}/locations/{response.json()['uuid']}/"
        # the region follows the point and cannot be set
        response = api.patch(url, {"longitude": "13.8", "region": "P11"}, format="json")
        assert response.status_code == 200 and response.json()["region"] == "P21"
        response = api.patch(url, {"organization": str(data["org_b"].uuid)}, format="json")
        assert response.status_code == 400 and "organization" in response.json()
        assert Location.objects.get(uuid=response.request["PATH_INFO"].split("/")[-2]).organization == data["org_a"]
        assert api.delete(url).status_code == 204

    def test_edits_own_organization_but_not_its_parent(self, data, clients):
        branch = OrganizationFactory(name="Träger A – Kita", parent=data["org_a"])
        api = clients["provider_editor_a"]
        url = f"{API}/organizations/{data['org_a'].uuid}/"
        response = api.patch(url, {"phone": "+49 30 555", "regions": ["P11"]}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["regions"] == ["P11"]
        response = api.patch(url, {"parent": str(branch.uuid)}, format="json")
        assert response.status_code == 400 and "parent" in response.json()
        response = api.patch(f"{API}/organizations/{branch.uuid}/", {"parent": None}, format="json")
        assert response.status_code == 400 and "parent" in response.json()
        assert Organization.objects.get(pk=branch.pk).parent == data["org_a"]

    def test_cannot_create_or_delete_organizations(self, data, clients):
        before = snapshot()
        api = clients["provider_editor_a"]
        assert api.post(f"{API}/organizations/", {"name": "Neu"}, format="json").status_code == 403
        assert api.delete(f"{API}/organizations/{data['org_a'].uuid}/").status_code == 403
        assert snapshot() == before

    def test_cannot_create_or_change_memberships(self, data, clients, users):
        """No escalation: an editor grants nobody access, not even themselves."""
        before = snapshot()
        api = clients["provider_editor_a"]
        own = Membership.objects.get(user=users["provider_editor_a"])
        for body in ({"user": "provider_a", "organization": str(data["org_b"].uuid), "role": "editor"},
                     {"user": "viewer", "organization": str(data["org_a"].uuid), "role": "editor"}):
            assert api.post(f"{API}/memberships/", body, format="json").status_code == 403
        assert api.patch(f"{API}/memberships/{own.pk}/", {"role": "viewer"}, format="json").status_code == 403
        assert api.put(f"{API}/memberships/{own.pk}/", {"user": "provider_a", "organization": str(data["org_b"].uuid),
                                                        "role": "editor"}, format="json").status_code == 403
        assert api.delete(f"{API}/memberships/{own.pk}/").status_code == 403
        other = Membership.objects.get(user=users["provider_editor_b"])
        assert api.patch(f"{API}/memberships/{other.pk}/", {"role": "viewer"}, format="json").status_code == 404
        assert snapshot() == before

    def test_cannot_change_target_groups(self, data, clients):
        before = snapshot()
        api = clients["provider_editor_a"]
        assert api.post(f"{API}/target-groups/", {"key": "neu", "name": "Neu"}, format="json").status_code == 403
        assert api.patch(f"{API}/target-groups/kinder/", {"name": "X"}, format="json").status_code == 403
        assert api.delete(f"{API}/target-groups/alle/").status_code == 403
        assert snapshot() == before

    def test_provider_viewer_reads_but_does_not_write(self, data):
        user = UserFactory(username="a_reader")
        MembershipFactory(user=user, organization=data["org_a"], role="viewer")
        api = client_for(user)
        before = snapshot()
        assert names(api.get(f"{API}/services/")) == ["Erziehungsberatung Nord", "Familiencafé"]
        assert api.post(f"{API}/services/", service_payload(data["org_a"]), format="json").status_code == 403
        url = f"{API}/services/{data['svc_a'].uuid}/"
        assert api.patch(url, {"name": "X"}, format="json").status_code == 403
        assert api.post(url + "confirm/").status_code == 403
        assert api.post(url + "duplicate/").status_code == 403
        assert api.delete(url).status_code == 403
        assert api.post(f"{API}/locations/", location_payload(data["org_a"]), format="json").status_code == 403
        assert snapshot() == before


# --- staff that only reads ----------------------------------------------------------------


class TestReadOnlyStaff:
    @pytest.mark.parametrize("persona", READ_ONLY_STAFF)
    @pytest.mark.parametrize("method, path, body", [
        ("post", "/organizations/", {"name": "Neu"}),
        ("patch", "/organizations/{org}/", {"name": "X"}),
        ("delete", "/organizations/{org}/", None),
        ("post", "/memberships/", {"user": "viewer", "organization": "{org}", "role": "editor"}),
        ("post", "/target-groups/", {"key": "neu", "name": "Neu"}),
        ("patch", "/target-groups/kinder/", {"name": "X"}),
        ("delete", "/target-groups/alle/", None),
        ("post", "/locations/", "location"),
        ("patch", "/locations/{loc}/", {"name": "X"}),
        ("delete", "/locations/{loc}/", None),
        ("post", "/services/", "service"),
        ("patch", "/services/{svc}/", {"name": "X"}),
        ("put", "/services/{svc}/", "service"),
        ("delete", "/services/{svc}/", None),
        ("post", "/services/{svc}/confirm/", None),
        ("post", "/services/{svc}/duplicate/", None),
    ])
    def test_writes_refused(self, data, clients, persona, method, path, body):
        before = snapshot()
        ids = {"org": data["org_a"].uuid, "membership": Membership.objects.first().pk, "loc": data["loc_a"].uuid,
               "svc": data["svc_a"].uuid}
        if body == "service":
            body = service_payload(data["org_a"])
        elif body == "location":
            body = location_payload(data["org_a"])
        elif body:
            body = {k: v.format(**ids) if isinstance(v, str) else v for k, v in body.items()}
        response = getattr(clients[persona], method)(API + path.format(**ids), body, format="json")
        assert response.status_code == 403, response.content
        assert snapshot() == before

    @pytest.mark.parametrize("persona", READ_ONLY_STAFF)
    def test_memberships_of_others_do_not_exist(self, data, clients, users, persona):
        """Staff see their own memberships only (they have none): others' are 404."""
        before = snapshot()
        other = Membership.objects.get(user=users["provider_editor_a"])
        api = clients[persona]
        assert api.get(f"{API}/memberships/{other.pk}/").status_code == 404
        assert api.patch(f"{API}/memberships/{other.pk}/", {"role": "viewer"}, format="json").status_code == 404
        assert api.delete(f"{API}/memberships/{other.pk}/").status_code == 404
        assert snapshot() == before

    @pytest.mark.parametrize("persona", READ_ONLY_STAFF)
    def test_own_membership_read_only(self, data, clients, users, persona):
        own = MembershipFactory(user=users[persona], organization=data["org_a"], role="viewer")
        before = snapshot()
        api = client_for(users[persona].__class__.objects.get(pk=users[persona].pk))
        assert api.get(f"{API}/memberships/{own.pk}/").status_code == 200
        assert api.patch(f"{API}/memberships/{own.pk}/", {"role": "editor"}, format="json").status_code == 403
        assert api.delete(f"{API}/memberships/{own.pk}/").status_code == 403
        assert snapshot() == before


# --- planners ---------------------------------------------------------------------------------


class TestPlanner:
    def test_full_cycle(self, data, clients, users):
        api = clients["planner"]
        response = api.post(f"{API}/organizations/", {
            "name": "Stadtteilverein Mitte", "kind": "association", "umbrella": "none", "legal_form": "ev",
            "parent": None, "regions": ["D1"], "postal_code": "10115", "phone": "+49 30 12345"}, format="json")
        assert response.status_code == 201, response.json()
        org = Organization.objects.get(uuid=response.json()["uuid"])
        assert list(org.regions.values_list("code", flat=True)) == ["D1"]

        UserFactory(username="neu")
        response = api.post(f"{API}/memberships/", {"user": "neu", "organization": str(org.uuid), "role": "editor"},
                            format="json")
        assert response.status_code == 201, response.json()
        membership_url = f"{API}/memberships/{response.json()['id']}/"
        response = api.post(f"{API}/memberships/", {"user": "neu", "organization": str(org.uuid), "role": "viewer"},
                            format="json")
        assert response.status_code == 400  # once per organisation
        assert api.patch(membership_url, {"role": "viewer"}, format="json").json()["role"] == "viewer"

        response = api.post(f"{API}/target-groups/", {"key": "grosseltern", "name": "Großeltern",
                                                      "parent": "familien", "order": 5}, format="json")
        assert response.status_code == 201, response.json()

        response = api.post(f"{API}/locations/", location_payload(org), format="json")
        assert response.status_code == 201, response.json()
        location = response.json()["uuid"]
        response = api.post(f"{API}/services/", service_payload(org, locations=[location], target_groups=["grosseltern"]),
                            format="json")
        assert response.status_code == 201, response.json()
        service_url = f"{API}/services/{response.json()['uuid']}/"
        # a planner may move an offering and a location to another organisation
        response = api.patch(service_url, {"organization": str(data["org_b"].uuid)}, format="json")
        assert response.status_code == 200 and response.json()["organization"] == str(data["org_b"].uuid)
        response = api.patch(f"{API}/locations/{location}/", {"organization": str(data["org_b"].uuid)}, format="json")
        assert response.status_code == 200
        # an organisation with offerings cannot be deleted
        assert api.delete(f"{API}/organizations/{data['org_b'].uuid}/").status_code == 409
        assert api.delete(service_url).status_code == 204
        assert api.delete(f"{API}/locations/{location}/").status_code == 204
        assert api.delete(membership_url).status_code == 204
        assert api.delete(f"{API}/organizations/{org.uuid}/").status_code == 204
        assert api.delete(f"{API}/target-groups/grosseltern/").status_code == 204

    def test_reassigns_a_branch(self, data, clients):
        branch = OrganizationFactory(name="Kita", parent=data["org_a"])
        response = clients["planner"].patch(f"{API}/organizations/{branch.uuid}/",
                                            {"parent": str(data["org_b"].uuid)}, format="json")
        assert response.status_code == 200 and response.json()["parent"] == str(data["org_b"].uuid)

    def test_organization_cycle_refused(self, data, clients):
        branch = OrganizationFactory(name="Kita", parent=data["org_a"])
        response = clients["planner"].patch(f"{API}/organizations/{data['org_a'].uuid}/",
                                            {"parent": str(branch.uuid)}, format="json")
        assert response.status_code == 400 and "parent" in response.json()

    def test_confirm(self, data, clients, users):
        before = timezone.now()
        response = clients["planner"].post(f"{API}/services/{data['svc_b'].uuid}/confirm/")
        assert response.status_code == 200
        service = Service.objects.get(pk=data["svc_b"].pk)
        assert service.last_confirmed_at >= before and service.updated_by == users["planner"]
        assert response.json()["needs_confirmation"] is False

    def test_duplicate(self, data, clients, users):
        original = data["svc_a"]
        Service.objects.filter(pk=original.pk).update(status="temporarily closed", last_confirmed_at=None)
        before = timezone.now()
        response = clients["planner"].post(f"{API}/services/{original.uuid}/duplicate/")
        assert response.status_code == 201
        body = response.json()
        assert body["name"] == "Erziehungsberatung Nord (Kopie)"
        assert body["uuid"] != str(original.uuid)
        assert body["status"] == "active"
        copy = Service.objects.get(uuid=body["uuid"])
        assert copy.last_confirmed_at >= before and copy.created_at >= before
        assert copy.created_by == users["planner"] and copy.organization == original.organization
        for name in ("fields", "target_groups", "regions", "locations"):
            assert set(getattr(copy, name).all()) == set(getattr(original, name).all()), name
            assert getattr(copy, name).exists()
        assert (copy.age_min, copy.age_max, copy.languages, copy.description) == (
            original.age_min, original.age_max, original.languages, original.description)
        assert Service.objects.get(pk=original.pk).status == "temporarily closed"  # the original is untouched

    def test_duplicate_of_a_long_name_fits(self, data, clients):
        Service.objects.filter(pk=data["svc_a"].pk).update(name="x" * 200)
        response = clients["planner"].post(f"{API}/services/{data['svc_a'].uuid}/duplicate/")
        assert response.status_code == 201 and response.json()["name"] == "x" * 192 + " (Kopie)"

    def test_duplicate_is_atomic(self, data, clients):
        count = Service.objects.count()
        with mock.patch.object(Service.locations.related_manager_cls, "set", side_effect=RuntimeError("boom")):
            with pytest.raises(RuntimeError):
                clients["planner"].post(f"{API}/services/{data['svc_a'].uuid}/duplicate/")
        assert Service.objects.count() == count

    def test_create_is_atomic(self, data, clients):
        count = Service.objects.count()
        with mock.patch.object(Service.locations.related_manager_cls, "set", side_effect=RuntimeError("boom")):
            with pytest.raises(RuntimeError):
                clients["planner"].post(f"{API}/services/", service_payload(
                    data["org_a"], locations=[str(data["loc_a"].uuid)]), format="json")
        assert Service.objects.count() == count

    def test_scoped_planner_is_a_planner_here(self, data, clients):
        response = clients["scoped_planner"].patch(f"{API}/services/{data['svc_a'].uuid}/", {"name": "Neu"},
                                                   format="json")
        assert response.status_code == 200


# --- validation ----------------------------------------------------------------------------------


class TestValidation:
    @pytest.mark.parametrize("change, field", [
        ({"age_min": 10, "age_max": 5}, "age_max"),
        ({"capacity": 2, "free_places": 5, "free_places_reported_at": "2024-01-01"}, "free_places"),
        ({"free_places": 1}, "free_places_reported_at"),
        ({"languages": ["klingonisch"]}, "languages"),
        ({"legal_bases": ["sgb99"]}, "legal_bases"),
        ({"fields": []}, "fields"),
        ({"fields": ["gibt-es-nicht"]}, "fields"),
        ({"target_groups": ["gibt-es-nicht"]}, "target_groups"),
        ({"regions": ["XX"]}, "regions"),
        ({"status": "geschlossen"}, "status"),
        ({"phone": "bitte anrufen"}, "phone"),
        ({"age_max": 200}, "age_max"),
    ])
    def test_service_errors_name_the_field(self, data, clients, change, field):
        count = Service.objects.count()
        response = clients["planner"].post(f"{API}/services/", service_payload(data["org_a"], **change),
                                           format="json")
        assert response.status_code == 400
        assert field in response.json(), response.json()
        assert Service.objects.count() == count

    def test_inactive_field_not_assigned_anew(self, data, clients):
        FieldOfActionFactory(key="t-alt", name="Alt", active=False)
        response = clients["planner"].post(f"{API}/services/", service_payload(data["org_a"], fields=["t-alt"]),
                                           format="json")
        assert response.status_code == 400 and "fields" in response.json()

    def test_field_deactivated_later_may_stay(self, data, clients):
        field = data["fields"]["debt"]
        field.active = False
        field.save()
        response = clients["planner"].patch(f"{API}/services/{data['svc_b'].uuid}/",
                                            {"fields": ["t-schulden"], "name": "Schuldnerberatung Süd"}, format="json")
        assert response.status_code == 200, response.json()

    def test_location_needs_both_coordinates(self, data, clients):
        response = clients["planner"].post(f"{API}/locations/", location_payload(data["org_a"], longitude=None),
                                           format="json")
        assert response.status_code == 400 and "longitude" in response.json()
        response = clients["planner"].post(f"{API}/locations/", location_payload(data["org_a"], latitude="95"),
                                           format="json")
        assert response.status_code == 400 and "latitude" in response.json()

    def test_location_coordinates_rounded_to_six_places(self, data, clients):
        response = clients["planner"].post(
            f"{API}/locations/", location_payload(data["org_a"], latitude="52.20000049", longitude="13.2000005"),
            format="json")
        assert response.status_code == 201, response.json()
        assert (response.json()["latitude"], response.json()["longitude"]) == ("52.200000", "13.200001")

    def test_location_without_point_has_no_region(self, data, clients):
        response = clients["planner"].post(f"{API}/locations/",
                                           location_payload(data["org_a"], latitude=None, longitude=None),
                                           format="json")
        assert response.status_code == 201 and response.json()["region"] is None

    def test_target_group_key_fixed_and_no_cycle(self, data, clients):
        api = clients["planner"]
        response = api.patch(f"{API}/target-groups/kinder/", {"key": "kids"}, format="json")
        assert response.status_code == 400 and "key" in response.json()
        response = api.patch(f"{API}/target-groups/kinder/", {"parent": "kinder-unter-6"}, format="json")
        assert response.status_code == 400 and "parent" in response.json()
        response = api.patch(f"{API}/target-groups/kinder/", {"parent": "kinder"}, format="json")
        assert response.status_code == 400 and "parent" in response.json()
        response = api.post(f"{API}/target-groups/", {"key": "kinder", "name": "Doppelt"}, format="json")
        assert response.status_code == 400 and "key" in response.json()

    def test_target_group_with_children_is_in_use(self, data, clients):
        assert clients["planner"].delete(f"{API}/target-groups/kinder/").status_code == 409
        assert TargetGroup.objects.filter(key="kinder").exists()


# --- filters through the API ------------------------------------------------------------------


class TestFilters:
    def get(self, clients, **params):
        response = clients["viewer"].get(f"{API}/services/", params)
        assert response.status_code == 200, response.json()
        return response

    def test_q(self, data, clients):
        assert names(self.get(clients, q="Erziehungsberatung")) == ["Erziehungsberatung Nord"]
        assert names(self.get(clients, q="Träger B")) == ["Schuldnerberatung"]  # organisation name

    def test_field_with_sub_fields(self, data, clients):
        assert names(self.get(clients, field="t-kjh")) == ["Erziehungsberatung Nord", "Familiencafé"]
        assert names(self.get(clients, field="t-kjh-hze")) == ["Erziehungsberatung Nord"]

    def test_target_group_with_sub_groups(self, data, clients):
        assert names(self.get(clients, target_group="kinder")) == ["Erziehungsberatung Nord"]

    def test_region(self, data, clients):
        # P11 is served by svc_a; the city-wide offering serves everywhere
        assert names(self.get(clients, region="P11")) == ["Erziehungsberatung Nord", "Schuldnerberatung"]
        assert names(self.get(clients, region="D1")) == ["Erziehungsberatung Nord", "Familiencafé", "Schuldnerberatung"]
        assert names(self.get(clients, region="P21")) == ["Schuldnerberatung"]
        assert names(self.get(clients, region="gibt-es-nicht")) == []

    def test_near_with_distance(self, data, clients):
        response = self.get(clients, near="52.25,13.26", radius=5)
        results = rows(response)
        assert [r["name"] for r in results] == ["Erziehungsberatung Nord"]
        assert results[0]["distance_km"] == pytest.approx(0.68, abs=0.02)
        results = rows(self.get(clients, near="52.25,13.5", radius=50))
        assert [r["name"] for r in results] == ["Erziehungsberatung Nord", "Schuldnerberatung"]  # equidistant: by name
        assert results[0]["distance_km"] == pytest.approx(17.0, abs=0.2)

    def test_near_badly_formed(self, data, clients):
        response = clients["viewer"].get(f"{API}/services/", {"near": "Berlin"})
        assert response.status_code == 400 and "near" in response.json()
        response = clients["viewer"].get(f"{API}/services/", {"near": "Berlin", "format": "csv"})
        assert response.status_code == 400 and response["Content-Type"].startswith("application/json")

    def test_age(self, data, clients):
        assert names(self.get(clients, age=4)) == ["Erziehungsberatung Nord", "Familiencafé"]
        assert names(self.get(clients, age=30)) == ["Familiencafé", "Schuldnerberatung"]

    def test_free_places(self, data, clients):
        assert names(self.get(clients, free_places="true")) == ["Erziehungsberatung Nord"]
        assert names(self.get(clients, free_places="false")) == ["Familiencafé", "Schuldnerberatung"]

    def test_modified_after(self, data, clients):
        old = timezone.make_aware(datetime.datetime(2020, 1, 1))
        Service.objects.filter(pk__in=[data["svc_a"].pk, data["svc_a2"].pk]).update(updated_at=old)
        assert names(self.get(clients, modified_after="2021-01-01T00:00:00+01:00")) == ["Schuldnerberatung"]

    def test_status_setting_and_organization(self, data, clients):
        assert names(self.get(clients, status="inactive")) == ["Familiencafé"]
        assert names(self.get(clients, organization=str(data["org_b"].uuid))) == ["Schuldnerberatung"]

    def test_other_lists(self, data, clients):
        api = clients["viewer"]
        assert names(api.get(f"{API}/organizations/", {"umbrella": "diakonie"})) == ["Träger B gGmbH"]
        assert names(api.get(f"{API}/organizations/", {"q": "träger a"})) == ["Träger A e. V."]
        data["org_a"].regions.set([data["tree"]["P12"]])
        assert names(api.get(f"{API}/organizations/", {"region": "D1"})) == ["Träger A e. V."]
        assert names(api.get(f"{API}/locations/", {"region": "D2"})) == ["Beratungsstelle Süd"]
        assert names(api.get(f"{API}/locations/", {"organization": str(data["org_a"].uuid)})) == [
            "Familienzentrum Nord"]
        assert [r["user"] for r in rows(clients["planner"].get(f"{API}/memberships/", {"user": "provider_b"}))] == [
            "provider_b"]


# --- exports ------------------------------------------------------------------------------------


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM for Excel
    text = raw.decode("utf-8")[1:]
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def read_xlsx(response) -> tuple[list, list[list]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == XLSX
    ws = load_workbook(io.BytesIO(response.content)).active
    table = [list(r) for r in ws.iter_rows(values_only=True)]
    return table[0], table[1:]


class TestExports:
    def test_services_csv(self, data, clients):
        response = clients["viewer"].get(f"{API}/services/", {"format": "csv"})
        assert response["Content-Disposition"].startswith('attachment; filename="services-')
        table = read_csv(response)
        assert [r["name"] for r in table] == ["Erziehungsberatung Nord", "Familiencafé", "Schuldnerberatung"]
        row = table[0]
        assert list(row)[:3] == ["uuid", "organization", "organization_name"]
        assert row["languages"] == "de, tr" and row["access_modes"] == "walk_in, appointment"
        assert row["fields"] == "t-kjh-hze" and row["regions"] == "P11" and row["locations"] == str(data["loc_a"].uuid)
        assert row["city_wide"] == "nein" and table[2]["city_wide"] == "ja"
        assert row["age_max"] == "6" and table[1]["age_max"] == ""
        assert row["phone"] == "'+49 30 1234567"  # never run as a formula by Excel
        assert row["created_at"][:2] == "20" and "T" not in row["created_at"]

    def test_all_rows_not_one_page(self, data, clients):
        for i in range(55):
            ServiceFactory(organization=data["org_a"], name=f"Angebot {i:02d}", fields=[data["fields"]["kjh"]])
        assert rows(clients["viewer"].get(f"{API}/services/"))[49]  # the JSON list has pages of 50
        assert len(rows(clients["viewer"].get(f"{API}/services/"))) == 50
        assert len(read_csv(clients["viewer"].get(f"{API}/services/", {"format": "csv", "page": 2}))) == 58
        header, body = read_xlsx(clients["viewer"].get(f"{API}/services/", {"format": "xlsx"}))
        assert len(body) == 58

    def test_filtered_export(self, data, clients):
        table = read_csv(clients["viewer"].get(f"{API}/services/", {"format": "csv", "field": "t-kjh"}))
        assert [r["name"] for r in table] == ["Erziehungsberatung Nord", "Familiencafé"]
        table = read_csv(clients["viewer"].get(f"{API}/services/", {"format": "csv", "near": "52.25,13.26"}))
        assert [r["name"] for r in table] == ["Erziehungsberatung Nord"]
        assert table[0]["distance_km"].startswith("0,68")  # decimal comma
        header, body = read_xlsx(clients["viewer"].get(f"{API}/services/", {"format": "xlsx", "age": 30}))
        assert [r[header.index("name")] for r in body] == ["Familiencafé", "Schuldnerberatung"]

    def test_services_xlsx(self, data, clients):
        response = clients["viewer"].get(f"{API}/services/", {"format": "xlsx"})
        assert response["Content-Disposition"].startswith('attachment; filename="services-')
        assert response["Content-Disposition"].endswith('.xlsx"')
        header, body = read_xlsx(response)
        assert header[:3] == ["uuid", "organization", "organization_name"]
        row = dict(zip(header, body[0], strict=True))
        assert row["name"] == "Erziehungsberatung Nord"
        assert row["languages"] == "de, tr"
        assert row["age_min"] == 0 and row["capacity"] == 10
        assert row["city_wide"] is False
        assert isinstance(row["created_at"], datetime.datetime)
        assert isinstance(row["free_places_reported_at"], datetime.datetime)  # a date cell
        assert row["phone"] == "+49 30 1234567"  # XLSX cells are typed: no escaping needed

    def test_locations_numbers(self, data, clients):
        table = read_csv(clients["viewer"].get(f"{API}/locations/", {"format": "csv"}))
        nord = next(r for r in table if r["name"] == "Familienzentrum Nord")
        assert (nord["latitude"], nord["longitude"], nord["region"]) == ("52,250000", "13,250000", "P11")
        header, body = read_xlsx(clients["viewer"].get(f"{API}/locations/", {"format": "xlsx"}))
        nord = next(dict(zip(header, r, strict=True)) for r in body if r[header.index("name")] == "Familienzentrum Nord")
        assert nord["latitude"] == pytest.approx(52.25) and isinstance(nord["latitude"], float)

    def test_formula_injection(self, data, clients):
        Service.objects.filter(pk=data["svc_a"].pk).update(name='=HYPERLINK("http://evil","klick")')
        table = read_csv(clients["viewer"].get(f"{API}/services/", {"format": "csv"}))
        assert '\'=HYPERLINK("http://evil","klick")' in [r["name"] for r in table]
        response = clients["viewer"].get(f"{API}/services/", {"format": "xlsx"})
        ws = load_workbook(io.BytesIO(response.content)).active
        cells = [c for row in ws.iter_rows() for c in row if c.value == '=HYPERLINK("http://evil","klick")']
        assert cells and all(c.data_type == "s" for c in cells)

    def test_accept_header(self, data, clients):
        response = clients["viewer"].get(f"{API}/organizations/", HTTP_ACCEPT="text/csv")
        assert [r["name"] for r in read_csv(response)] == ["Träger A e. V.", "Träger B gGmbH"]
        header, body = read_xlsx(clients["viewer"].get(f"{API}/organizations/", HTTP_ACCEPT=XLSX))
        assert len(body) == 2

    @pytest.mark.parametrize("route", ["organizations", "memberships", "target-groups", "locations", "services"])
    def test_every_list_exports(self, data, clients, route):
        json_rows = rows(clients["planner"].get(f"{API}/{route}/", {"page_size": 1000}))
        table = read_csv(clients["planner"].get(f"{API}/{route}/", {"format": "csv"}))
        assert len(table) == len(json_rows) > 0
        assert list(table[0]) == list(json_rows[0])
        header, body = read_xlsx(clients["planner"].get(f"{API}/{route}/", {"format": "xlsx"}))
        assert header == list(json_rows[0]) and len(body) == len(json_rows)

    def test_empty_export_has_a_header(self, data, clients):
        response = clients["viewer"].get(f"{API}/services/", {"format": "csv", "q": "gibtesnicht"})
        text = response.content.decode("utf-8-sig")
        assert text.startswith("uuid;organization;organization_name;name;")
        assert text.count("\r\n") == 1

    def test_no_export_of_a_single_object(self, data, clients):
        assert clients["viewer"].get(f"{API}/services/{data['svc_a'].uuid}/", {"format": "csv"}).status_code == 404


# --- query counts -------------------------------------------------------------------------------


def grow(kind, n, ctx):
    """Create n more objects of a kind, each with its related objects."""
    for _ in range(n):
        if kind == "services":
            location = LocationFactory(organization=ctx["org_a"])
            ServiceFactory(organization=ctx["org_a"], fields=[ctx["fields"]["hze"], ctx["fields"]["debt"]],
                           target_groups=list(TargetGroup.objects.all()[:2]), regions=[ctx["tree"]["P11"]],
                           locations=[location], languages=["de", "en"])
        elif kind == "organizations":
            org = OrganizationFactory(parent=ctx["org_a"])
            org.regions.set([ctx["tree"]["P11"], ctx["tree"]["P21"]])
        elif kind == "locations":
            LocationFactory(organization=ctx["org_b"])
        elif kind == "memberships":
            MembershipFactory(organization=ctx["org_b"])
        elif kind == "target-groups":
            TargetGroupFactory(parent=TargetGroup.objects.get(key="kinder"))


LIMITS = {"services": 9, "organizations": 7, "locations": 5, "memberships": 3, "target-groups": 2}


class TestQueryCounts:
    def count(self, user, url, limit, django_assert_max_num_queries):
        api = client_for(type(user).objects.get(pk=user.pk))  # a fresh user: nothing cached from earlier requests
        with django_assert_max_num_queries(limit), CaptureQueriesContext(connection) as ctx:
            response = api.get(url)
        assert response.status_code == 200
        return len(ctx), response

    @pytest.mark.parametrize("route", list(LIMITS))
    @pytest.mark.parametrize("persona", ["planner", "provider_editor_a"])
    @pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
    def test_constant_in_the_number_of_rows(self, data, users, route, persona, fmt, django_assert_max_num_queries):
        user = users[persona]
        url = f"{API}/{route}/?format={fmt}"
        grow(route, 5, data)
        small, _ = self.count(user, url, LIMITS[route], django_assert_max_num_queries)
        grow(route, 45, data)
        large, response = self.count(user, url, LIMITS[route], django_assert_max_num_queries)
        assert small == large
        if fmt == "csv" and persona == "planner" and route != "target-groups":
            assert len(read_csv(response)) >= 50

    def test_filtered_service_list(self, data, users, django_assert_max_num_queries):
        grow("services", 30, data)
        with django_assert_max_num_queries(14):
            response = client_for(users["viewer"]).get(f"{API}/services/", {"q": "Angebot", "field": "t-kjh", "region": "P11",
                                                                 "near": "52.25,13.25", "radius": 100, "age": 5,
                                                                 "format": "csv"})
        assert response.status_code == 200


# --- OpenAPI ------------------------------------------------------------------------------------


class TestSchema:
    def test_schema_documents_the_endpoints_and_exports(self, clients):
        schema = clients["viewer"].get(f"{API}/schema/", HTTP_ACCEPT="application/json").json()
        for path in ["/api/v1/organizations/", "/api/v1/organizations/{uuid}/", "/api/v1/memberships/",
                     "/api/v1/memberships/{id}/", "/api/v1/target-groups/", "/api/v1/target-groups/{key}/",
                     "/api/v1/locations/", "/api/v1/locations/{uuid}/", "/api/v1/services/",
                     "/api/v1/services/{uuid}/", "/api/v1/services/{uuid}/confirm/",
                     "/api/v1/services/{uuid}/duplicate/"]:
            assert path in schema["paths"], path
        operation = schema["paths"]["/api/v1/services/"]["get"]
        params = {p["name"]: p for p in operation["parameters"]}
        assert {"q", "field", "target_group", "age", "region", "near", "radius", "free_places", "modified_after",
                "page", "format"} <= set(params)
        assert set(params["format"]["schema"]["enum"]) == {"json", "csv", "xlsx"}
        assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv", XLSX}
        assert "201" in schema["paths"]["/api/v1/services/{uuid}/duplicate/"]["post"]["responses"]
        regions = {p["name"]: p for p in schema["paths"]["/api/v1/regions/"]["get"]["parameters"]}
        assert set(regions["format"]["schema"]["enum"]) == {"json", "geojson", "csv", "xlsx"}
        # exports only on lists
        assert set(schema["paths"]["/api/v1/services/{uuid}/"]["get"]["responses"]["200"]["content"]) == {
            "application/json"}

    def test_schema_without_warnings(self, tmp_path):
        from django.core.management import call_command

        # fails (SchemaGenerationError) on any drf-spectacular warning or an invalid schema
        call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"))
