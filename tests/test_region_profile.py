"""The region profile: indicators against the city with their trend, index
classes, offerings by field and locations, networks and agreements, budget by
part with spending, goals and needs — scoped, exportable, ≤ 20 queries."""

import csv
import io
from decimal import Decimal as D

import pytest
from django.test import Client

from cooperation.choices import AgreementStatus
from cooperation.models import Agreement
from regions.models import CompositeIndex, IndexResult
from tests.factories import (
    AgreementFactory,
    FieldOfActionFactory,
    GoalFactory,
    IndicatorValueFactory,
    LocationFactory,
    NeedReportFactory,
    NetworkFactory,
    ServiceFactory,
)
from tests.test_overview import city  # noqa: F401 - boundaries, residents, an indicator, an adopted budget

pytestmark = pytest.mark.django_db


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def rows_of(response):
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


@pytest.fixture
def profile(city, org_a, org_b, levels):  # noqa: F811
    tree = city
    from regions.models import Indicator

    rate = Indicator.objects.get(key="quote")
    IndicatorValueFactory(indicator=rate, region=tree["CITY"], period="2021", value=D("6.0"))
    IndicatorValueFactory(indicator=rate, region=tree["CITY"], period="2020", value=D("5.0"))
    residents = Indicator.objects.get(key="ew_gesamt")
    Indicator.objects.filter(pk=residents.pk).update(rollup="sum")
    IndicatorValueFactory(indicator=residents, region=tree["CITY"], period="2022", value=7000)
    index = CompositeIndex.objects.create(key="status", name="Statusindex", scope_level=levels["planungsraum"])
    IndexResult.objects.create(index=index, region=tree["P11"], period="2020", status="ok", value=D("0.5"),
                               class_label="mittel", computed_at="2026-01-01T00:00:00Z")
    IndexResult.objects.create(index=index, region=tree["P11"], period="2021", status="ok", value=D("1.5"),
                               class_label="hoch", computed_at="2026-01-01T00:00:00Z")
    youth = FieldOfActionFactory(key="jugend", name="Jugend")
    ServiceFactory(organization=org_a, name="Treff", fields=[youth], regions=[tree["P11"]], capacity=30)
    ServiceFactory(organization=org_a, name="Bezirksberatung", fields=[youth], regions=[tree["D1"]], capacity=10)
    ServiceFactory(organization=org_b, name="Anderswo", fields=[youth], regions=[tree["P21"]], capacity=99)
    LocationFactory(organization=org_a, name="Haus am Park", latitude=D("52.5"), longitude=D("13.5"))
    network = NetworkFactory(name="Sozialraumteam Nord", regions=[tree["D1"]], public=True)
    agreement = AgreementFactory(title="Kooperation Nord-West", regions=[tree["P11"]], public=True)
    Agreement.objects.filter(pk=agreement.pk).update(status=AgreementStatus.ACTIVE)
    AgreementFactory(title="Kooperation Süd", regions=[tree["P21"]], public=True)
    GoalFactory(agreement=agreement, title="Quote senken", indicator=rate, region=tree["P11"], target_value=D("1.0"))
    NeedReportFactory(title="Mehr Jugendarbeit", reporter=org_a, region=tree["P11"])
    return {"network": network, "agreement": agreement}


class TestProfile:
    def test_everything_on_one_page(self, profile, planner, city):  # noqa: F811
        html = client_for(planner).get("/raeume/P11/profil/").content.decode()
        assert "Raumprofil Nord-West" in html
        # the indicator against the city (difference in percentage points) and its trend
        assert "2,5\u00a0%" in html and "6,0\u00a0%" in html and "−3,5\u00a0Pp." in html
        assert "gestiegen seit 2020 (1,0\u00a0%)" in html
        # counts: the share of the city (1000 of 7000 residents)
        assert "14,3\u00a0%" in html
        # the newest index class only
        assert "hoch" in html and "mittel" not in html
        # offerings for P11 itself and for its district, not for P21
        assert "Jugend" in html and ">2<" in html and ">40<" in html
        assert "Haus am Park" in html and "data-points-url" in html
        assert "Sozialraumteam Nord" in html and "Kooperation Nord-West" in html and "Kooperation Süd" not in html
        # budget: P11's 250 € by part (70/10/20 %) and the 150,50 € spent
        assert "175,00\u00a0€" in html and "150,50\u00a0€" in html and "24,50\u00a0€" in html
        assert "Quote senken" in html and "Mehr Jugendarbeit" in html
        assert 'data-print' in html and "/api/v1/indicator-values/?region=P11" in html

    def test_exports(self, profile, planner):
        client = client_for(planner)
        rows = rows_of(client.get("/raeume/P11/profil/", {"export": "budget", "format": "csv"}))
        assert rows[0] == ["budget", "part", "allocated", "spent", "remaining", "percent"]
        assert rows[1] == ["Jugendhilfe", "fallspezifisch", "175,00", "150,50", "24,50", "86,0"]
        assert len(rows) == 4
        rows = rows_of(client.get("/raeume/P11/profil/", {"export": "indikatoren", "format": "csv"}))
        quote = next(r for r in rows if r[0] == "Quote")
        assert quote[1:5] == ["2021", "2,5\u00a0%", "6,0\u00a0%", "−3,5\u00a0Pp."]
        for key in ("index", "angebote", "standorte", "kooperation", "ziele", "bedarfe"):
            assert client.get("/raeume/P11/profil/", {"export": key, "format": "xlsx"}).status_code == 200, key

    def test_scoped(self, profile, provider_editor_b, region_lead, scoped_planner):
        html = client_for(provider_editor_b).get("/raeume/P11/profil/").content.decode()
        assert "Raumprofil Nord-West" in html and "Treff" not in html  # B does not see A's offerings
        assert "Haus am Park" not in html
        assert client_for(scoped_planner).get("/raeume/P11/profil/").status_code == 404  # D2 only
        assert client_for(region_lead).get("/raeume/P11/profil/").status_code == 200
        assert client_for(region_lead).get("/raeume/NOPE/profil/").status_code == 404
        assert Client().get("/raeume/P11/profil/").status_code == 302

    def test_linked_from_the_region_page(self, profile, viewer):
        assert 'href="/raeume/P11/profil/"' in client_for(viewer).get("/raeume/P11/").content.decode()

    @pytest.mark.parametrize("user", ["planner", "provider_editor_a", "region_lead"])
    def test_query_count(self, profile, user, request, django_assert_max_num_queries):
        client = client_for(request.getfixturevalue(user))
        client.get("/raeume/P11/profil/")
        with django_assert_max_num_queries(20):
            assert client.get("/raeume/P11/profil/").status_code == 200
        with django_assert_max_num_queries(20):
            assert client.get("/raeume/D1/profil/").status_code == 200
