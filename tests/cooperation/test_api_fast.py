"""The services list API reads its rows without model instances
(``ServiceListRows``): its output must stay exactly what ``ServiceSerializer``
gives for the same offerings — per persona (access scoping), with filters
(search, proximity with ``distance_km``, field, status, region), on every page,
and in the CSV/XLSX exports — with a query count that does not grow with the
page size or the number of offerings.

Tree (conftest): CITY ─ D1 ─ P11, P12
                     └ D2 ─ P21
"""

import datetime
import io
import json
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from cooperation.api.serializers import ServiceListRows, ServiceSerializer
from cooperation.filtersets import ServiceFilterSet
from cooperation.models import Service, TargetGroup
from core.access import Action
from core.api.renderers import CSVRenderer, XLSXRenderer
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

URL = "/api/v1/services/"
PERSONAS = ["planner", "viewer", "region_lead", "provider_editor_a", "provider_editor_b", "provider_viewer_a",
            "superuser", "scoped_planner"]
FILTERS = [
    {},
    {"q": "Beratung"},
    {"q": "Träger B"},  # the organisation's name
    {"near": "52.25,13.26", "radius": 50},
    {"near": "52.25,13.5", "radius": 100, "page_size": 2, "page": 2},
    {"field": "f-kjh"},
    {"status": ["inactive", "defunct"]},
    {"region": "P11"},
    {"age": 30, "free_places": "false"},
    {"page_size": 3, "page": 2},
]


def aware(*args):
    return timezone.make_aware(datetime.datetime(*args))


@pytest.fixture
def users(personas, superuser, scoped_planner, org_a):
    viewer_a = UserFactory(username="provider_viewer_a")
    MembershipFactory(user=viewer_a, organization=org_a, role="viewer")
    return {**{k: v for k, v in personas.items() if v is not None}, "superuser": superuser,
            "scoped_planner": scoped_planner, "provider_viewer_a": viewer_a}


@pytest.fixture
def data(tree, org_a, org_b):
    """Offerings with every kind of value: several related objects in each
    relation (locations of two organisations, regions at two depths), none at
    all, arrays, dates and times in winter and summer time (and one at a time
    that is UTC midnight), statuses, an old offering that needs confirmation,
    a branch of org A, text with non-ASCII characters."""
    kjh = FieldOfActionFactory(key="f-kjh", name="Kinder- und Jugendhilfe")
    hze = FieldOfActionFactory(key="f-kjh-hze", name="Hilfen zur Erziehung", parent=kjh)
    debt = FieldOfActionFactory(key="f-schulden", name="Schuldnerberatung")
    groups = [TargetGroupFactory(key=f"tg-{i}", name=f"Gruppe {name}", order=order)
              for i, (name, order) in enumerate([("Z", 1), ("A", 2), ("M", 1)])]
    branch = OrganizationFactory(name="Zweigstelle A", parent=org_a)
    loc_a = LocationFactory(organization=org_a, name="Familienzentrum Nord", latitude=D("52.25"), longitude=D("13.25"))
    loc_a2 = LocationFactory(organization=org_a, name="Außenstelle", latitude=D("52.30"), longitude=D("13.30"))
    loc_b = LocationFactory(organization=org_b, name="Beratungsstelle Süd", latitude=D("52.25"), longitude=D("13.75"))
    today = timezone.localdate()
    services = [
        ServiceFactory(
            organization=org_a, name="Erziehungsberatung Nord", keywords="Familie, Eltern",
            description="Beratung für Eltern – „Erziehung“ & mehr\u2028zweite Zeile 🙂", fields=[hze, debt, kjh],
            target_groups=[*groups, TargetGroup.objects.get(key="kinder-unter-6")],
            regions=[tree["P11"], tree["D2"], tree["P12"]], locations=[loc_b, loc_a2, loc_a], age_min=0, age_max=6,
            capacity=10, free_places=2, free_places_reported_at=today, languages=["de", "tr", "ar"],
            access_modes=["walk_in", "appointment"], legal_bases=["sgb8_27", "sgb8_16"], accessibility=["lift"],
            phone="+49 30 1234567", email="nord@example.org", url="https://example.org/nord", cost="fee",
            cost_note="5 € pro Termin", opening_hours="Mo–Fr 9–17 Uhr\nDo bis 19 Uhr", setting="open",
            work_mode="case_overarching", last_confirmed_at=aware(2026, 7, 1, 12, 30, 15, 123456),
        ),
        ServiceFactory(organization=org_a, name="Familiencafé", status="inactive", fields=[kjh],
                       regions=[tree["P12"]], last_confirmed_at=aware(2026, 1, 15, 1, 0)),
        ServiceFactory(organization=branch, name="Elternkurs der Zweigstelle", status="temporarily closed",
                       fields=[kjh], locations=[loc_a], age_min=14),
        ServiceFactory(organization=org_b, name="Schuldnerberatung", fields=[debt], city_wide=True,
                       locations=[loc_b], age_min=18, free_places=0, free_places_reported_at=today,
                       last_confirmed_at=datetime.datetime(2026, 3, 1, 23, 0, tzinfo=datetime.UTC)),
        ServiceFactory(organization=org_b, name="Eingestellte Beratung", status="defunct", fields=[debt]),
        ServiceFactory(organization=org_b, name="Ohne alles", fields=[]),
        ServiceFactory(organization=org_a, name="Alte Beratung", fields=[hze], locations=[loc_a2]),
    ]
    # not confirmed for long: needs confirmation
    Service.objects.filter(pk=services[-1].pk).update(created_at=timezone.now() - datetime.timedelta(days=800))
    Service.objects.filter(pk=services[0].pk).update(created_at=aware(2025, 12, 24, 18, 0, 0, 5))
    return services


def cells(xlsx: bytes) -> list[list]:
    return [list(r) for r in load_workbook(io.BytesIO(xlsx)).active.iter_rows(values_only=True)]


def expected_page(user, params):
    """What the serializer gives for the same request: the viewset's queryset
    with instances and prefetches, the same filters, the same page."""
    request = APIRequestFactory().get(URL, params)
    request.user = user
    queryset = (
        Service.objects.for_user(user, Action.VIEW).select_related("organization")
        .prefetch_related("fields", "target_groups", "regions", "locations")
    )
    queryset = ServiceFilterSet(request.GET, queryset=queryset, request=request).qs
    size, page = int(params.get("page_size", 50)), int(params.get("page", 1))
    objects = list(queryset[(page - 1) * size:page * size])
    return queryset.count(), ServiceSerializer(objects, many=True, context={"request": request}).data


class TestSameOutputAsTheSerializer:
    @pytest.mark.parametrize("persona", PERSONAS)
    @pytest.mark.parametrize("params", FILTERS, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()) or "all")
    def test_json(self, data, users, persona, params):
        user = users[persona]
        response = client_for(user).get(URL, params)
        count, expected = expected_page(user, params)
        if not expected and params.get("page", 1) > 1:  # fewer rows for this persona: no such page, as before
            assert response.status_code == 404
            return
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["count"] == count
        assert response.data["results"] == expected  # the same Python values (UUIDs, None, lists …)
        for row, want in zip(response.data["results"], expected, strict=True):
            assert list(row) == list(want)  # the same keys in the same order
        # the same JSON text, byte for byte
        assert JSONRenderer().render(response.data["results"]) == JSONRenderer().render(expected)
        assert json.loads(JSONRenderer().render(expected)) == body["results"]

    def test_the_data_covers_every_case(self, data, users):
        """The comparisons above are only worth something if the rows hold
        several related objects, distances, times and both confirmation states."""
        rows = client_for(users["planner"]).get(URL).json()["results"]
        first = next(r for r in rows if r["name"] == "Erziehungsberatung Nord")
        assert len(first["fields"]) == 3 and len(first["target_groups"]) == 4
        assert len(first["regions"]) == 3 and len(first["locations"]) == 3
        assert first["last_confirmed_at"] == "2026-07-01T12:30:15.123456+02:00"  # local summer time
        assert first["created_at"] == "2025-12-24T18:00:00.000005+01:00"
        assert first["free_places_reported_at"] == timezone.localdate().isoformat()
        assert {r["needs_confirmation"] for r in rows} == {True, False}
        assert any(r["fields"] == [] and r["locations"] == [] for r in rows)
        near = client_for(users["planner"]).get(URL, {"near": "52.25,13.26", "radius": 50}).json()["results"]
        assert near and all(isinstance(r["distance_km"], float) for r in near)
        assert near[0]["distance_km"] == pytest.approx(0.68, abs=0.01)

    def test_relations_in_the_serializers_order(self, data, users):
        row = next(r for r in client_for(users["viewer"]).get(URL).json()["results"]
                   if r["name"] == "Erziehungsberatung Nord")
        assert row["fields"] == ["f-kjh", "f-kjh-hze", "f-schulden"]  # tree order (path)
        groups = [key for key in row["target_groups"] if key.startswith("tg-")]
        assert groups == ["tg-2", "tg-0", "tg-1"]  # by order, then name
        assert row["regions"] == ["P11", "P12", "D2"]  # by path: the tree, D1 (with P11, P12) before D2

    def test_rows_directly(self, data, users):
        """``ServiceListRows`` on its own: a page, every row, an empty page."""
        queryset = Service.objects.for_user(users["viewer"], Action.VIEW)
        instances = queryset.select_related("organization").prefetch_related(
            "fields", "target_groups", "regions", "locations")
        expected = ServiceSerializer(list(instances), many=True).data
        rows = ServiceListRows(queryset)
        assert rows.count() == len(expected) == 7
        assert list(rows) == expected
        assert rows[2:5] == expected[2:5]
        assert rows[100:150] == []
        with pytest.raises(TypeError):
            rows[3]  # noqa: B018 - a page only

    def test_fields_match_the_serializer(self, data):
        """A field added to ServiceSerializer must be added to ServiceListRows."""
        readable = [name for name, field in ServiceSerializer().fields.items() if not field.write_only]
        assert list(ServiceListRows(Service.objects.all())[0:1][0]) == readable

    @pytest.mark.parametrize("params", [{}, {"near": "52.25,13.26", "radius": 50}, {"q": "Beratung"}])
    def test_csv_and_xlsx(self, data, users, params):
        user = users["planner"]
        _count, expected = expected_page(user, {**params, "page_size": 1000})

        class View:
            def get_serializer(self):
                return ServiceSerializer()

        response = client_for(user).get(URL, {**params, "format": "csv"})
        assert response.status_code == 200
        assert response.content == CSVRenderer().render(expected, renderer_context={"view": View()})
        response = client_for(user).get(URL, {**params, "format": "xlsx"})
        want = XLSXRenderer().render(expected, renderer_context={"view": View()})
        assert cells(response.content) == cells(want)  # the file itself holds its creation time
        assert len(cells(want)) == len(expected) + 1 > 2


class TestQueries:
    def count(self, user, params):
        api = client_for(type(user).objects.get(pk=user.pk))  # nothing cached on the user
        with CaptureQueriesContext(connection) as ctx:
            response = api.get(URL, params)
        assert response.status_code == 200
        return len(ctx)

    @pytest.mark.parametrize("persona, limit", [("planner", 4), ("provider_editor_a", 7)])
    @pytest.mark.parametrize("params", [{}, {"q": "Beratung"}, {"near": "52.25,13.26", "radius": 50},
                                        {"format": "csv"}])
    def test_constant_in_page_size_and_rows(self, data, users, persona, limit, params):
        user = users[persona]
        counts = {self.count(user, {**params, "page_size": size}) for size in (1, 10, 100)}
        org = data[0].organization
        location = LocationFactory(organization=org, latitude=D("52.25"), longitude=D("13.25"))
        for i in range(30):
            ServiceFactory(organization=org, name=f"Beratung {i}", fields=list(data[0].fields.all()),
                           target_groups=list(TargetGroup.objects.all()[:3]), regions=list(data[0].regions.all()),
                           locations=[location])
        counts |= {self.count(user, {**params, "page_size": size}) for size in (1, 10, 100)}
        assert len(counts) == 1 and counts.pop() <= limit
