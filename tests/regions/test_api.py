"""The REST API under /api/v1/ (sozialraum/api.py): every endpoint for every
persona, filters, pagination, GeoJSON, bulk writes, imports, schema and docs.

Tree (conftest): CITY ─ D1 ─ P11, P12
                     └ D2 ─ P21
"""

import json
import re

import pytest
from django.urls import reverse

from core.models import ImportRun
from regions.filtersets import IndicatorValueFilterSet, RegionFilterSet
from regions.models import Indicator, IndicatorValue, Region, RegionLevel
from tests.conftest import client_for
from tests.factories import (
    ImportRunFactory,
    IndicatorFactory,
    IndicatorValueFactory,
    RegionFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"
REFUSED_WRITERS = ["viewer", "region_lead", "provider_editor_a", "provider_editor_b"]
READERS = ["planner", "viewer", "region_lead", "provider_editor_a", "provider_editor_b"]


def box(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


@pytest.fixture
def users(personas, scoped_planner):
    return {**personas, "scoped_planner": scoped_planner}


@pytest.fixture
def clients(users):
    return {name: client_for(user) for name, user in users.items()}


@pytest.fixture
def data(tree, levels):
    ew = IndicatorFactory(key="ew", name="Einwohner", rollup="sum")
    share = IndicatorFactory(key="share", name="Anteil", unit="%", rollup="weighted_mean", weight_indicator=ew)
    values = {}
    for code in ("P11", "P12", "P21"):
        values[code] = IndicatorValueFactory(indicator=ew, region=tree[code], period="2022", value=100)
        IndicatorValueFactory(indicator=share, region=tree[code], period="2022", value="10.5")
        IndicatorValueFactory(indicator=ew, region=tree[code], period="2021", value=90)
    values["CITY"] = IndicatorValueFactory(indicator=ew, region=tree["CITY"], period="2022", value=300,
                                           is_rollup=True)
    shapes = {"CITY": box(13.0, 52.0, 14.0, 53.0), "D1": box(13.0, 52.0, 13.5, 53.0),
              "P11": box(13.0, 52.0, 13.5, 52.5), "D2": box(13.5, 52.0, 14.0, 53.0)}
    for code, geometry in shapes.items():
        tree[code].set_boundary(geometry)
        tree[code].save()
    return {"tree": tree, "levels": levels, "ew": ew, "share": share, "values": values}


def bulk_values(client, rows):
    response = client.post(f"{API}/indicator-values/bulk/", rows, format="json")
    assert response.status_code == 200, response.json()


def rollup_value(code, period="2023", key="ew"):
    iv = IndicatorValue.objects.filter(indicator__key=key, region__code=code, period=period).first()
    return None if iv is None else iv.value


def assert_refused_anonymous(response):
    assert response.status_code in (401, 403), response.status_code
    body = response.json()
    assert set(body) == {"detail"}  # an explanation, never data


def codes(response):
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return [r["code"] for r in rows]


# --- reading: every endpoint, every persona -----------------------------------------------


READ_ENDPOINTS = [
    "/region-levels/",
    "/regions/",
    "/regions/?format=geojson",
    "/regions/CITY/",
    "/regions/CITY/ancestors/",
    "/regions/locate/?lon=13.2&lat=52.2",
    "/indicators/",
    "/indicators/ew/",
    "/indicator-values/",
    "/imports/",
]


class TestAnonymous:
    @pytest.mark.parametrize("path", READ_ENDPOINTS + ["/", "/region-levels/{level}/", "/indicator-values/{value}/",
                                                       "/imports/{run}/"])
    def test_reads_refused(self, data, api, path):
        run = ImportRunFactory()
        path = path.format(level=data["levels"]["land"].pk, value=data["values"]["P11"].pk, run=run.pk)
        assert_refused_anonymous(api.get(API + path))

    @pytest.mark.parametrize("method, path, body", [
        ("post", "/region-levels/", {"key": "quartier", "name": "Quartier", "rank": 9}),
        ("patch", "/region-levels/{level}/", {"name": "X"}),
        ("delete", "/region-levels/{level}/", None),
        ("post", "/regions/", {"code": "P13", "name": "x", "level": "planungsraum", "parent": "D1"}),
        ("patch", "/regions/P11/", {"name": "X"}),
        ("put", "/regions/P11/", {"code": "P11", "name": "X", "level": "planungsraum", "parent": "D1"}),
        ("delete", "/regions/P11/", None),
        ("post", "/indicators/", {"key": "neu", "name": "Neu"}),
        ("patch", "/indicators/ew/", {"name": "X"}),
        ("delete", "/indicators/ew/", None),
        ("post", "/indicator-values/", {}),
        ("post", "/indicator-values/bulk/", [{"region_code": "P11", "indicator": "ew", "period": "2023", "value": 1}]),
        ("delete", "/indicator-values/{value}/", None),
        ("post", "/imports/", None),
    ])
    def test_writes_refused(self, data, api, method, path, body):
        before = (Region.objects.count(), IndicatorValue.objects.count(), Indicator.objects.count(),
                  RegionLevel.objects.count(), ImportRun.objects.count())
        path = path.format(level=data["levels"]["land"].pk, value=data["values"]["P11"].pk)
        response = getattr(api, method)(API + path, body, format="json")
        assert_refused_anonymous(response)
        assert (Region.objects.count(), IndicatorValue.objects.count(), Indicator.objects.count(),
                RegionLevel.objects.count(), ImportRun.objects.count()) == before
        assert Region.objects.get(code="P11").name == "Nord-West"

    def test_inactive_user_refused(self, data, inactive_planner):
        response = client_for(inactive_planner).get(API + "/regions/")
        assert response.status_code in (401, 403)


class TestReadsPerPersona:
    @pytest.mark.parametrize("persona", READERS)
    @pytest.mark.parametrize("path", READ_ENDPOINTS)
    def test_every_reader_can_read(self, data, clients, persona, path):
        response = clients[persona].get(API + path)
        assert response.status_code == 200, (persona, path, response.content[:300])

    @pytest.mark.parametrize("persona, expected", [
        ("planner", ["CITY", "D1", "P11", "P12", "D2", "P21"]),
        ("viewer", ["CITY", "D1", "P11", "P12", "D2", "P21"]),
        ("provider_editor_a", ["CITY", "D1", "P11", "P12", "D2", "P21"]),
        ("region_lead", ["CITY", "D1", "P11", "P12"]),
        ("scoped_planner", ["CITY", "D2", "P21"]),
    ])
    def test_region_list_scoped(self, data, clients, persona, expected):
        response = clients[persona].get(API + "/regions/")
        assert response.status_code == 200
        assert sorted(codes(response)) == sorted(expected)
        assert response.json()["count"] == len(expected)

    @pytest.mark.parametrize("persona, code, status", [
        ("scoped_planner", "P11", 404),
        ("scoped_planner", "D1", 404),
        ("scoped_planner", "CITY", 200),
        ("scoped_planner", "P21", 200),
        ("region_lead", "P21", 404),
        ("region_lead", "P11", 200),
        ("provider_editor_b", "P21", 200),
    ])
    def test_region_detail_scoped(self, data, clients, persona, code, status):
        assert clients[persona].get(f"{API}/regions/{code}/").status_code == status

    def test_region_detail_fields(self, data, clients):
        body = clients["viewer"].get(f"{API}/regions/P11/").json()
        assert body["code"] == "P11"
        assert body["level"] == "planungsraum"
        assert body["parent"] == "D1"
        assert body["depth"] == 2
        assert body["has_boundary"] is True
        assert "boundary" not in body  # write-only: the list stays small; geometry via ?format=geojson
        assert float(body["area_m2"]) > 0

    def test_codes_with_leading_zeros_in_urls(self, data, clients, levels):
        RegionFactory(code="0110", name="Zentrum", level=levels["bezirk"], parent=data["tree"]["CITY"])
        RegionFactory(code="110", name="Anders", level=levels["bezirk"], parent=data["tree"]["CITY"])
        assert clients["viewer"].get(f"{API}/regions/0110/").json()["name"] == "Zentrum"
        assert clients["viewer"].get(f"{API}/regions/110/").json()["name"] == "Anders"

    @pytest.mark.parametrize("persona, expected", [
        ("planner", 10),
        ("viewer", 10),
        ("provider_editor_a", 10),
        ("region_lead", 7),  # P11, P12 × 3 + CITY
        ("scoped_planner", 4),  # P21 × 3 + CITY
    ])
    def test_indicator_values_scoped(self, data, clients, persona, expected):
        response = clients[persona].get(API + "/indicator-values/")
        assert response.json()["count"] == expected
        if persona == "scoped_planner":
            assert {r["region"] for r in response.json()["results"]} == {"P21", "CITY"}

    def test_indicator_value_fields(self, data, clients):
        value = data["values"]["P11"]
        body = clients["viewer"].get(f"{API}/indicator-values/{value.pk}/").json()
        assert body == {
            "id": value.pk, "indicator": "ew", "region": "P11", "period": "2022", "value": "100.000000",
            "is_rollup": False, "updated_at": body["updated_at"],
        }

    def test_indicator_value_outside_scope_is_404(self, data, clients):
        value = data["values"]["P11"]
        assert clients["scoped_planner"].get(f"{API}/indicator-values/{value.pk}/").status_code == 404

    def test_region_levels_and_indicators(self, data, clients):
        levels = clients["provider_editor_a"].get(API + "/region-levels/").json()
        assert [lv["key"] for lv in levels["results"]] == ["land", "bezirk", "planungsraum"]
        indicators = clients["provider_editor_a"].get(API + "/indicators/").json()
        assert {i["key"] for i in indicators["results"]} == {"ew", "share"}
        share = clients["viewer"].get(API + "/indicators/share/").json()
        assert share["weight_indicator"] == "ew" and share["rollup"] == "weighted_mean"

    def test_imports_visible_to_author_and_planners(self, data, clients, users):
        own = ImportRunFactory(created_by=users["provider_editor_a"])
        other = ImportRunFactory(created_by=users["planner"])
        planner_ids = {r["id"] for r in clients["planner"].get(API + "/imports/").json()["results"]}
        assert planner_ids == {own.pk, other.pk}
        provider = clients["provider_editor_a"].get(API + "/imports/").json()
        assert [r["id"] for r in provider["results"]] == [own.pk]
        assert clients["provider_editor_b"].get(f"{API}/imports/{own.pk}/").status_code == 404
        assert clients["viewer"].get(f"{API}/imports/{other.pk}/").status_code == 404
        # a planner limited to one district sees only own runs (errors may name other districts)
        assert clients["scoped_planner"].get(f"{API}/imports/{other.pk}/").status_code == 404


class TestAncestorsAndLocate:
    def test_ancestors(self, data, clients):
        response = clients["viewer"].get(f"{API}/regions/P11/ancestors/")
        assert codes(response) == ["CITY", "D1"]
        assert codes(clients["viewer"].get(f"{API}/regions/CITY/ancestors/")) == []

    def test_ancestors_outside_scope(self, data, clients):
        assert clients["scoped_planner"].get(f"{API}/regions/P11/ancestors/").status_code == 404
        assert codes(clients["scoped_planner"].get(f"{API}/regions/P21/ancestors/")) == ["CITY", "D2"]

    def test_locate_deepest_first(self, data, clients):
        response = clients["viewer"].get(f"{API}/regions/locate/", {"lon": 13.2, "lat": 52.2})
        assert codes(response) == ["P11", "D1", "CITY"]
        response = clients["viewer"].get(f"{API}/regions/locate/", {"lon": 13.7, "lat": 52.2})
        assert codes(response) == ["D2", "CITY"]
        assert codes(clients["viewer"].get(f"{API}/regions/locate/", {"lon": 8.0, "lat": 50.0})) == []

    def test_locate_respects_scope(self, data, clients):
        response = clients["scoped_planner"].get(f"{API}/regions/locate/", {"lon": 13.2, "lat": 52.2})
        assert codes(response) == ["CITY"]

    @pytest.mark.parametrize("params", [{}, {"lon": 13.2}, {"lon": "x", "lat": "52"}])
    def test_locate_needs_coordinates(self, data, clients, params):
        response = clients["viewer"].get(f"{API}/regions/locate/", params)
        assert response.status_code == 400
        assert "lon und lat" in response.json()["detail"]


class TestGeoJSON:
    def test_feature_collection(self, data, clients):
        response = clients["viewer"].get(f"{API}/regions/", {"format": "geojson"})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/geo+json")
        body = json.loads(response.content)
        assert body["type"] == "FeatureCollection"
        assert "crs" not in body  # RFC 7946
        features = {f["id"]: f for f in body["features"]}
        assert set(features) == {"CITY", "D1", "P11", "D2"}  # regions without boundary left out
        p11 = features["P11"]
        assert p11["type"] == "Feature"
        assert p11["geometry"] == Region.objects.get(code="P11").boundary
        assert p11["properties"]["code"] == "P11"
        assert p11["properties"]["level"] == "planungsraum"
        assert p11["properties"]["parent"] == "D1"
        assert float(p11["properties"]["area_m2"]) > 0

    def test_filtered_and_scoped(self, data, clients):
        body = json.loads(clients["viewer"].get(f"{API}/regions/", {"format": "geojson", "ancestor": "D1"}).content)
        assert {f["id"] for f in body["features"]} == {"D1", "P11"}
        body = json.loads(clients["scoped_planner"].get(f"{API}/regions/", {"format": "geojson"}).content)
        assert {f["id"] for f in body["features"]} == {"CITY", "D2"}

    def test_accept_header(self, data, clients):
        response = clients["viewer"].get(f"{API}/regions/", HTTP_ACCEPT="application/geo+json")
        assert response.status_code == 200
        assert json.loads(response.content)["type"] == "FeatureCollection"

    def test_detail_as_geojson(self, data, clients):
        """Regression: the detail with ?format=geojson was plain JSON labelled application/geo+json."""
        response = clients["viewer"].get(f"{API}/regions/P11/", {"format": "geojson"})
        if response.status_code == 200:
            body = json.loads(response.content)
            assert body["type"] == "Feature"
            assert body["geometry"] == Region.objects.get(code="P11").boundary
        else:
            assert response.status_code in (404, 406)

    def test_anonymous_gets_no_geometry(self, data, api):
        assert_refused_anonymous(api.get(f"{API}/regions/", {"format": "geojson"}))


class TestFilters:
    def test_same_filterset_as_html_list(self):
        from regions.api.views import IndicatorValueViewSet, RegionViewSet
        from regions.views import RegionListView

        assert RegionViewSet.filterset_class is RegionFilterSet
        assert RegionListView.filterset_class is RegionFilterSet
        assert IndicatorValueViewSet.filterset_class is IndicatorValueFilterSet

    @pytest.mark.parametrize("params, expected", [
        ({"level": "planungsraum"}, ["P11", "P12", "P21"]),
        ({"level": "bezirk"}, ["D1", "D2"]),
        ({"parent": "D1"}, ["P11", "P12"]),
        ({"parent": "CITY"}, ["D1", "D2"]),
        ({"ancestor": "D1"}, ["D1", "P11", "P12"]),
        ({"ancestor": "CITY"}, ["CITY", "D1", "D2", "P11", "P12", "P21"]),
        ({"ancestor": "GIBTS-NICHT"}, []),
        ({"code": "P11"}, ["P11"]),
        ({"q": "nord"}, ["D1", "P11", "P12"]),
        ({"q": "P1"}, ["P11", "P12"]),
        ({"q": "Süd"}, ["D2", "P21"]),
        ({"has_boundary": "true"}, ["CITY", "D1", "D2", "P11"]),
        ({"level": "planungsraum", "ancestor": "D1", "q": "Ost"}, ["P12"]),
    ])
    def test_region_filters(self, data, clients, params, expected):
        response = clients["viewer"].get(f"{API}/regions/", params)
        assert response.status_code == 200
        assert sorted(codes(response)) == sorted(expected)

    def test_filters_within_scope(self, data, clients):
        # the filter narrows the scope, it never widens it
        assert codes(clients["scoped_planner"].get(f"{API}/regions/", {"ancestor": "D1"})) == []
        assert sorted(codes(clients["region_lead"].get(f"{API}/regions/", {"level": "planungsraum"}))) == ["P11", "P12"]

    @pytest.mark.parametrize("params, expected", [
        ({"indicator": "ew"}, 7),
        ({"indicator": "share"}, 3),
        ({"region_ancestor": "D1"}, 6),
        ({"region_ancestor": "CITY"}, 10),
        ({"period": "2021"}, 3),
        ({"period": "2022", "indicator": "ew"}, 4),
        ({"period_from": "2022"}, 7),
        ({"region": "P21"}, 3),
        ({"level": "land"}, 1),
        ({"is_rollup": "true"}, 1),
        ({"indicator": "ew", "region_ancestor": "D1", "period": "2022"}, 2),
    ])
    def test_indicator_value_filters(self, data, clients, params, expected):
        response = clients["viewer"].get(f"{API}/indicator-values/", params)
        assert response.status_code == 200
        assert response.json()["count"] == expected

    def test_indicator_filters(self, data, clients):
        response = clients["viewer"].get(f"{API}/indicators/", {"q": "anteil"})
        assert [i["key"] for i in response.json()["results"]] == ["share"]
        response = clients["viewer"].get(f"{API}/indicators/", {"rollup": "sum"})
        assert [i["key"] for i in response.json()["results"]] == ["ew"]

    def test_import_filters(self, data, clients, users):
        ImportRunFactory(created_by=users["planner"], kind="regions", status="failed")
        ImportRunFactory(created_by=users["planner"], kind="indicator_values")
        response = clients["planner"].get(f"{API}/imports/", {"kind": "regions"})
        assert [r["kind"] for r in response.json()["results"]] == ["regions"]
        assert clients["planner"].get(f"{API}/imports/", {"status": "failed"}).json()["count"] == 1


class TestPaginationAndQueries:
    @pytest.fixture
    def many(self, data):
        levels, tree, ew = data["levels"], data["tree"], data["ew"]
        regions = [RegionFactory(code=f"Q{i:03d}", name=f"Quartier {i}", level=levels["planungsraum"],
                                 parent=tree["D2"] if i % 2 else tree["D1"]) for i in range(60)]
        for i, region in enumerate(regions):
            IndicatorValueFactory(indicator=ew, region=region, period="2022", value=i)
            IndicatorValueFactory(indicator=ew, region=region, period="2023", value=i)
        return regions

    def test_region_pages(self, many, clients):
        body = clients["viewer"].get(f"{API}/regions/").json()
        assert body["count"] == 66
        assert len(body["results"]) == 50
        assert body["next"] and body["previous"] is None
        second = clients["viewer"].get(f"{API}/regions/", {"page": 2}).json()
        assert len(second["results"]) == 16
        big = clients["viewer"].get(f"{API}/regions/", {"page_size": 1000}).json()
        assert len(big["results"]) == 66

    def test_page_size_capped(self, many, clients):
        body = clients["viewer"].get(f"{API}/regions/", {"page_size": 5000}).json()
        assert len(body["results"]) == 66  # max_page_size 1000 > 66

    @pytest.mark.parametrize("persona", ["viewer", "scoped_planner"])
    def test_region_list_queries(self, many, users, persona, django_assert_max_num_queries):
        client = client_for(None)
        client.force_login(users[persona])  # a real session: user and scopes loaded per request
        with django_assert_max_num_queries(5):  # session, user, role scopes, count, page
            response = client.get(f"{API}/regions/", {"page_size": 100})
        assert response.status_code == 200
        assert len(response.json()["results"]) >= 30

    def test_geojson_queries(self, many, users, django_assert_max_num_queries):
        client = client_for(None)
        client.force_login(users["viewer"])
        with django_assert_max_num_queries(4):
            response = client.get(f"{API}/regions/", {"format": "geojson"})
        assert len(json.loads(response.content)["features"]) == 4

    @pytest.mark.parametrize("persona", ["viewer", "region_lead"])
    def test_indicator_value_list_queries(self, many, users, persona, django_assert_max_num_queries):
        client = client_for(None)
        client.force_login(users[persona])
        with django_assert_max_num_queries(5):
            response = client.get(f"{API}/indicator-values/", {"page_size": 200})
        assert response.status_code == 200
        assert len(response.json()["results"]) >= 60

    def test_ancestors_and_locate_queries(self, many, users, django_assert_max_num_queries):
        client = client_for(None)
        client.force_login(users["viewer"])
        with django_assert_max_num_queries(5):
            assert client.get(f"{API}/regions/Q001/ancestors/").status_code == 200
        with django_assert_max_num_queries(5):
            assert client.get(f"{API}/regions/locate/", {"lon": 13.2, "lat": 52.2}).status_code == 200

    def test_import_list_queries(self, data, users, django_assert_max_num_queries):
        for _ in range(55):
            ImportRunFactory(created_by=users["planner"])
        client = client_for(None)
        client.force_login(users["planner"])
        with django_assert_max_num_queries(5):
            response = client.get(f"{API}/imports/", {"page_size": 100})
        assert response.json()["count"] == 55


# --- writing ---------------------------------------------------------------------------


class TestCreatePermission:
    """Regression: can_add used to be a classmethod that QuerySet.as_manager() does not
    copy, so every authenticated POST to a create endpoint crashed (HTTP 500)."""

    @pytest.mark.parametrize("path, body", [
        ("/regions/", {"code": "P13", "name": "Nord-Neu", "level": "planungsraum", "parent": "D1"}),
        ("/region-levels/", {"key": "quartier", "name": "Quartier", "rank": 9}),
        ("/indicators/", {"key": "neu", "name": "Neu"}),
        ("/indicator-values/bulk/", [{"region_code": "P11", "indicator": "ew", "period": "2023", "value": 1}]),
    ])
    def test_planner_can_create(self, data, clients, path, body):
        response = clients["planner"].post(API + path, body, format="json")
        assert response.status_code in (200, 201), response.content[:300]

    @pytest.mark.parametrize("path", ["/regions/", "/region-levels/", "/indicators/", "/indicator-values/bulk/",
                                      "/indicator-values/", "/imports/"])
    def test_viewer_refused_not_crashing(self, data, clients, path):
        response = clients["viewer"].post(API + path, {}, format="json")
        assert response.status_code == 403


class TestRegionWrites:
    new = {"code": "P13", "name": "Nord-Neu", "level": "planungsraum", "parent": "D1"}

    @pytest.mark.parametrize("persona", REFUSED_WRITERS)
    def test_refused(self, data, clients, persona):
        client = clients[persona]
        assert client.post(f"{API}/regions/", self.new, format="json").status_code == 403
        # all of them see P11/P12 (a region lead of D1, a viewer, provider staff): 403, not 404
        assert client.patch(f"{API}/regions/P11/", {"name": "X"}, format="json").status_code == 403
        assert client.put(f"{API}/regions/P11/", {**self.new, "code": "P11"}, format="json").status_code == 403
        assert client.delete(f"{API}/regions/P12/").status_code == 403
        assert not Region.objects.filter(code="P13").exists()
        assert Region.objects.get(code="P11").name == "Nord-West"
        assert Region.objects.filter(code="P12").exists()

    def test_visible_but_not_changeable_is_403(self, data, clients):
        # the viewer sees P11, so the refusal is 403, not 404
        assert clients["viewer"].patch(f"{API}/regions/P11/", {"name": "X"}, format="json").status_code == 403
        assert clients["region_lead"].patch(f"{API}/regions/D1/", {"name": "X"}, format="json").status_code == 403
        assert clients["region_lead"].patch(f"{API}/regions/P21/", {"name": "X"}, format="json").status_code == 404

    def test_planner_creates_updates_deletes(self, data, clients, users):
        client = clients["planner"]
        response = client.post(f"{API}/regions/", self.new, format="json")
        assert response.status_code == 201, response.json()
        created = Region.objects.get(code="P13")
        assert created.parent.code == "D1" and created.depth == 2
        assert created.created_by == users["planner"]
        response = client.patch(f"{API}/regions/P13/", {"name": "Nord-Mitte"}, format="json")
        assert response.status_code == 200 and response.json()["name"] == "Nord-Mitte"
        assert client.delete(f"{API}/regions/P13/").status_code == 204
        assert not Region.objects.filter(code="P13").exists()

    def test_planner_moves_a_region(self, data, clients):
        response = clients["planner"].patch(f"{API}/regions/P11/", {"parent": "D2"}, format="json")
        assert response.status_code == 200
        p11 = Region.objects.get(code="P11")
        assert p11.path == f"{Region.objects.get(code='D2').path}{p11.pk}/"

    def test_move_updates_rollups(self, data, clients):
        """Regression: moving a region left its old and new parents' roll-ups stale."""
        bulk_values(clients["planner"], [
            {"region_code": code, "indicator": "ew", "period": "2023", "value": v}
            for code, v in (("P11", 1), ("P12", 2), ("P21", 4))
        ])
        assert (rollup_value("D1"), rollup_value("D2")) == (3, 4)
        assert clients["planner"].patch(f"{API}/regions/P11/", {"parent": "D2"}, format="json").status_code == 200
        assert (rollup_value("D1"), rollup_value("D2"), rollup_value("CITY")) == (2, 5, 7)

    def test_planner_sets_boundary(self, data, clients):
        response = clients["planner"].patch(f"{API}/regions/P12/", {"boundary": box(13.0, 52.5, 13.5, 53.0)},
                                            format="json")
        assert response.status_code == 200
        assert response.json()["has_boundary"] is True
        assert Region.objects.get(code="P12").area_m2 > 0

    def test_bad_boundary_is_400(self, data, clients):
        response = clients["planner"].patch(
            f"{API}/regions/P12/", {"boundary": box(389000, 5819000, 390000, 5820000)}, format="json")
        assert response.status_code == 400
        assert "WGS84" in str(response.json()["boundary"])

    def test_cycle_is_400(self, data, clients):
        response = clients["planner"].patch(f"{API}/regions/D1/", {"parent": "P11"}, format="json")
        assert response.status_code == 400
        assert "Zyklus" in str(response.json())
        assert Region.objects.get(code="D1").parent.code == "CITY"

    def test_duplicate_code_is_400(self, data, clients):
        response = clients["planner"].post(f"{API}/regions/", {**self.new, "code": "P11"}, format="json")
        assert response.status_code == 400
        assert "code" in response.json()

    def test_delete_with_children_refused(self, data, clients):
        # regression: a PROTECT foreign key used to surface as ProtectedError (HTTP 500)
        response = clients["planner"].delete(f"{API}/regions/D1/")
        assert response.status_code == 409
        assert "wird noch verwendet" in response.json()["detail"] and "P11" in response.json()["detail"]
        assert Region.objects.filter(code="D1").exists()

    def test_scoped_planner(self, data, clients):
        client = clients["scoped_planner"]
        assert client.patch(f"{API}/regions/P11/", {"name": "X"}, format="json").status_code == 404  # invisible
        assert client.patch(f"{API}/regions/D1/", {"name": "X"}, format="json").status_code == 404
        assert client.patch(f"{API}/regions/CITY/", {"name": "X"}, format="json").status_code == 403  # ancestor
        response = client.patch(f"{API}/regions/P21/", {"name": "Süd-Neu"}, format="json")
        assert response.status_code == 200
        assert Region.objects.get(code="P21").name == "Süd-Neu"
        assert Region.objects.get(code="P11").name == "Nord-West"
        assert Region.objects.get(code="CITY").name == "Teststadt"

    def test_scoped_planner_creates_only_inside(self, data, clients):
        client = clients["scoped_planner"]
        inside = client.post(f"{API}/regions/", {**self.new, "parent": "D2", "code": "P22"}, format="json")
        assert inside.status_code == 201
        outside = client.post(f"{API}/regions/", self.new, format="json")
        assert outside.status_code == 400
        assert "parent" in outside.json()
        root = client.post(f"{API}/regions/", {"code": "NEU", "name": "Neu", "level": "land"}, format="json")
        assert root.status_code == 400
        assert not Region.objects.filter(code__in=["P13", "NEU"]).exists()

    def test_scoped_planner_cannot_move_out_of_scope(self, data, clients):
        response = clients["scoped_planner"].patch(f"{API}/regions/P21/", {"parent": "D1"}, format="json")
        assert response.status_code == 400
        assert Region.objects.get(code="P21").parent.code == "D2"


class TestCatalogueWrites:
    @pytest.mark.parametrize("persona", REFUSED_WRITERS + ["scoped_planner"])
    def test_refused(self, data, clients, persona):
        client = clients[persona]
        level = data["levels"]["land"]
        assert client.post(f"{API}/region-levels/", {"key": "q", "name": "Q", "rank": 9}, format="json").status_code == 403
        assert client.patch(f"{API}/region-levels/{level.pk}/", {"name": "X"}, format="json").status_code == 403
        assert client.delete(f"{API}/region-levels/{level.pk}/").status_code == 403
        assert client.post(f"{API}/indicators/", {"key": "neu", "name": "Neu"}, format="json").status_code == 403
        assert client.patch(f"{API}/indicators/ew/", {"name": "X"}, format="json").status_code == 403
        assert client.delete(f"{API}/indicators/share/").status_code == 403
        assert RegionLevel.objects.count() == 3
        assert set(Indicator.objects.values_list("key", flat=True)) == {"ew", "share"}
        assert Indicator.objects.get(key="ew").name == "Einwohner"

    def test_planner(self, data, clients):
        client = clients["planner"]
        response = client.post(f"{API}/region-levels/", {"key": "quartier", "name": "Quartier", "rank": 9},
                               format="json")
        assert response.status_code == 201
        level_id = response.json()["id"]
        assert client.patch(f"{API}/region-levels/{level_id}/", {"name": "Kiez"}, format="json").status_code == 200
        assert client.delete(f"{API}/region-levels/{level_id}/").status_code == 204
        response = client.post(f"{API}/indicators/", {"key": "alo", "name": "Arbeitslose", "rollup": "weighted_mean",
                                                       "weight_indicator": "ew"}, format="json")
        assert response.status_code == 201, response.json()
        assert Indicator.objects.get(key="alo").weight_indicator.key == "ew"
        assert client.patch(f"{API}/indicators/alo/", {"unit": "%"}, format="json").status_code == 200
        assert client.delete(f"{API}/indicators/alo/").status_code == 204

    def test_weighted_mean_needs_weight(self, data, clients):
        response = clients["planner"].post(f"{API}/indicators/", {"key": "x", "name": "X", "rollup": "weighted_mean"},
                                           format="json")
        assert response.status_code == 400
        assert "weight_indicator" in response.json()

    def test_weight_indicator_cannot_be_deleted(self, data, clients):
        response = clients["planner"].delete(f"{API}/indicators/ew/")
        assert response.status_code == 409
        assert "Anteil" in response.json()["detail"]
        assert Indicator.objects.filter(key="ew").exists()

    def test_rank_change_must_keep_the_tree_consistent(self, data, clients):
        """Regression: any rank was accepted, so the tree could contradict its levels."""
        level = data["levels"]["bezirk"]
        response = clients["planner"].patch(f"{API}/region-levels/{level.pk}/", {"rank": 5}, format="json")
        assert response.status_code == 400
        level.refresh_from_db()
        assert level.rank == 1

    def test_level_in_use_cannot_be_deleted(self, data, clients):
        level = data["levels"]["bezirk"]
        response = clients["planner"].delete(f"{API}/region-levels/{level.pk}/")
        assert response.status_code == 409
        assert RegionLevel.objects.filter(pk=level.pk).exists()


class TestIndicatorValueWrites:
    rows = [
        {"region_code": "P11", "indicator": "ew", "period": "2023", "value": 110},
        {"region_code": "P12", "indicator": "ew", "period": "2023", "value": "120,5"},
    ]

    def test_plain_post_is_405(self, data, clients):
        response = clients["planner"].post(f"{API}/indicator-values/", self.rows[0], format="json")
        assert response.status_code == 405
        assert "bulk" in response.json()["detail"]

    @pytest.mark.parametrize("persona", REFUSED_WRITERS)
    def test_refused(self, data, clients, persona):
        client = clients[persona]
        before = IndicatorValue.objects.count()
        assert client.post(f"{API}/indicator-values/bulk/", self.rows, format="json").status_code == 403
        assert client.post(f"{API}/indicator-values/", self.rows[0], format="json").status_code == 403
        value = data["values"]["P11"]
        assert client.delete(f"{API}/indicator-values/{value.pk}/").status_code == 403
        assert IndicatorValue.objects.count() == before

    def test_no_put_or_patch(self, data, clients):
        value = data["values"]["P11"]
        assert clients["planner"].patch(f"{API}/indicator-values/{value.pk}/", {"value": 1},
                                        format="json").status_code == 405

    def test_bulk_success(self, data, clients, users):
        response = clients["planner"].post(f"{API}/indicator-values/bulk/", self.rows, format="json")
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["status"] == "succeeded"
        assert body["summary"]["created"] == 2 and body["summary"]["updated"] == 0
        assert body["errors"] == [] and body["error_count"] == 0
        value = IndicatorValue.objects.get(region__code="P12", period="2023")
        assert str(value.value) == "120.500000"
        assert value.created_by == users["planner"]
        assert IndicatorValue.objects.get(region__code="D1", period="2023").value == 230.5  # roll-up
        run = ImportRun.objects.get(pk=body["import_run"])
        assert run.original_name == "API" and run.created_by == users["planner"]

    def test_bulk_wrapped_in_values(self, data, clients):
        response = clients["planner"].post(f"{API}/indicator-values/bulk/", {"values": self.rows}, format="json")
        assert response.status_code == 200

    def test_bulk_not_a_list(self, data, clients):
        response = clients["planner"].post(f"{API}/indicator-values/bulk/", {"region_code": "P11"}, format="json")
        assert response.status_code == 400

    def test_bulk_bad_rows_report_every_position(self, data, clients):
        rows = [
            {"region_code": "P11", "indicator": "ew", "period": "2023", "value": 1},
            {"region_code": "XX", "indicator": "ew", "period": "2023", "value": 1},
            {"region_code": "P12", "indicator": "nix", "period": "2023", "value": 1},
            {"region_code": "P12", "indicator": "ew", "period": "2023-13", "value": 1},
            {"region_code": "P21", "indicator": "ew", "period": "2023", "value": "viel"},
            {"region_code": "P11", "indicator": "ew", "period": "2023", "value": 2},
        ]
        before = IndicatorValue.objects.count()
        response = clients["planner"].post(f"{API}/indicator-values/bulk/", rows, format="json")
        assert response.status_code == 400
        body = response.json()
        assert body["status"] == "failed"
        assert sorted(e["line"] for e in body["errors"]) == [2, 3, 4, 5]  # positions, 1-based
        assert IndicatorValue.objects.count() == before

    def test_bulk_duplicates_named(self, data, clients):
        rows = [self.rows[0], self.rows[1], dict(self.rows[0], value=5)]
        response = clients["planner"].post(f"{API}/indicator-values/bulk/", rows, format="json")
        assert response.status_code == 400
        (error,) = response.json()["errors"]
        assert error["line"] == 3 and "Zeile 1" in error["message"]

    def test_bulk_dry_run_writes_nothing(self, data, clients):
        before = IndicatorValue.objects.count()
        response = clients["planner"].post(f"{API}/indicator-values/bulk/?dry_run=true", self.rows, format="json")
        assert response.status_code == 200
        assert response.json()["summary"]["created"] == 2
        assert IndicatorValue.objects.count() == before
        assert ImportRun.objects.get(pk=response.json()["import_run"]).dry_run

    def test_bulk_scoped_planner(self, data, clients):
        client = clients["scoped_planner"]
        inside = [{"region_code": "P21", "indicator": "ew", "period": "2023", "value": 7}]
        assert client.post(f"{API}/indicator-values/bulk/", inside, format="json").status_code == 200
        response = client.post(f"{API}/indicator-values/bulk/", self.rows, format="json")
        assert response.status_code == 400
        assert {e["line"] for e in response.json()["errors"]} == {1, 2}
        assert all("keine Berechtigung" in e["message"] for e in response.json()["errors"])
        assert not IndicatorValue.objects.filter(region__code__in=["P11", "P12"], period="2023").exists()

    def test_delete_updates_rollups(self, data, clients):
        """Regression: deleting a value left its ancestors' roll-ups stale."""
        bulk_values(clients["planner"], [
            {"region_code": code, "indicator": "ew", "period": "2023", "value": v}
            for code, v in (("P11", 1), ("P12", 2), ("P21", 4))
        ])
        assert (rollup_value("D1"), rollup_value("CITY")) == (3, 7)
        value = IndicatorValue.objects.get(region__code="P11", period="2023")
        assert clients["planner"].delete(f"{API}/indicator-values/{value.pk}/").status_code == 204
        # a sum needs every child's value: D1 and the city have none now
        assert (rollup_value("D1"), rollup_value("CITY")) == (None, None)

    def test_delete(self, data, clients):
        values = data["values"]
        assert clients["scoped_planner"].delete(f"{API}/indicator-values/{values['P11'].pk}/").status_code == 404
        assert clients["scoped_planner"].delete(f"{API}/indicator-values/{values['CITY'].pk}/").status_code == 403
        assert clients["scoped_planner"].delete(f"{API}/indicator-values/{values['P21'].pk}/").status_code == 204
        assert clients["planner"].delete(f"{API}/indicator-values/{values['P11'].pk}/").status_code == 204
        assert not IndicatorValue.objects.filter(pk__in=[values["P11"].pk, values["P21"].pk]).exists()


class TestImportUpload:
    @pytest.fixture(autouse=True)
    def media(self, settings, tmp_path):
        settings.MEDIA_ROOT = tmp_path / "media"

    def csv_file(self, text, name="werte.csv"):
        from django.core.files.uploadedfile import SimpleUploadedFile

        return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")

    @pytest.mark.parametrize("persona", REFUSED_WRITERS)
    def test_refused(self, data, clients, persona):
        response = clients[persona].post(f"{API}/imports/", {
            "kind": "indicator_values", "file": self.csv_file("region_code;indicator;period;value\nP11;ew;2024;1\n"),
        }, format="multipart")
        assert response.status_code == 403
        assert not ImportRun.objects.exists()

    def test_upload_runs_eagerly(self, data, clients, users, eager_celery, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = clients["planner"].post(f"{API}/imports/", {
                "kind": "indicator_values",
                "file": self.csv_file("region_code;indicator;period;value\nP11;ew;2024;1\nP12;ew;2024;2,5\n"),
            }, format="multipart")
        assert response.status_code == 202, response.json()
        assert callbacks  # the task was handed over on commit (then the values-changed signal)
        run_id = response.json()["id"]
        assert response.json()["kind"] == "indicator_values"
        assert response.json()["original_name"] == "werte.csv"
        detail = clients["planner"].get(f"{API}/imports/{run_id}/").json()
        assert detail["status"] == "succeeded", detail
        assert detail["summary"]["created"] == 2
        assert detail["created_by"] == str(users["planner"])
        assert IndicatorValue.objects.get(region__code="D1", period="2024").value == 3.5

    def test_upload_with_options_and_errors(self, data, clients, eager_celery, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            response = clients["planner"].post(f"{API}/imports/", {
                "kind": "indicator_values", "options": json.dumps({"period": "2024"}),
                "file": self.csv_file("code;ew\nP11;1\nP99;2\nP12;12a\n"),
            }, format="multipart")
        assert response.status_code == 202
        detail = clients["planner"].get(f"{API}/imports/{response.json()['id']}/").json()
        assert detail["status"] == "failed"
        assert {e["line"] for e in detail["errors"]} == {3, 4}
        assert not IndicatorValue.objects.filter(period="2024").exists()

    def test_upload_dry_run(self, data, clients, eager_celery, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            response = clients["planner"].post(f"{API}/imports/", {
                "kind": "indicator_values", "dry_run": "true",
                "file": self.csv_file("region_code;indicator;period;value\nP11;ew;2024;1\n"),
            }, format="multipart")
        detail = clients["planner"].get(f"{API}/imports/{response.json()['id']}/").json()
        assert detail["status"] == "succeeded" and detail["dry_run"] is True
        assert not IndicatorValue.objects.filter(period="2024").exists()

    @pytest.mark.parametrize("payload, field", [
        ({"kind": "gibt_es_nicht"}, "kind"),
        ({"kind": "indicator_values", "options": "{kaputt"}, "options"),
        ({"kind": "indicator_values", "options": "[1]"}, "options"),
    ])
    def test_bad_submission(self, data, clients, payload, field):
        response = clients["planner"].post(f"{API}/imports/", {**payload, "file": self.csv_file("a\n1\n")},
                                           format="multipart")
        assert response.status_code == 400
        assert field in response.json()
        assert not ImportRun.objects.exists()

    def test_missing_file(self, data, clients):
        response = clients["planner"].post(f"{API}/imports/", {"kind": "indicator_values"}, format="multipart")
        assert response.status_code == 400 and "file" in response.json()

    def test_too_large(self, data, clients, settings):
        settings.IMPORT_MAX_UPLOAD_BYTES = 10
        response = clients["planner"].post(f"{API}/imports/", {
            "kind": "indicator_values", "file": self.csv_file("region_code;indicator;period;value\n"),
        }, format="multipart")
        assert response.status_code == 400
        assert "zu groß" in str(response.json()["file"])

    def test_scoped_planner_upload_outside_scope_fails(self, data, clients, eager_celery,
                                                       django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            response = clients["scoped_planner"].post(f"{API}/imports/", {
                "kind": "indicator_values",
                "file": self.csv_file("region_code;indicator;period;value\nP21;ew;2024;1\nP11;ew;2024;1\n"),
            }, format="multipart")
        assert response.status_code == 202
        detail = clients["scoped_planner"].get(f"{API}/imports/{response.json()['id']}/").json()
        assert detail["status"] == "failed"
        assert [e["line"] for e in detail["errors"]] == [3]
        assert not IndicatorValue.objects.filter(period="2024").exists()

    def test_imports_are_read_only(self, data, clients, users):
        run = ImportRunFactory(created_by=users["planner"])
        assert clients["planner"].patch(f"{API}/imports/{run.pk}/", {"status": "failed"},
                                        format="json").status_code == 405
        assert clients["planner"].delete(f"{API}/imports/{run.pk}/").status_code == 405


class TestSchemaAndDocs:
    def test_schema_renders(self, data, clients):
        response = clients["viewer"].get(f"{API}/schema/", {"format": "json"})
        assert response.status_code == 200
        schema = json.loads(response.content)
        assert schema["openapi"].startswith("3.")
        paths = set(schema["paths"])
        for path in ["/api/v1/regions/", "/api/v1/regions/{code}/", "/api/v1/regions/{code}/ancestors/",
                     "/api/v1/regions/locate/", "/api/v1/region-levels/", "/api/v1/indicators/",
                     "/api/v1/indicators/{key}/", "/api/v1/indicator-values/", "/api/v1/indicator-values/bulk/",
                     "/api/v1/imports/", "/api/v1/imports/{id}/"]:
            assert path in paths, path
        params = {p["name"] for p in schema["paths"]["/api/v1/regions/"]["get"]["parameters"]}
        assert {"level", "parent", "ancestor", "code", "q", "page", "format"} <= params

    def test_swagger_ui_is_offline(self, clients):
        response = clients["viewer"].get(f"{API}/docs/")
        assert response.status_code == 200
        html = response.content.decode()
        assert "swagger-ui" in html
        urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
        assert urls, "the page loads its assets"
        for url in urls:
            assert url.startswith("/static/") or url.startswith(f"{API}/schema/"), url
        assert not re.search(r"https?://", html.replace("http://testserver", "")), "no CDN or external URL"

    def test_redoc_is_offline(self, clients):
        """Regression: drf-spectacular's Redoc page loaded Google Fonts."""
        response = clients["viewer"].get(f"{API}/redoc/")
        assert response.status_code == 200
        html = response.content.decode()
        urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
        assert all(u.startswith("/static/") or u.startswith(f"{API}/schema/") for u in urls), urls
        assert "cdn" not in html.lower()

    def test_api_root_links_to_the_api(self, clients):
        body = clients["viewer"].get(f"{API}/").json()
        assert {"region-levels", "regions", "indicators", "indicator-values", "imports"} <= set(body)
        for name, url in body.items():
            assert f"/api/v1/{name}/" in url, (name, url)

    # regression: the router's names (region-list, …) used to shadow the HTML pages'
    def test_api_route_names_do_not_shadow_pages(self):
        assert reverse("region-list") == "/raeume/"
        assert reverse("region-detail", kwargs={"code": "P11"}) == "/raeume/P11/"
        assert reverse("indicator-list") == "/raeume/indikatoren/"
        assert reverse("api:region-list") == "/api/v1/regions/"
        assert reverse("api:region-detail", kwargs={"code": "0110"}) == "/api/v1/regions/0110/"
