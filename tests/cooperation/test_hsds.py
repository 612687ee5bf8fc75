"""The Open Referral HSDS 3.0 read API under /api/hsds/ (cooperation/hsds/):
every endpoint's JSON validated against the official 3.0 schemas, paging,
the HSDS query parameters, visibility per persona, constant query counts.

The schemas are the project's shared copy (../shared/hsds-3.0 next to the
repository, as in CI). Responses are checked strictly: the HSDS entity schemas
are read with ``additionalProperties: false`` added to every object, so that a
property HSDS 3.0 does not define fails the test.
"""

import copy
import datetime
import json
import math
import uuid
from decimal import Decimal as D
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from cooperation.choices import Accessibility, AccessMode, LegalBasis, OrganizationKind, Setting, Umbrella, WorkMode
from cooperation.hsds import views as hsds_views
from cooperation.hsds.taxonomies import NAMESPACE
from cooperation.models import Location, Organization, Service, TargetGroup
from core.models import FieldOfAction
from tests.conftest import client_for
from tests.factories import (
    LocationFactory,
    MembershipFactory,
    OrganizationFactory,
    ServiceFactory,
    TargetGroupFactory,
    UserFactory,
    issue_token,
)

pytestmark = pytest.mark.django_db

HSDS_DIR = Path(__file__).resolve().parents[3] / "shared" / "hsds-3.0"
REMOTE = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"
API = "/api/hsds"
PAGE_KEYS = {"total_items", "total_pages", "page_number", "size", "first_page", "last_page", "empty", "contents"}


# --- the official schemas --------------------------------------------------------------------


def strict(schema: dict) -> dict:
    """A copy in which no object admits properties its schema does not define."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if not isinstance(node, dict):
            return
        if isinstance(node.get("properties"), dict):
            node.setdefault("additionalProperties", False)
            for child in node["properties"].values():
                walk(child)
        walk(node.get("items"))
        for child in node.get("definitions", {}).values():
            walk(child)

    walk(schema)
    return schema


FORMATS = FormatChecker(["uuid", "email", "date"])


@FORMATS.checks("uri", raises=ValueError)
def is_uri(value):
    parts = urlsplit(value)
    return bool(parts.scheme in ("http", "https") and parts.netloc)


@FORMATS.checks("date-time", raises=ValueError)
def is_datetime(value):
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


class HSDS:
    """Validators for the responses of the HSDS OpenAPI paths, with the remote
    schemas it refers to mapped onto the local files."""

    def __init__(self, root: Path):
        def load(name):
            return json.loads((root / name).read_text(encoding="utf-8"))

        self.openapi = load("openapi.json")
        service = strict(load("compiled_service_with_definitions.json"))
        definitions = service["definitions"]

        def part(name):
            return {"definitions": definitions, "$ref": f"#/definitions/{name}"}

        contents = {
            "openapi.json": self.openapi,
            "compiled/service.json": service,
            "compiled/service_list.json": strict(load("compiled_service_list.json")),
            "compiled/organization_list.json": strict(load("compiled_organization_list.json")),
            "compiled/organization.json": part("organization"),
            "taxonomy.json": part("taxonomy"),
            "taxonomy_term.json": part("taxonomy_term"),
        }
        self.registry = Registry().with_resources(
            (REMOTE + name, Resource.from_contents(schema, default_specification=DRAFT202012))
            for name, schema in contents.items()
        )

    def validator(self, ref: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": ref}, registry=self.registry, format_checker=FORMATS)

    def response_validator(self, path: str) -> Draft202012Validator:
        pointer = path.replace("~", "~0").replace("/", "~1")
        return self.validator(f"{REMOTE}openapi.json#/paths/{pointer}/get/responses/200/content/application~1json/schema")

    def check(self, path: str, body) -> None:
        """``body`` is a valid response of the HSDS path ``path`` (e.g. "/services/{id}")."""
        errors = sorted(self.response_validator(path).iter_errors(body), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
        if isinstance(body, dict) and "contents" in body:
            assert set(body) == PAGE_KEYS

    def check_entity(self, name: str, body) -> None:
        """``body`` is a valid object of the remote schema ``name`` (e.g. "compiled/service.json")."""
        errors = list(self.validator(REMOTE + name).iter_errors(body))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


@pytest.fixture(scope="module")
def hsds():
    if not (HSDS_DIR / "openapi.json").is_file():
        pytest.fail(f"The HSDS 3.0 schemas are missing: expected {HSDS_DIR} (the shared folder next to the repository)")
    return HSDS(HSDS_DIR)


class TestValidatorIsStrict:
    """The checks above would catch a wrong response (guards the test itself)."""

    def test_rejects_unknown_property_null_and_missing_required(self, hsds):
        good = {"id": str(uuid.uuid4()), "name": "X", "status": "active"}
        hsds.check_entity("compiled/service_list.json", good)
        for bad in ({**good, "keywords": "x"}, {**good, "description": None}, {"id": good["id"], "name": "X"},
                    {**good, "status": "closed"}, {**good, "id": "42"}, {**good, "url": "kein Link"}):
            with pytest.raises(AssertionError):
                hsds.check_entity("compiled/service_list.json", bad)
        with pytest.raises(AssertionError):
            hsds.check("/services", {"total_items": "1", "contents": []})


# --- data ------------------------------------------------------------------------------------------


@pytest.fixture
def data(tree, org_a, org_b):
    hze = FieldOfAction.objects.get(key="kjh-hze")  # from the default set (data migration)
    counselling = FieldOfAction.objects.get(key="kjh-hze-erziehungsberatung")
    families = TargetGroupFactory(key="familien", name="Familien")
    single_parents = TargetGroupFactory(key="alleinerziehende", name="Alleinerziehende", parent=families)
    Organization.objects.filter(pk=org_a.pk).update(
        description="Freier Träger der Jugendhilfe im Norden.", email="info@traeger-a.de", phone="+49 30 1234567",
        website="https://traeger-a.example.org", street="Hauptstraße 1", postal_code="10115", city="Berlin",
        register_number="VR 12345 B",
    )
    org_a.refresh_from_db()
    place = LocationFactory(organization=org_a, name="Familienzentrum Nord", street="Musterstraße 1",
                            postal_code="10115", city="Berlin", latitude=D("52.530000"), longitude=D("13.380000"))
    hidden_place = LocationFactory(organization=org_a, name="Café-Raum", street="Nebenweg 2")
    a1 = ServiceFactory(
        organization=org_a, name="Erziehungsberatung Nord", description="Beratung für Eltern und Familien.",
        keywords="Erziehung, Eltern", fields=[counselling], target_groups=[single_parents], locations=[place],
        regions=[tree["P11"]], languages=["de", "tr", "de-easy", "sgn-de"], accessibility=["step_free"],
        access_modes=["walk_in", "appointment"], legal_bases=["sgb8_27"], cost="free", age_min=0, age_max=27,
        opening_hours="Mo–Fr 9–17 Uhr, Do bis 19 Uhr", email="beratung@traeger-a.de", phone="030 123456-7",
        url="https://traeger-a.example.org/beratung", setting="ambulant", work_mode="case_specific",
        last_confirmed_at=timezone.now(),
    )
    a2 = ServiceFactory(organization=org_a, name="Familiencafé", status="inactive", description="Treffpunkt am Nachmittag.",
                        locations=[hidden_place], setting="open", work_mode="case_unspecific")
    b1 = ServiceFactory(organization=org_b, name="Schuldnerberatung", description="Hilfe bei Schulden und Mahnungen.",
                        city_wide=True, cost="income_dependent", cost_note="nach Einkommen gestaffelt",
                        target_groups=[families], setting="ambulant", work_mode="case_specific")
    org_c = OrganizationFactory(name="Träger C ohne Angebot", description="")
    return {"a1": a1, "a2": a2, "b1": b1, "org_a": org_a, "org_b": org_b, "org_c": org_c, "place": place,
            "hidden_place": hidden_place, "hze": hze, "counselling": counselling, "families": families,
            "single_parents": single_parents}


@pytest.fixture
def public(settings):
    settings.DIRECTORY_PUBLIC = True


@pytest.fixture
def private(settings):
    settings.DIRECTORY_PUBLIC = False


@pytest.fixture
def anonymous():
    return client_for(None)


@pytest.fixture
def staff(planner):
    return client_for(planner)


def get(client, path, params=None, status=200):
    response = client.get(f"{API}{path}", params or {})
    assert response.status_code == status, (path, response.status_code, response.content[:500])
    return response.json()


def ids(body):
    return [item["id"] for item in body["contents"]]


def term_id(kind, key):
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


# --- schema validity -----------------------------------------------------------------------------


class TestSchemas:
    def test_api_meta(self, hsds, public, anonymous):
        body = get(anonymous, "/")
        hsds.check("/", body)
        assert body["version"] == "3.0"
        assert body["openapi_url"].endswith("/3.0/schema/openapi.json")

    def test_service_list(self, hsds, data, staff):
        body = get(staff, "/services")
        hsds.check("/services", body)
        assert body["total_items"] == 3
        first = next(s for s in body["contents"] if s["id"] == str(data["a1"].uuid))
        assert first["organization"] == {
            "id": str(data["org_a"].uuid), "name": "Träger A e. V.", "description": "Freier Träger der Jugendhilfe im Norden.",
            "email": "info@traeger-a.de", "website": "https://traeger-a.example.org",
            "legal_status": "eingetragener Verein (e. V.)",
        }
        assert first["organization_id"] == str(data["org_a"].uuid)
        assert first["minimum_age"] == 0 and first["maximum_age"] == 27
        assert first["eligibility_description"] == "Zielgruppen: Alleinerziehende"
        assert first["application_process"] == "ohne Anmeldung (offene Sprechstunde); nach Terminvereinbarung"
        assert first["fees_description"] == "kostenfrei"
        assert first["assured_date"] == timezone.localdate(data["a1"].last_confirmed_at).isoformat()
        assert "phones" not in first and "attributes" not in first  # the list shape has one-to-one fields only

    def test_full_service_list(self, hsds, data, staff):
        body = get(staff, "/services", {"full": "true"})
        hsds.check("/services", {**body, "contents": []})
        for item in body["contents"]:
            hsds.check_entity("compiled/service.json", item)
        assert all("attributes" in item for item in body["contents"])

    def test_service_detail(self, hsds, data, staff, tree):
        a1 = data["a1"]
        Location.objects.filter(pk=data["place"].pk).update(region=tree["P11"])  # found from the point in real life
        body = get(staff, f"/services/{a1.uuid}")
        hsds.check("/services/{id}", body)
        assert body["id"] == str(a1.uuid) and body["status"] == "active"
        assert body["name"] == "Erziehungsberatung Nord" and body["url"] == "https://traeger-a.example.org/beratung"
        assert body["phones"] == [{"id": body["phones"][0]["id"], "service_id": str(a1.uuid), "number": "030 123456-7",
                                   "type": "voice"}]
        assert body["schedules"][0]["description"] == "Mo–Fr 9–17 Uhr, Do bis 19 Uhr"
        assert [(lang["code"], lang["name"]) for lang in body["languages"]] == [
            ("de", "Deutsch"), ("tr", "Türkisch"), ("de", "Leichte Sprache"), ("gsg", "Deutsche Gebärdensprache")]
        assert body["cost_options"] == [{"id": body["cost_options"][0]["id"], "service_id": str(a1.uuid),
                                         "option": "kostenfrei", "currency": "EUR", "amount": 0}]
        # regions served
        (area,) = body["service_areas"]
        assert area["name"] == "Nord-West" and area["description"] == "Planungsraum P11"
        assert area["uri"] == "http://testserver/api/v1/regions/P11/"
        # the place, its address and coordinates
        (at,) = body["service_at_locations"]
        location = at["location"]
        assert at["location_id"] == location["id"] == str(data["place"].uuid)
        assert location["location_type"] == "physical" and location["organization_id"] == str(data["org_a"].uuid)
        assert (location["latitude"], location["longitude"]) == (52.53, 13.38)
        (address,) = location["addresses"]
        assert address == {
            "id": address["id"], "location_id": location["id"], "address_1": "Musterstraße 1", "city": "Berlin",
            "region": "Nord-West", "state_province": "", "postal_code": "10115", "country": "DE",
            "address_type": "physical"}
        # the organisation, nested with its own details
        org = body["organization"]
        assert org["id"] == str(data["org_a"].uuid)
        assert org["phones"][0]["number"] == "+49 30 1234567"
        assert org["organization_identifiers"][0]["identifier"] == "VR 12345 B"
        # taxonomy terms: field of action, target group, setting, work mode, access, accessibility, legal basis
        terms = {a["taxonomy_term"]["taxonomy"]: [] for a in body["attributes"]}
        for a in body["attributes"]:
            assert a["link_id"] == str(a1.uuid) and a["link_entity"] == "service"
            assert a["taxonomy_term_id"] == a["taxonomy_term"]["id"]
            terms[a["taxonomy_term"]["taxonomy"]].append(a["taxonomy_term"]["code"])
        assert terms == {"Handlungsfelder": ["kjh-hze-erziehungsberatung"], "Zielgruppen": ["alleinerziehende"],
                         "Settings": ["ambulant"], "Arbeitsweisen": ["case_specific"],
                         "Zugangswege": ["walk_in", "appointment"], "Barrierefreiheit": ["step_free"],
                         "Rechtsgrundlagen": ["sgb8_27"]}
        field = next(a["taxonomy_term"] for a in body["attributes"] if a["taxonomy_term"]["code"] == "kjh-hze-erziehungsberatung")
        assert field["id"] == term_id("handlungsfeld", "kjh-hze-erziehungsberatung")
        assert field["parent_id"] == term_id("handlungsfeld", "kjh-hze")
        assert field["name"] == "Erziehungsberatung"
        group = next(a["taxonomy_term"] for a in body["attributes"] if a["taxonomy_term"]["code"] == "alleinerziehende")
        assert group["parent_id"] == term_id("zielgruppe", "familien")

    def test_city_wide_service_and_costs(self, hsds, data, staff):
        body = get(staff, f"/services/{data['b1'].uuid}")
        hsds.check("/services/{id}", body)
        assert [a["name"] for a in body["service_areas"]] == ["Stadtweit"]
        assert body["cost_options"][0]["option"] == "einkommensabhängig"
        assert body["cost_options"][0]["amount_description"] == "nach Einkommen gestaffelt"
        assert "amount" not in body["cost_options"][0]
        assert body["fees_description"] == "einkommensabhängig: nach Einkommen gestaffelt"
        assert "service_at_locations" not in body and "phones" not in body

    def test_organization_list_and_detail(self, hsds, data, staff):
        body = get(staff, "/organizations")
        hsds.check("/organizations", body)
        assert [o["name"] for o in body["contents"]] == ["Träger A e. V.", "Träger B gGmbH", "Träger C ohne Angebot"]
        assert body["contents"][2]["description"] == ""  # required: present though empty
        full = get(staff, "/organizations", {"full": "true"})
        for item in full["contents"]:
            hsds.check_entity("compiled/organization.json", item)

        org = get(staff, f"/organizations/{data['org_a'].uuid}")
        hsds.check("/organizations/{id}", org)
        places = {loc["name"]: loc for loc in org["locations"]}
        assert set(places) == {"Familienzentrum Nord", "Café-Raum", "Träger A e. V."}
        postal = places["Träger A e. V."]
        assert postal["location_type"] == "postal" and postal["addresses"][0]["address_type"] == "postal"
        assert postal["addresses"][0]["address_1"] == "Hauptstraße 1"
        assert [a["taxonomy_term"]["name"] for a in org["attributes"]] == ["freier Träger", "Paritätischer"]
        assert org["organization_identifiers"][0]["identifier_type"] == "Registernummer"

    def test_branch_names_its_parent(self, hsds, data, staff):
        branch = OrganizationFactory(name="Träger A – Kita", parent=data["org_a"])
        body = get(staff, f"/organizations/{branch.uuid}")
        hsds.check("/organizations/{id}", body)
        assert body["parent_organization_id"] == str(data["org_a"].uuid)

    def test_taxonomies(self, hsds, data, staff):
        body = get(staff, "/taxonomies")
        hsds.check("/taxonomies", body)
        names = [t["name"] for t in body["contents"]]
        assert names[:4] == ["Handlungsfelder", "Zielgruppen", "Settings", "Arbeitsweisen"]
        first = body["contents"][0]
        assert first["id"] == str(uuid.uuid5(NAMESPACE, "taxonomy:handlungsfeld"))
        detail = get(staff, f"/taxonomies/{first['id']}")
        hsds.check("/taxonomies/{id}", detail)
        assert detail == first
        assert ids(get(staff, "/taxonomies", {"search": "ziel"})) == [body["contents"][1]["id"]]

    def test_taxonomy_terms(self, hsds, data, staff):
        body = get(staff, "/taxonomy_terms", {"per_page": 100})
        hsds.check("/taxonomy_terms", body)
        total = body["total_items"]
        choices = len(Setting) + len(WorkMode) + len(AccessMode) + len(Accessibility) + len(LegalBasis)
        choices += len(OrganizationKind) + len(Umbrella) - 1  # "no umbrella" is no term
        assert total == FieldOfAction.objects.count() + TargetGroup.objects.count() + choices
        for page in range(2, body["total_pages"] + 1):
            hsds.check("/taxonomy_terms", get(staff, "/taxonomy_terms", {"per_page": 100, "page": page}))
        detail = get(staff, f"/taxonomy_terms/{term_id('handlungsfeld', 'kjh-hze')}")
        hsds.check("/taxonomy_terms/{id}", detail)
        assert detail["name"] == "Hilfen zur Erziehung" and detail["parent_id"] == term_id("handlungsfeld", "kjh")
        assert detail["taxonomy_id"] == str(uuid.uuid5(NAMESPACE, "taxonomy:handlungsfeld"))
        assert detail["language"] == "de"
        setting = get(staff, f"/taxonomy_terms/{term_id('setting', 'semi_residential')}")
        hsds.check("/taxonomy_terms/{id}", setting)
        assert setting["name"] == "teilstationär" and "parent_id" not in setting

    def test_taxonomy_term_filters(self, data, staff):
        fields = str(uuid.uuid5(NAMESPACE, "taxonomy:handlungsfeld"))
        children = get(staff, "/taxonomy_terms", {"parent_id": term_id("handlungsfeld", "kjh-hze"), "per_page": 100})
        assert {t["code"] for t in children["contents"]} == set(
            FieldOfAction.objects.filter(parent__key="kjh-hze").values_list("key", flat=True))
        top = get(staff, "/taxonomy_terms", {"taxonomy_id": fields, "top_only": "true", "per_page": 100})
        assert {t["code"] for t in top["contents"]} == set(
            FieldOfAction.objects.filter(parent=None).values_list("key", flat=True))
        groups = get(staff, "/taxonomy_terms", {"search": "allein"})
        assert [t["code"] for t in groups["contents"]] == ["alleinerziehende"]
        get(staff, "/taxonomy_terms", {"taxonomy_id": "kein-uuid"}, status=400)

    def test_output_is_german_whatever_the_language_switch(self, data, staff):
        staff.cookies["django_language"] = "en"
        body = get(staff, f"/services/{data['a1'].uuid}")
        assert body["fees_description"] == "kostenfrei"


# --- paging ------------------------------------------------------------------------------------------


class TestPaging:
    @pytest.fixture
    def seven(self, org_a):
        return [ServiceFactory(organization=org_a, name=f"Angebot {i}") for i in range(7)]

    @pytest.mark.parametrize(("page", "per_page", "size"), [(1, 3, 3), (2, 3, 3), (3, 3, 1), (4, 3, 0), (1, 7, 7),
                                                            (1, 50, 7), (2, 7, 0)])
    def test_page_math(self, hsds, seven, staff, page, per_page, size):
        body = get(staff, "/services", {"page": page, "per_page": per_page})
        hsds.check("/services", body)
        total_pages = math.ceil(7 / per_page)
        assert body["total_items"] == 7 and body["total_pages"] == total_pages
        assert body["page_number"] == page and body["size"] == size == len(body["contents"])
        assert body["first_page"] is (page == 1)
        assert body["last_page"] is (page >= total_pages)
        assert body["empty"] is (size == 0)
        expected = [f"Angebot {i}" for i in range(7)][(page - 1) * per_page:page * per_page]
        assert [s["name"] for s in body["contents"]] == expected

    def test_pages_cover_everything_once(self, seven, staff):
        seen = []
        for page in (1, 2, 3):
            seen += ids(get(staff, "/services", {"page": page, "per_page": 3}))
        assert sorted(seen) == sorted(str(s.uuid) for s in seven)

    def test_empty_result(self, hsds, staff, db):
        body = get(staff, "/services")
        hsds.check("/services", body)
        assert body == {"total_items": 0, "total_pages": 0, "page_number": 1, "size": 0, "first_page": True,
                        "last_page": True, "empty": True, "contents": []}

    def test_default_and_maximum_page_size(self, seven, staff, monkeypatch):
        assert get(staff, "/services")["size"] == 7  # default 50
        monkeypatch.setattr(hsds_views, "MAX_PER_PAGE", 2)
        body = get(staff, "/services", {"per_page": 1000})
        assert body["size"] == 2 and body["total_pages"] == 4

    @pytest.mark.parametrize("params", [{"page": 0}, {"page": "x"}, {"per_page": 0}, {"per_page": -5}, {"full": "vielleicht"}])
    def test_bad_parameters_are_400(self, seven, staff, params):
        body = get(staff, "/services", params, status=400)
        assert set(body) == set(params)


# --- query parameters --------------------------------------------------------------------------


class TestParameters:
    def test_search_is_german_full_text(self, data, staff, public, anonymous):
        # "Beratungen" finds "Beratung für Eltern …" (stemming), not "Schuldnerberatung" (compound), …
        assert ids(get(anonymous, "/services", {"search": "Beratungen"})) == [str(data["a1"].uuid)]
        assert ids(get(staff, "/services", {"search": "Schulden"})) == [str(data["b1"].uuid)]
        # … keywords count too, and the organisation's name
        assert ids(get(staff, "/services", {"search": "Eltern"})) == [str(data["a1"].uuid)]
        assert set(ids(get(staff, "/services", {"search": "Träger B"}))) == {str(data["b1"].uuid)}
        assert get(staff, "/services", {"search": "Zahnarzt"})["total_items"] == 0

    def test_organization_search(self, data, staff):
        assert [o["name"] for o in get(staff, "/organizations", {"search": "gGmbH"})["contents"]] == ["Träger B gGmbH"]

    def test_organization_id(self, data, staff):
        body = get(staff, "/services", {"organization_id": str(data["org_a"].uuid)})
        assert set(ids(body)) == {str(data["a1"].uuid), str(data["a2"].uuid)}
        assert get(staff, "/services", {"organization_id": str(uuid.uuid4())})["total_items"] == 0
        get(staff, "/services", {"organization_id": "42"}, status=400)

    def test_taxonomy_term_id(self, data, staff):
        a1, a2, b1 = (str(data[k].uuid) for k in ("a1", "a2", "b1"))

        def found(kind, key):
            return set(ids(get(staff, "/services", {"taxonomy_term_id": term_id(kind, key)})))

        assert found("handlungsfeld", "kjh-hze-erziehungsberatung") == {a1}
        assert found("handlungsfeld", "kjh-hze") == {a1}  # with its sub-fields
        assert found("handlungsfeld", "altenhilfe") == set()
        assert found("zielgruppe", "familien") == {a1, b1}  # with its sub-groups
        assert found("zielgruppe", "alleinerziehende") == {a1}
        assert found("setting", "open") == {a2}
        assert found("arbeitsweise", "case_specific") == {a1, b1}
        assert found("zugang", "walk_in") == {a1}
        assert found("barrierefreiheit", "step_free") == {a1}
        assert found("rechtsgrundlage", "sgb8_27") == {a1}
        assert found("dachverband", "diakonie") == {b1}
        assert found("organisationsart", "provider") == {a1, a2, b1}
        assert get(staff, "/services", {"taxonomy_term_id": str(uuid.uuid4())})["total_items"] == 0
        get(staff, "/services", {"taxonomy_term_id": "kjh-hze"}, status=400)

    def test_taxonomy_id(self, data, staff):
        def found(kind):
            return set(ids(get(staff, "/services", {"taxonomy_id": str(uuid.uuid5(NAMESPACE, f"taxonomy:{kind}"))})))

        assert found("handlungsfeld") == {str(data["a1"].uuid)}
        assert found("zielgruppe") == {str(data["a1"].uuid), str(data["b1"].uuid)}
        assert found("setting") == {str(data[k].uuid) for k in ("a1", "a2", "b1")}
        assert found("dachverband") == {str(data[k].uuid) for k in ("a1", "a2", "b1")}  # both have one
        assert get(staff, "/services", {"taxonomy_id": str(uuid.uuid4())})["total_items"] == 0

    def test_modified_after(self, data, staff):
        long_ago = timezone.now() - datetime.timedelta(days=30)
        Service.objects.update(updated_at=long_ago)
        Organization.objects.update(updated_at=long_ago)
        Location.objects.update(updated_at=long_ago)
        since = timezone.now() - datetime.timedelta(days=1)
        assert get(staff, "/services", {"modified_after": since.isoformat()})["total_items"] == 0

        Service.objects.filter(pk=data["b1"].pk).update(updated_at=timezone.now())
        body = get(staff, "/services", {"modified_after": since.isoformat()})
        assert ids(body) == [str(data["b1"].uuid)]
        # "on or after": the newest last_modified seen, given back, finds that service again
        stamp = body["contents"][0]["last_modified"]
        assert stamp.endswith("Z") and len(stamp) == len("2023-03-15T10:30:45.123Z")
        assert ids(get(staff, "/services", {"modified_after": stamp})) == [str(data["b1"].uuid)]
        # a changed place changes the services given there
        data["place"].save()
        body = get(staff, "/services", {"modified_after": stamp})
        assert set(ids(body)) == {str(data["a1"].uuid), str(data["b1"].uuid)}
        a1 = next(s for s in body["contents"] if s["id"] == str(data["a1"].uuid))
        assert a1["last_modified"] >= stamp
        assert ids(get(staff, "/organizations", {"modified_after": since.isoformat()})) == []
        get(staff, "/services", {"modified_after": "gestern"}, status=400)

    def test_directory_filters_work_too(self, data, staff):
        body = get(staff, "/services", {"region": "P11"})
        assert set(ids(body)) == {str(data["a1"].uuid), str(data["b1"].uuid)}  # b1 is city-wide

    def test_trailing_slash_is_accepted(self, data, staff):
        assert get(staff, "/services/")["total_items"] == 3
        assert get(staff, f"/services/{data['a1'].uuid}/")["id"] == str(data["a1"].uuid)
        for path in ("/organizations/", "/taxonomies/", "/taxonomy_terms/"):
            assert get(staff, path)["total_items"] > 0


# --- visibility ----------------------------------------------------------------------------------


class TestVisibility:
    def test_anonymous_sees_active_offerings_when_the_directory_is_public(self, hsds, data, public, anonymous):
        body = get(anonymous, "/services")
        hsds.check("/services", body)
        assert set(ids(body)) == {str(data["a1"].uuid), str(data["b1"].uuid)}
        get(anonymous, f"/services/{data['a2'].uuid}", status=404)  # inactive: as if it did not exist
        assert get(anonymous, f"/services/{data['a1'].uuid}")["id"] == str(data["a1"].uuid)
        # organisations with a visible offering only
        orgs = get(anonymous, "/organizations")
        assert [o["name"] for o in orgs["contents"]] == ["Träger A e. V.", "Träger B gGmbH"]
        get(anonymous, f"/organizations/{data['org_c'].uuid}", status=404)
        # the place of an inactive offering stays hidden
        org_a = get(anonymous, f"/organizations/{data['org_a'].uuid}")
        hsds.check("/organizations/{id}", org_a)
        assert {loc["name"] for loc in org_a["locations"]} == {"Familienzentrum Nord", "Träger A e. V."}
        assert get(anonymous, "/taxonomy_terms")["total_items"] > 0

    @pytest.mark.parametrize("path", ["/", "/services", "/organizations", "/taxonomies", "/taxonomy_terms",
                                      "/services/{a1}", "/organizations/{org_a}"])
    def test_anonymous_is_refused_when_the_directory_is_private(self, data, private, anonymous, path):
        path = path.format(a1=data["a1"].uuid, org_a=data["org_a"].uuid)
        response = anonymous.get(f"{API}{path}")
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert set(response.json()) == {"detail"}

    def test_token_and_session_authentication(self, data, private, planner):
        token = issue_token(planner, scope="read")
        response = client_for(None).get(f"{API}/services", HTTP_AUTHORIZATION=f"Token {token}")
        assert response.status_code == 200 and response.json()["total_items"] == 3
        assert client_for(None).get(f"{API}/services", HTTP_AUTHORIZATION="Token falsch").status_code == 401
        session = client_for(None)
        session.force_login(planner)
        assert session.get(f"{API}/services").json()["total_items"] == 3

    def test_writes_are_refused(self, data, staff):
        assert staff.post(f"{API}/services", {}).status_code == 403
        assert staff.delete(f"{API}/services/{data['a1'].uuid}").status_code == 403

    def test_staff_see_every_status_and_organisation(self, data, private, personas):
        for name in ("planner", "viewer", "region_lead"):
            client = client_for(personas[name])
            assert get(client, "/services")["total_items"] == 3, name
            assert get(client, f"/services/{data['a2'].uuid}")["status"] == "inactive"
            assert get(client, "/organizations")["total_items"] == 3, name
            assert get(client, f"/organizations/{data['org_c'].uuid}")["name"] == "Träger C ohne Angebot"

    def test_provider_staff_see_the_directory_and_their_own(self, data, private, provider_editor_a, provider_editor_b):
        a = client_for(provider_editor_a)
        assert set(ids(get(a, "/services"))) == {str(data[k].uuid) for k in ("a1", "a2", "b1")}
        b = client_for(provider_editor_b)
        assert set(ids(get(b, "/services"))) == {str(data["a1"].uuid), str(data["b1"].uuid)}
        get(b, f"/services/{data['a2'].uuid}", status=404)
        get(b, f"/organizations/{data['org_c'].uuid}", status=404)
        org_a = get(b, f"/organizations/{data['org_a'].uuid}")
        assert "Café-Raum" not in {loc["name"] for loc in org_a["locations"]}
        assert "Café-Raum" in {loc["name"] for loc in get(a, f"/organizations/{data['org_a'].uuid}")["locations"]}

    def test_a_provider_with_only_inactive_offerings_is_its_own_staffs(self, data, private):
        org = OrganizationFactory(name="Träger D")
        ServiceFactory(organization=org, status="defunct")
        member = UserFactory(username="provider_d")
        MembershipFactory(user=member, organization=org, role="viewer")
        assert get(client_for(member), f"/organizations/{org.uuid}")["name"] == "Träger D"
        get(client_for(UserFactory(username="someone")), f"/organizations/{org.uuid}", status=404)

    @pytest.mark.parametrize("path", ["/services/{}", "/organizations/{}", "/taxonomies/{}", "/taxonomy_terms/{}"])
    def test_unknown_ids_are_404(self, data, staff, path):
        get(staff, path.format(uuid.uuid4()), status=404)
        get(staff, path.format("kein-uuid"), status=404)
        get(staff, path.format(data["a1"].pk), status=404)


# --- queries ------------------------------------------------------------------------------------


class TestQueries:
    @pytest.fixture
    def many(self, tree, data):
        place = data["place"]
        for i in range(25):
            org = OrganizationFactory(name=f"Träger {i:02d}", parent=data["org_a"] if i % 2 else None, phone="030 1")
            ServiceFactory(organization=org, name=f"Angebot {i:02d}", fields=[data["hze"], data["counselling"]],
                           target_groups=[data["families"], data["single_parents"]], regions=[tree["P11"], tree["P21"]],
                           locations=[place, LocationFactory(organization=org)], languages=["de", "en"],
                           opening_hours="Mo 9–12", phone="030 2")

    def count(self, client, path, params):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{API}{path}", params)
        assert response.status_code == 200
        assert response.json()["size"] == params["per_page"]
        return len(queries)

    @pytest.mark.parametrize("persona", ["planner", "provider_editor_b", None])
    @pytest.mark.parametrize(("path", "extra"), [
        ("/services", {}), ("/services", {"full": "true"}), ("/services", {"search": "Angebot"}),
        ("/services", {"taxonomy_term_id": term_id("handlungsfeld", "kjh"), "modified_after": "2000-01-01T00:00:00Z"}),
        ("/organizations", {}), ("/organizations", {"full": "true"}),
    ])
    def test_constant_in_the_page_size(self, many, personas, public, persona, path, extra):
        client = client_for(personas[persona] if persona else None)
        client.get(f"{API}{path}")  # memberships and roles get cached on the (forced) user object
        small = self.count(client, path, {**extra, "per_page": 2})
        large = self.count(client, path, {**extra, "per_page": 20})
        assert small == large <= 6, (small, large)  # count, page, prefetches (+ a term lookup: 2)

    def test_detail_queries(self, many, data, staff, django_assert_num_queries):
        staff.get(f"{API}/services")  # the planner's roles are cached on the user object
        with django_assert_num_queries(5):  # the service; target groups, fields, regions, places
            staff.get(f"{API}/services/{data['a1'].uuid}")
        with django_assert_num_queries(2):  # the organisation; its places
            staff.get(f"{API}/organizations/{data['org_a'].uuid}")
        with django_assert_num_queries(2):  # fields of action, target groups
            staff.get(f"{API}/taxonomy_terms", {"per_page": 100})


class TestImpossibleTimezone:
    def test_modified_after_with_offset_beyond_14_hours_is_400(self, planner, db):
        """Found by the API fuzzer on /api/v1/: PostgreSQL refuses such an offset (was a 500)."""
        for path in ("services", "organizations"):
            response = client_for(planner).get(f"{API}/{path}", {"modified_after": "2020-01-01T00:00:00+19:44"})
            assert response.status_code == 400, (path, response.status_code)
