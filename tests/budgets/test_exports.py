"""Exports of a budget's adopted run: CSV for German Excel, XLSX and a Fiscal
Data Package; access per persona; no adopted run gives 404 with a message."""

import csv
import io
import json
import zipfile
from datetime import date
from decimal import Decimal as D

import pytest
from openpyxl import load_workbook

from budgets.choices import Part
from budgets.models import Expenditure
from budgets.services import adopt, run_allocation
from tests.budgets.test_pages import budget, client_for, make_budget, run  # noqa: F401 - fixtures
from tests.factories import IndicatorValueFactory

pytestmark = pytest.mark.django_db
KINDS = ("export.csv", "export.xlsx", "fiscal-data-package.zip")


@pytest.fixture
def adopted(budget, run, planner):  # noqa: F811 - fixtures
    adopt(run, planner)
    return budget


def url(budget, kind):  # noqa: F811
    return f"/budgets/{budget.pk}/{kind}"


def to_cents(value) -> D:
    return D(str(value)).quantize(D("0.01"))


class TestAccess:
    @pytest.mark.parametrize("persona", ["planner", "viewer"])
    @pytest.mark.parametrize("kind", KINDS)
    def test_download(self, adopted, personas, persona, kind):
        response = client_for(personas[persona]).get(url(adopted, kind))
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith(f'attachment; filename="budget-{adopted.pk}-jugendhilfe')

    @pytest.mark.parametrize("kind", KINDS)
    def test_anonymous_is_sent_to_login(self, adopted, kind):
        response = client_for(None).get(url(adopted, kind))
        assert response.status_code == 302 and "/anmelden/" in response["Location"]

    @pytest.mark.parametrize("kind", KINDS)
    def test_hidden_budget_is_404(self, tree, levels, scoped_planner, planner, kind):
        hidden, need = make_budget(tree, levels, scope="D1", name="Nordbudget")
        for code in ("P11", "P12"):
            IndicatorValueFactory(indicator=need, region=tree[code], period="2022-06-30", value=5)
        adopt(run_allocation(hidden.pk), planner)
        assert client_for(scoped_planner).get(url(hidden, kind)).status_code == 404
        assert client_for(planner).get(url(hidden, kind)).status_code == 200

    @pytest.mark.parametrize("kind", KINDS)
    def test_no_adopted_run_is_404_with_message(self, budget, run, planner, kind):  # noqa: F811
        response = client_for(planner).get(url(budget, kind))
        assert response.status_code == 404
        assert "keine Berechnung beschlossen" in response.content.decode()
        english = client_for(planner, language="en").get(url(budget, kind))
        assert english.status_code == 404 and "nothing to export" in english.content.decode()

    def test_detail_page_links_exports_only_when_adopted(self, budget, run, planner):  # noqa: F811
        page = client_for(planner).get(f"/budgets/{budget.pk}/").content.decode()
        assert url(budget, "export.csv") not in page
        adopt(run, planner)
        page = client_for(planner).get(f"/budgets/{budget.pk}/").content.decode()
        for kind in KINDS:
            assert url(budget, kind) in page


class TestCsv:
    def test_german_excel_format_and_sums(self, adopted, viewer):
        content = client_for(viewer).get(url(adopted, "export.csv")).content
        assert content.startswith(b"\xef\xbb\xbf")
        text = content.decode("utf-8-sig")
        assert "\r\n" in text and text.count("\r\n") == text.count("\n")
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
        assert rows[0] == ["region_code", "region_name", "part", "amount"]
        assert len(rows) == 1 + 3 * 3  # 3 regions × 3 parts, no total row
        assert {r[0] for r in rows[1:]} == {"P11", "P12", "P21"}
        assert all("," in r[3] and "." not in r[3] for r in rows[1:])
        sums = {}
        for _code, _name, part, amount in rows[1:]:
            sums[part] = sums.get(part, D(0)) + D(amount.replace(",", "."))
        assert sums == adopted.part_amounts()

    def test_reads_the_adopted_run_not_a_newer_one(self, adopted, planner):
        adopted.total = D("2000.00")
        adopted.save()
        run_allocation(adopted.pk)
        text = client_for(planner).get(url(adopted, "export.csv")).content.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))[1:]
        assert sum(D(r[3].replace(",", ".")) for r in rows) == D("1000.00")

    def test_queries_do_not_grow_with_regions(self, adopted, planner, django_assert_max_num_queries):
        client = client_for(planner)
        with django_assert_max_num_queries(12):
            client.get(url(adopted, "export.csv"))


class TestXlsx:
    def test_sheets_format_and_totals(self, adopted, viewer, planner, run):  # noqa: F811
        content = client_for(viewer).get(url(adopted, "export.xlsx")).content
        wb = load_workbook(io.BytesIO(content))
        assert wb.sheetnames == ["Zuweisungen", "Berechnung"]
        ws = wb["Zuweisungen"]
        header = [c.value for c in ws[1]]
        assert header[:2] == ["Raumcode", "Raum"] and header[-1] == "Gesamt"
        assert header[2:5] == [str(p.label) for p in Part]
        assert all(c.font.bold for c in ws[1])
        assert ws.freeze_panes == "C2"
        data = list(ws.iter_rows(min_row=2, values_only=True))
        assert [r[0] for r in data] == ["P11", "P12", "P21"]
        assert ws.cell(row=2, column=3).number_format == '#,##0.00 "€"'
        parts = adopted.part_amounts()
        for i, p in enumerate(Part):
            assert sum(to_cents(r[2 + i]) for r in data) == parts[p.value]
        for r in data:
            assert to_cents(r[5]) == sum(to_cents(v) for v in r[2:5])
        assert sum(to_cents(r[5]) for r in data) == adopted.total

        calc = {r[0]: r[1] for r in wb["Berechnung"].iter_rows(values_only=True) if r and r[0]}
        assert calc["Berechnung"] == run.pk
        assert calc["Prüfsumme der Eingänge"] == run.input_hash
        assert calc["beschlossen von"] == (planner.get_full_name() or planner.username)
        assert calc["beschlossen am"] is not None
        rows = list(wb["Berechnung"].iter_rows(values_only=True))
        terms = [r for r in rows if r[0] in {p.value for p in Part}]
        assert {(r[4], to_cents(r[5])) for r in terms} == {("indicator", D("0.60")), ("equal", D("0.40"))}


class TestFiscalDataPackage:
    def open(self, client, budget):  # noqa: F811
        response = client.get(url(budget, "fiscal-data-package.zip"))
        assert response.status_code == 200 and response["Content-Type"] == "application/zip"
        return zipfile.ZipFile(io.BytesIO(response.content))

    def test_descriptor_and_allocations(self, adopted, viewer):
        zf = self.open(client_for(viewer), adopted)
        assert sorted(zf.namelist()) == ["allocations.csv", "datapackage.json"]
        package = json.loads(zf.read("datapackage.json"))
        assert package["profile"] == "fiscal-data-package"
        assert package["name"] == f"jugendhilfe-2027-{adopted.pk}"
        assert package["title"] == "Jugendhilfe 2027"
        [resource] = package["resources"]
        assert resource["name"] == "allocations" and resource["path"] == "allocations.csv"
        assert resource["format"] == "csv"
        fields = {f["name"]: f["type"] for f in resource["schema"]["fields"]}
        assert fields == {"region_code": "string", "region_name": "string", "part": "string",
                          "fiscal_year": "year", "amount": "number"}
        measure = package["model"]["measures"]["amount"]
        assert {k: measure[k] for k in ("source", "currency", "factor", "direction", "phase")} == {
            "source": "amount", "currency": "EUR", "factor": 1, "direction": "expenditure", "phase": "approved"}
        dims = package["model"]["dimensions"]
        assert dims["region"]["primaryKey"] == "code" and dims["region"]["dimensionType"] == "location"
        assert dims["region"]["attributes"] == {"code": {"source": "region_code"}, "name": {"source": "region_name"}}
        assert dims["part"]["dimensionType"] == "classification"
        assert dims["fiscal_year"]["dimensionType"] == "datetime"
        # every source of the model is a field of the resource
        sources = {a["source"] for d in dims.values() for a in d["attributes"].values()} | {measure["source"]}
        assert sources <= set(fields)

        rows = list(csv.DictReader(io.StringIO(zf.read("allocations.csv").decode("utf-8"))))
        assert len(rows) == 9 and {r["fiscal_year"] for r in rows} == {"2027"}
        assert sum(D(r["amount"]) for r in rows) == adopted.total
        for key, amount in adopted.part_amounts().items():
            assert sum(D(r["amount"]) for r in rows if r["part"] == key) == amount

    def test_executed_resource_with_expenditures(self, adopted, tree, planner):
        for region, part, amount in (("P11", "case_specific", "100.50"), ("P11", "case_specific", "-0.50"),
                                     ("P21", "preventive", "20.00")):
            Expenditure.objects.create(budget=adopted, region=tree[region], part=part, category="Personal",
                                       booking_date=date(2027, 3, 1), amount=D(amount))
        zf = self.open(client_for(planner), adopted)
        package = json.loads(zf.read("datapackage.json"))
        assert [r["path"] for r in package["resources"]] == ["allocations.csv", "executed.csv"]
        executed = package["model"]["measures"]["executed"]
        assert executed["phase"] == "executed" and executed["currency"] == "EUR"
        assert executed["resource"] == "executed"
        rows = list(csv.DictReader(io.StringIO(zf.read("executed.csv").decode("utf-8"))))
        assert [(r["region_code"], r["part"], r["amount"]) for r in rows] == [
            ("P11", "case_specific", "100.00"), ("P21", "preventive", "20.00")]
