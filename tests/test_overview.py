"""The planner overview: map data (API and table from one function), budget
against spending, coverage regions × fields, the dashboard tables' CSV/XLSX
exports, access by role and pinned query counts."""

import csv
import io
from decimal import Decimal as D

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from budgets.models import Expenditure
from budgets.services import adopt, run_allocation
from core.tables import DECIMAL, INT, MONEY, PERCENT, Cell, Column, DataTable, display
from regions.models import CompositeIndex, IndexClass, IndexResult
from sozialraum import dashboard
from tests.factories import FieldOfActionFactory, IndicatorFactory, IndicatorValueFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def german():
    """Texts built outside a request (dashboard functions, tables) are German
    whatever an earlier test activated."""
    with translation.override("de"):
        yield


def square(x, y, size=1.0):
    return {"type": "Polygon", "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def city(tree, budget, planner):
    """Boundaries for the planning areas, residents (ew_gesamt and age bands),
    an indicator, an adopted budget with expenditures."""
    for i, code in enumerate(("P11", "P12", "P21")):
        tree[code].set_boundary(square(13.0 + i, 52.0))
        tree[code].save()
    total = IndicatorFactory(key="ew_gesamt", name="Einwohner", rollup="none", decimals=0)
    young = IndicatorFactory(key="ew_unter6", name="unter 6", rollup="none", decimals=0)
    school = IndicatorFactory(key="ew_6_15", name="6 bis 15", rollup="none", decimals=0)
    for code, people, under6, six15 in (("P11", 1000, 100, 150), ("P12", 2000, 300, 200), ("P21", 4000, 500, 700)):
        IndicatorValueFactory(indicator=total, region=tree[code], period="2022", value=people)
        IndicatorValueFactory(indicator=young, region=tree[code], period="2022", value=under6)
        IndicatorValueFactory(indicator=school, region=tree[code], period="2022", value=six15)
    rate = IndicatorFactory(key="quote", name="Quote", unit="%", rollup="none", decimals=1)
    for code, value in (("P11", "2.5"), ("P12", "7.5"), ("P21", "12.0")):
        IndicatorValueFactory(indicator=rate, region=tree[code], period="2021", value=D(value))
        IndicatorValueFactory(indicator=rate, region=tree[code], period="2020", value=D("1"))
    adopt(run_allocation(budget.pk), planner)
    for code, month, amount in (("P11", 1, "100.00"), ("P11", 3, "50.50"), ("P21", 3, "200.00")):
        Expenditure.objects.create(budget=budget, region=tree[code], part="case_specific", category="Personal",
                                   booking_date=f"2027-{month:02d}-15", amount=D(amount))
    return tree


class TestTables:
    def test_german_display(self):
        assert display(D("1234567.891"), Column("x", "x", MONEY)) == "1.234.567,89\u00a0€"
        assert display(D("12.25"), Column("x", "x", PERCENT)) == "12,3\u00a0%"  # half up to one decimal
        assert display(D("1234.5"), Column("x", "x", DECIMAL, decimals=2)) == "1.234,50"
        assert display(None, Column("x", "x", MONEY)) == ""
        assert display(D("-1234.5"), Column("x", "x", MONEY)) == "-1.234,50\u00a0€"
        assert display(1234567, Column("x", "x", INT)) == "1.234.567"
        assert display(D("0.05"), Column("x", "x", DECIMAL, decimals=1)) == "0,1"
        with translation.override("en"):
            assert display(D("1234.5"), Column("x", "x", MONEY)) == "1,234.50\u00a0€"

    def test_rows_must_fit_the_columns(self):
        with pytest.raises(ValueError, match="2 cells for 3 columns"):
            DataTable("t", "T", [Column("a", "A"), Column("b", "B"), Column("c", "C")], rows=[[1, 2]])


class TestMapData:
    def test_indicator_classes_and_latest_period(self, city, planner):
        data = dashboard.map_data(planner, "planungsraum", "indicator:quote")
        assert data.period == "2021"
        by_code = {r.code: r for r in data.regions}
        assert by_code["P11"].text == "2,5\u00a0%" and by_code["P21"].value == D("12.0")
        assert [c.count for c in data.classes] == [1, 1, 1]
        assert [by_code[c].klass for c in ("P11", "P12", "P21")] == [0, 1, 2]
        earlier = dashboard.map_data(planner, "planungsraum", "indicator:quote", "2020")
        assert {r.value for r in earlier.regions} == {D("1")} and len(earlier.classes) == 1

    def test_regions_without_value(self, city, planner, levels):
        data = dashboard.map_data(planner, "bezirk", "indicator:quote")
        assert {r.code for r in data.regions} == {"D1", "D2"}
        assert all(r.value is None and r.klass is None and r.text == "kein Wert" for r in data.regions)

    def test_index_by_its_classes(self, city, planner, levels):
        index = CompositeIndex.objects.create(key="status", name="Status", scope_level=levels["planungsraum"])
        IndexClass.objects.create(index=index, label="hoch", upper=D(0), order=0)
        IndexClass.objects.create(index=index, label="niedrig", lower=D(0), order=1)
        for code, value, label in (("P11", "-1.2", "hoch"), ("P12", "0.8", "niedrig")):
            IndexResult.objects.create(index=index, region=city[code], period="2021", status="ok", value=D(value),
                                       class_label=label, computed_at="2026-01-01T00:00:00Z")
        IndexResult.objects.create(index=index, region=city["P21"], period="2021", status="excluded",
                                   reason="zu wenige Einwohner", computed_at="2026-01-01T00:00:00Z")
        data = dashboard.map_data(planner, "planungsraum", "index:status")
        assert [(c.label, c.count) for c in data.classes] == [("hoch", 1), ("niedrig", 1)]
        by_code = {r.code: r for r in data.regions}
        assert by_code["P11"].klass == 0 and by_code["P11"].text == "hoch (-1,20)"
        assert by_code["P21"].klass is None and by_code["P21"].text == "zu wenige Einwohner"

    def test_allocation_per_resident(self, city, planner, budget):
        data = dashboard.map_data(planner, "planungsraum", f"budget:{budget.pk}")
        by_code = {r.code: r for r in data.regions}
        # 1000 € by need 1:1:2 → 250, 250, 500 € over 1000, 2000, 4000 residents
        assert by_code["P11"].value == D("0.25") and by_code["P12"].value == D("0.13")
        assert by_code["P21"].value == D("0.13") and by_code["P11"].text == "0,25\u00a0€"
        # summed up to the districts: D1 = 500 € / 3000 residents needs district residents → no value
        districts = dashboard.map_data(planner, "bezirk", f"budget:{budget.pk}")
        assert all(r.value is None for r in districts.regions)

    def test_delta_between_two_runs(self, city, planner, budget):
        first = budget.adoptions.get().run
        budget.total = D("1100.00")
        budget.save()
        second = run_allocation(budget.pk)
        data = dashboard.map_data(planner, "planungsraum", f"delta:{first.pk}:{second.pk}")
        by_code = {r.code: r for r in data.regions}
        # 250/250/500 € → 275/275/550 €: +10 % each, "Zunahme bis 10 %"
        assert by_code["P11"].value == D("25.00") and by_code["P11"].text == "+25,00\u00a0€ (+10,0\u00a0%)"
        assert [(c.label, c.count, c.hatched) for c in data.classes] == [
            ("Abnahme um mehr als 10 %", 0, True), ("Abnahme bis 10 %", 0, True), ("unverändert", 0, False),
            ("Zunahme bis 10 %", 3, False), ("Zunahme um mehr als 10 %", 0, False)]
        assert dashboard.map_data(planner, "bezirk", f"delta:{first.pk}:{second.pk}").regions[0].text == \
            "nicht in der Verteilung"
        with pytest.raises(dashboard.MetricError):
            dashboard.map_data(planner, "planungsraum", f"delta:{first.pk}:999999")

    @pytest.mark.parametrize("metric", ["indicator:nope", "index:nope", "budget:999999", "budget:x", "what:ever",
                                        "delta:1", "delta:x:y"])
    def test_unknown_metric(self, city, planner, metric):
        with pytest.raises(dashboard.MetricError):
            dashboard.map_data(planner, "planungsraum", metric)

    def test_quantiles_of_many_values(self):
        breaks, classes = dashboard.quantile_classes([D(i) for i in range(1, 101)], 0, "")
        assert breaks == [D(20), D(40), D(60), D(80), D(100)]
        assert classes[0].label == "1 bis 20" and classes[1].label == "21 bis 40"
        assert len({c.color for c in classes}) == 5


class TestMapDataApi:
    url = "/api/v1/map-data/"

    def test_values_as_json(self, city, planner):
        client = client_for(planner)
        body = client.get(self.url, {"level": "planungsraum", "metric": "indicator:quote"}).json()
        assert body["period"] == "2021" and len(body["classes"]) == 3
        row = next(r for r in body["regions"] if r["code"] == "P12")
        assert row == {"code": "P12", "name": "Nord-Ost", "url": "/raeume/P12/", "value": "7.500000",
                       "text": "7,5\u00a0%", "class_index": 1}

    def test_errors_name_the_parameter(self, city, planner):
        client = client_for(planner)
        assert client.get(self.url).json() == {"level": ["Pflichtangabe."], "metric": ["Pflichtangabe."]}
        response = client.get(self.url, {"level": "nope", "metric": "indicator:quote"})
        assert response.status_code == 400 and "nope" in response.json()["detail"]

    def test_anonymous_refused(self, city):
        assert Client().get(self.url, {"level": "planungsraum", "metric": "indicator:quote"}).status_code in (401, 403)

    def test_scoped_to_the_region_lead(self, city, region_lead):
        body = client_for(region_lead).get(self.url, {"level": "planungsraum", "metric": "indicator:quote"}).json()
        assert {r["code"] for r in body["regions"]} <= {"P11", "P12", "P21"}

    def test_documented_as_one_object(self, planner):
        schema = client_for(planner).get("/api/v1/schema/", {"format": "json"}).json()
        ok = schema["paths"]["/api/v1/map-data/"]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"] == {"$ref": "#/components/schemas/MapData"}
        names = {p["name"]: p.get("required", False) for p in schema["paths"]["/api/v1/map-data/"]["get"]["parameters"]}
        assert names == {"level": True, "metric": True, "period": False}

    def test_constant_queries(self, city, planner, django_assert_max_num_queries):
        client = client_for(planner)
        client.get(self.url, {"level": "planungsraum", "metric": "indicator:quote"})
        with django_assert_max_num_queries(10):
            assert client.get(self.url, {"level": "planungsraum", "metric": "indicator:quote"}).status_code == 200


class TestCoverage:
    def test_places_per_thousand_of_the_target_ages(self, city, planner, org_a, tree):
        youth = FieldOfActionFactory(key="jugend", name="Jugend")
        sub = FieldOfActionFactory(key="jugend-kita", name="Kita", parent=youth)
        ServiceFactory(organization=org_a, fields=[sub], regions=[tree["P11"]], capacity=30, age_min=0, age_max=5)
        ServiceFactory(organization=org_a, fields=[youth], regions=[tree["D1"]], capacity=20, age_min=6, age_max=14)
        ServiceFactory(organization=org_a, fields=[youth], capacity=5, city_wide=True, age_min=0, age_max=5,
                       status="closed")
        fields, rows = dashboard.coverage(planner, "planungsraum")
        column = [f.key for f in fields].index("jugend")
        by_code = {r.code: r.cells[column] for r in rows}
        # P11: 30 + 20 places for ages 0–14 (bands under 6 and 6–15: 100 + 150 residents) → 200.0 per 1,000
        assert (by_code["P11"].services, by_code["P11"].places, by_code["P11"].population) == (2, 50, D(250))
        assert by_code["P11"].per_thousand == D("200.0")
        # P12 only gets the district's offering: 20 places for the 200 residents aged 6 to 15 → 100.0
        assert by_code["P12"].per_thousand == D("100.0") and by_code["P12"].population == D(200)
        assert by_code["P21"].services == 0 and by_code["P21"].per_thousand is None


class TestPages:
    pages = ["/uebersicht/karte/", "/uebersicht/budget/", "/uebersicht/versorgung/"]

    @pytest.mark.parametrize("url", pages)
    def test_staff_read_providers_do_not(self, city, url, planner, viewer, region_lead, provider_editor_a):
        for user in (planner, viewer, region_lead):
            assert client_for(user).get(url).status_code == 200
        assert client_for(provider_editor_a).get(url).status_code == 403
        assert Client().get(url).status_code == 302

    def test_map_page(self, city, planner):
        html = client_for(planner).get("/uebersicht/karte/", {"ebene": "planungsraum",
                                                                "kennzahl": "indicator:quote"}).content.decode()
        assert 'data-values-url="/api/v1/map-data/?level=planungsraum&amp;metric=indicator%3Aquote"' in html
        assert 'data-geo-url="/api/v1/regions/?format=geojson&amp;level=planungsraum"' in html
        assert "Tabelle zur Karte: Quote je Planungsraum" in html and "12,0\u00a0%" in html
        assert "9,6 bis 12,0\u00a0%" not in html and "12,0\u00a0%" in html  # the table's classes

    def test_budget_page_sums(self, city, planner, budget):
        html = client_for(planner).get("/uebersicht/budget/").content.decode()
        assert "350,50\u00a0€" in html  # spent
        assert "1.000,00\u00a0€" in html and "649,50\u00a0€" in html  # allocated, remaining
        assert reverse("api:budget-utilisation-utilisation", args=[budget.pk]) in html

    def test_home_key_figures(self, city, planner):
        html = client_for(planner).get("/", {"jahr": "2027"}).content.decode()
        assert "Auf einen Blick: Haushaltsjahr 2027" in html
        assert "1.000,00&nbsp;€" in html and "350,50&nbsp;€" in html and "649,50&nbsp;€" in html
        assert "35,1&nbsp;%" in html

    def test_exports(self, city, planner):
        client = client_for(planner)
        response = client.get("/uebersicht/budget/", {"export": "raeume", "format": "csv"})
        assert response["Content-Disposition"].startswith('attachment; filename="budget-2027-raeume-')
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
        assert rows[0] == ["region", "code", "allocated", "spent", "remaining", "percent"]
        assert rows[1][:4] == ["Nord-West", "P11", "250,00", "150,50"]
        assert rows[-1][0] == "Summe" and rows[-1][2:4] == ["1000,00", "350,50"]
        response = client.get("/uebersicht/karte/", {"ebene": "planungsraum", "kennzahl": "indicator:quote",
                                                     "export": "karte", "format": "xlsx"})
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        values = list(sheet.values)
        assert values[0] == ("region", "code", "value", "text", "class")
        assert values[1][:3] == ("Nord-West", "P11", 2.5)
        months = client.get("/uebersicht/budget/", {"export": "monate", "format": "csv"}).content.decode("utf-8-sig")
        assert "März 2027;83,34;250,50" in months
        assert client.get("/uebersicht/budget/", {"export": "nope", "format": "csv"}).status_code == 404
        assert client.get("/uebersicht/budget/", {"export": "raeume", "format": "pdf"}).status_code == 404
        coverage = client.get("/uebersicht/versorgung/", {"ebene": "planungsraum", "export": "versorgung"})
        assert coverage.status_code == 200 and coverage.content.decode("utf-8-sig").startswith("region;code;")

    @pytest.mark.parametrize("url", ["/", *pages])
    def test_query_counts(self, city, planner, url, django_assert_max_num_queries, org_a, tree):
        ServiceFactory(organization=org_a, regions=[tree["P11"]], capacity=10)
        client = client_for(planner)
        client.get(url)
        with django_assert_max_num_queries(20):
            assert client.get(url).status_code == 200

    def test_rows_as_escaped_html(self):
        table = DataTable("t", "T", [Column("a", "A"), Column("b", "B", MONEY), Column("c", "C")],
                          rows=[[Cell("<b>X</b>", "/x/?a=1&b=2", note="K&1"), D("1234.5"), None]])
        assert table.body_html() == (
            '<tr><th scope="row"><a href="/x/?a=1&amp;b=2">&lt;b&gt;X&lt;/b&gt;</a> <span class="muted">(K&amp;1)</span>'
            '</th><td class="num">1.234,50\u00a0€</td><td>–</td></tr>')

    def test_lazy_texts_export(self):
        from django.utils.translation import gettext_lazy

        table = DataTable("t", "T", [Column("a", "A")], rows=[[gettext_lazy("aktiv")]])
        assert table.export_rows() == [["aktiv"]] and type(table.export_rows()[0][0]) is str

    def test_a_cell_with_a_link(self):
        table = DataTable("t", "T", [Column("a", "A"), Column("b", "B", MONEY)], rows=[[Cell("X", "/x/"), D("1")]])
        assert next(iter(table.html_rows()))[0] == {"text": "X", "url": "/x/", "note": "", "numeric": False,
                                                    "header": True}
        assert table.export_rows() == [["X", D("1")]]


class TestBudgetPage:
    def test_map_and_table_per_resident(self, city, planner, budget, django_assert_max_num_queries):
        client = client_for(planner)
        html = client.get(f"/budgets/{budget.pk}/").content.decode()
        assert f'data-values-url="/api/v1/map-data/?level=planungsraum&amp;metric=budget%3A{budget.pk}"' in html
        assert "Zuweisung je Einwohner (Einwohner: „ew_gesamt“, Stand 2022)" in html
        rows = list(csv.reader(io.StringIO(client.get(f"/budgets/{budget.pk}/", {
            "export": "je-einwohner", "format": "csv"}).content.decode("utf-8-sig")), delimiter=";"))
        assert rows[0] == ["region", "code", "allocated", "residents", "per_resident"]
        assert rows[1:] == [["Nord-West", "P11", "250,00", "1000", "0,25"],
                            ["Nord-Ost", "P12", "250,00", "2000", "0,13"],
                            ["Süd-Mitte", "P21", "500,00", "4000", "0,13"]]
        # the API's map values are the table's
        body = client.get("/api/v1/map-data/", {"level": "planungsraum", "metric": f"budget:{budget.pk}"}).json()
        assert [r["text"] for r in body["regions"]] == ["0,25\u00a0€", "0,13\u00a0€", "0,13\u00a0€"]
        assert body["title"] == "Jugendhilfe 2027: Zuweisung je Einwohner"
