"""Trägerbudgets in the API: the explicit share table (/api/v1/provider-shares/,
planners write) and the computed provider allocations
(/api/v1/provider-allocations/, read-only; providers see their own
organisation's rows) — per persona, filters, exports, query counts, schema.

Budget (conftest ``budget``): 1000 € over P11, P12, P21 by need 1:1:2, split
70/10/20 %; adopted (``adopted``) — P11 case-specific is 175.00 €, P21
preventive 100.00 €.
"""

import csv
import io
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from budgets.models import ProviderAllocation, ProviderShare
from budgets.providers import recompute
from budgets.services import adopt, run_allocation
from tests.conftest import client_for
from tests.factories import OrganizationFactory, issue_token

pytestmark = pytest.mark.django_db

API = "/api/v1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def users(personas, superuser, scoped_planner):
    return {**personas, "superuser": superuser, "scoped_planner": scoped_planner}


@pytest.fixture
def clients(users):
    return {name: client_for(user) for name, user in users.items()}


@pytest.fixture
def adopted(budget, planner, eager_celery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        adopt(run_allocation(budget.pk), planner)
    return budget


@pytest.fixture
def shares(adopted, tree, org_a, org_b):
    """P11 case-specific: A 40 %, B 30 % (30 % retained); P21 preventive: B 50 %."""
    rows = {
        "a11": ProviderShare.objects.create(budget=adopted, region=tree["P11"], part="case_specific",
                                            organization=org_a, share=D(40)),
        "b11": ProviderShare.objects.create(budget=adopted, region=tree["P11"], part="case_specific",
                                            organization=org_b, share=D(30)),
        "b21": ProviderShare.objects.create(budget=adopted, region=tree["P21"], part="preventive",
                                            organization=org_b, share=D(50)),
    }
    recompute(adopted.pk)
    return rows


def rows(response):
    assert response.status_code == 200, response.content
    body = response.json()
    return body["results"] if isinstance(body, dict) and "results" in body else body


def read_csv(response):
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv"), response.content
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


def assert_refused(response):
    assert response.status_code in (401, 403), (response.status_code, response.content)
    assert set(response.json()) == {"detail"}


def snapshot():
    return (sorted(ProviderShare.objects.values_list("pk", "budget_id", "region_id", "part", "organization_id",
                                                     "share")),
            sorted(ProviderAllocation.objects.values_list("pk", "organization_id", "amount")))


def share_payload(budget, org, **kw):
    data = {"budget": budget.pk, "region": "P12", "part": "preventive", "organization": str(org.uuid), "share": "25"}
    data.update(kw)
    return data


# --- provider-shares ----------------------------------------------------------------------------


class TestShares:
    def test_anonymous_refused(self, shares, api, org_a, adopted):
        before = snapshot()
        detail = f"{API}/provider-shares/{shares['a11'].pk}/"
        for response in (api.get(f"{API}/provider-shares/"), api.get(f"{API}/provider-shares/?format=csv"),
                         api.get(detail), api.post(f"{API}/provider-shares/", share_payload(adopted, org_a),
                                                   format="json"),
                         api.patch(detail, {"share": "1"}, format="json"), api.delete(detail)):
            assert_refused(response)
        assert snapshot() == before

    @pytest.mark.parametrize("persona", ["planner", "viewer", "region_lead", "superuser"])
    def test_staff_read(self, shares, clients, persona):
        listed = rows(clients[persona].get(f"{API}/provider-shares/"))
        assert {r["id"] for r in listed} == {s.pk for s in shares.values()}
        body = clients[persona].get(f"{API}/provider-shares/{shares['a11'].pk}/").json()
        assert body["budget"] == shares["a11"].budget_id and body["region"] == "P11"
        assert body["part"] == "case_specific" and body["share"] == "40.0000"
        assert body["organization_name"] == "Träger A e. V."

    @pytest.mark.parametrize("persona", ["viewer", "region_lead", "provider_editor_a"])
    def test_only_planners_write(self, shares, clients, persona, adopted, org_a):
        before = snapshot()
        api = clients[persona]
        detail = f"{API}/provider-shares/{shares['a11'].pk}/"
        assert api.post(f"{API}/provider-shares/", share_payload(adopted, org_a), format="json").status_code == 403
        assert api.patch(detail, {"share": "99"}, format="json").status_code == 403
        assert api.put(detail, share_payload(adopted, org_a), format="json").status_code == 403
        assert api.delete(detail).status_code == 403
        assert snapshot() == before

    def test_planner_of_another_district_cannot_write(self, shares, clients, adopted, org_a):
        """A planner limited to D2 may not change the city's budget: it 'does not exist' for the write."""
        before = snapshot()
        api = clients["scoped_planner"]
        response = api.post(f"{API}/provider-shares/", share_payload(adopted, org_a), format="json")
        assert response.status_code == 400 and set(response.json()) == {"budget"}
        assert api.patch(f"{API}/provider-shares/{shares['b21'].pk}/", {"share": "1"},
                         format="json").status_code == 403
        assert snapshot() == before

    def test_planner_writes_and_the_allocations_follow(self, shares, clients, adopted, org_a,
                                                       django_capture_on_commit_callbacks):
        api = clients["planner"]
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(f"{API}/provider-shares/", share_payload(adopted, org_a), format="json")
        assert response.status_code == 201, response.json()
        created = response.json()
        assert created["region"] == "P12" and created["share"] == "25.0000"
        passed_on = ProviderAllocation.objects.filter(budget=adopted, region__code="P12", part="preventive",
                                                      organization=org_a)
        assert passed_on.get().amount == D("12.50")  # 25 % of 50.00 €
        detail = f"{API}/provider-shares/{created['id']}/"
        with django_capture_on_commit_callbacks(execute=True):
            response = api.patch(detail, {"share": "10"}, format="json")
        assert response.status_code == 200 and response.json()["share"] == "10.0000"
        assert passed_on.get().amount == D("5.00")  # recomputed (new rows)
        with django_capture_on_commit_callbacks(execute=True):
            assert api.delete(detail).status_code == 204
        assert not passed_on.exists()

    def test_validation(self, shares, clients, adopted, org_a):
        before = snapshot()
        api = clients["planner"]
        response = api.post(f"{API}/provider-shares/", share_payload(adopted, org_a, region="D1"), format="json")
        assert response.status_code == 400
        assert response.json() == {"region": ["D1 ist kein Raum, auf den dieses Budget verteilt wird."]}
        response = api.post(f"{API}/provider-shares/", share_payload(adopted, org_a, share="100.5"), format="json")
        assert response.status_code == 400 and set(response.json()) == {"share"}
        response = api.post(f"{API}/provider-shares/", share_payload(adopted, org_a, region="P11",
                                                                     part="case_specific"), format="json")
        assert response.status_code == 400
        assert response.json() == {"non_field_errors": ["Für diesen Raum, Teil und Träger gibt es schon einen Anteil."]}
        response = api.post(f"{API}/provider-shares/", share_payload(adopted, org_a, part="alles"), format="json")
        assert response.status_code == 400 and set(response.json()) == {"part"}
        assert snapshot() == before

    def test_filters(self, shares, clients, adopted, org_b):
        api = clients["viewer"]

        def ids(**params):
            return {r["id"] for r in rows(api.get(f"{API}/provider-shares/", params))}

        assert ids(budget=adopted.pk) == {s.pk for s in shares.values()}
        assert ids(budget=adopted.pk + 1000) == set()
        assert ids(region="P21") == {shares["b21"].pk}
        assert ids(region="D1") == {shares["a11"].pk, shares["b11"].pk}
        assert ids(part="case_specific") == {shares["a11"].pk, shares["b11"].pk}
        assert ids(organization=str(org_b.uuid)) == {shares["b11"].pk, shares["b21"].pk}

    def test_exports(self, shares, clients):
        table = read_csv(clients["planner"].get(f"{API}/provider-shares/", {"format": "csv"}))
        assert {r["share"] for r in table} == {"40,0000", "30,0000", "50,0000"}
        response = clients["planner"].get(f"{API}/provider-shares/", {"format": "xlsx"})
        assert response.status_code == 200 and response["Content-Type"] == XLSX


# --- provider-allocations -------------------------------------------------------------------------


class TestAllocations:
    def test_anonymous_refused(self, shares, api):
        row = ProviderAllocation.objects.first()
        for path in (f"{API}/provider-allocations/", f"{API}/provider-allocations/?format=xlsx",
                     f"{API}/provider-allocations/{row.pk}/"):
            assert_refused(api.get(path))

    @pytest.mark.parametrize("persona", ["planner", "viewer", "region_lead", "superuser"])
    def test_staff_see_every_row(self, shares, clients, persona):
        listed = rows(clients[persona].get(f"{API}/provider-allocations/", {"page_size": 1000}))
        assert {r["id"] for r in listed} == set(ProviderAllocation.objects.values_list("pk", flat=True))

    def test_output(self, shares, clients, adopted, org_a):
        row = ProviderAllocation.objects.get(region__code="P11", part="case_specific", organization=org_a)
        body = clients["provider_editor_a"].get(f"{API}/provider-allocations/{row.pk}/").json()
        assert body == {"id": row.pk, "budget": adopted.pk, "run": adopted.adopted_run.pk, "region": "P11",
                        "part": "case_specific", "organization": str(org_a.uuid), "organization_name": "Träger A e. V.",
                        "share": "40.0000", "source": "table", "agreements": [], "amount": "70.00",
                        "computed_at": body["computed_at"]}

    @pytest.mark.parametrize("persona, org", [("provider_editor_a", "org_a"), ("provider_editor_b", "org_b")])
    def test_providers_see_their_own_rows(self, shares, clients, persona, org, request):
        org = request.getfixturevalue(org)
        api = clients[persona]
        listed = rows(api.get(f"{API}/provider-allocations/"))
        own = set(ProviderAllocation.objects.filter(organization=org).values_list("pk", flat=True))
        assert own and {r["id"] for r in listed} == own
        for other in ProviderAllocation.objects.exclude(organization=org):  # other providers and the retained part
            assert api.get(f"{API}/provider-allocations/{other.pk}/").status_code == 404
        exported = read_csv(api.get(f"{API}/provider-allocations/", {"format": "csv"}))
        assert {int(r["id"]) for r in exported} == own

    def test_a_token_sees_what_its_user_sees(self, shares, provider_editor_a, org_a):
        token = issue_token(provider_editor_a, organization=org_a, scope="read")
        api = client_for(None)
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        listed = rows(api.get(f"{API}/provider-allocations/"))
        assert listed and {r["organization"] for r in listed} == {str(org_a.uuid)}

    @pytest.mark.parametrize("persona", ["planner", "provider_editor_a"])
    def test_read_only(self, shares, clients, persona):
        before = snapshot()
        api = clients[persona]
        row = ProviderAllocation.objects.filter(organization__isnull=False).first()
        assert api.post(f"{API}/provider-allocations/", {"amount": "1"}, format="json").status_code == 405
        for method in ("put", "patch", "delete"):
            response = getattr(api, method)(f"{API}/provider-allocations/{row.pk}/", {"amount": "1"}, format="json")
            assert response.status_code == 405
        assert snapshot() == before

    def test_filters(self, shares, clients, adopted, org_a, org_b):
        api = clients["viewer"]

        def keys(**params):
            return {(r["region"], r["part"], r["organization"])
                    for r in rows(api.get(f"{API}/provider-allocations/", {"page_size": 1000, **params}))}

        a, b = str(org_a.uuid), str(org_b.uuid)
        assert keys(budget=adopted.pk) == {("P11", "case_specific", a), ("P11", "case_specific", b),
                                           ("P11", "case_specific", None), ("P21", "preventive", b),
                                           ("P21", "preventive", None)}
        assert keys(region="P21") == {("P21", "preventive", b), ("P21", "preventive", None)}
        assert keys(part="preventive", organization=b) == {("P21", "preventive", b)}
        assert keys(source="retained") == {("P11", "case_specific", None), ("P21", "preventive", None)}
        assert keys(budget=adopted.pk + 1000) == set()

    def test_exports(self, shares, clients):
        table = read_csv(clients["planner"].get(f"{API}/provider-allocations/", {"format": "csv"}))
        p11 = {r["organization_name"]: r["amount"] for r in table if r["region"] == "P11"}
        assert p11 == {"Träger A e. V.": "70,00", "Träger B gGmbH": "52,50", "": "52,50"}
        response = clients["planner"].get(f"{API}/provider-allocations/", {"format": "xlsx"})
        assert response.status_code == 200 and response["Content-Type"] == XLSX


# --- query counts ----------------------------------------------------------------------------------


def grow(n, budget, tree, org_a):
    """n more providers with a share of P12's preventive part each (and their allocations)."""
    for _ in range(n):
        ProviderShare.objects.create(budget=budget, region=tree["P12"], part="preventive",
                                     organization=OrganizationFactory(), share=D("0.5"))
    ProviderShare.objects.get_or_create(budget=budget, region=tree["P12"], part="case_specific", organization=org_a,
                                        defaults={"share": D(1)})
    recompute(budget.pk)


#: most queries (JSON; an export needs one fewer): roles, a provider's memberships and branches, count, rows,
#: the allocations' agreements
# provider-shares: count and page, plus role scopes and memberships (with branches) for provider staff
LIMITS = {"provider-shares": 5, "provider-allocations": 6}


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
    def test_constant_in_the_number_of_rows(self, shares, users, adopted, tree, org_a, route, persona, fmt,
                                            django_assert_max_num_queries):
        path = f"{API}/{route}/?format={fmt}&page_size=200"
        grow(3, adopted, tree, org_a)
        small, _ = self.count(users[persona], path, LIMITS[route], django_assert_max_num_queries)
        grow(30, adopted, tree, org_a)
        large, response = self.count(users[persona], path, LIMITS[route], django_assert_max_num_queries)
        assert small == large
        if fmt == "json" and persona == "planner":
            assert response.json()["count"] >= 36


class TestSchema:
    def test_documented(self, clients):
        schema = clients["viewer"].get(f"{API}/schema/", HTTP_ACCEPT="application/json").json()
        for route in ("provider-shares", "provider-allocations"):
            operation = schema["paths"][f"/api/v1/{route}/"]["get"]
            params = {p["name"] for p in operation["parameters"]}
            assert {"budget", "region", "part", "organization", "format", "page"} <= params
            assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv", XLSX}
        assert "post" in schema["paths"]["/api/v1/provider-shares/"]
        assert "post" not in schema["paths"]["/api/v1/provider-allocations/"]
        assert not {"put", "patch", "delete"} & set(schema["paths"]["/api/v1/provider-allocations/{id}/"])
        assert {"put", "patch", "delete"} <= set(schema["paths"]["/api/v1/provider-shares/{id}/"])
