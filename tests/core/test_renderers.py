"""The CSV/XLSX export renderers (core/api/renderers.py): the table they build,
the cell formats, and the exports of the regions and budgets lists (their
other formats — JSON pages, GeoJSON — unchanged)."""

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook
from rest_framework import serializers

from budgets.models import Expenditure
from core.api.renderers import Table, csv_cell, flatten, typed
from tests.conftest import client_for
from tests.factories import IndicatorFactory, IndicatorValueFactory, RegionFactory

API = "/api/v1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline=""), delimiter=";"))


def read_xlsx(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == XLSX
    table = [list(r) for r in load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True)]
    return table[0], [dict(zip(table[0], r, strict=True)) for r in table[1:]]


# --- units ---------------------------------------------------------------------------------


class Inner(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=6, decimal_places=2)
    day = serializers.DateField()


class Outer(serializers.Serializer):
    name = serializers.CharField()
    inner = Inner()
    secret = serializers.CharField(write_only=True)
    tags = serializers.ListField(child=serializers.CharField())
    at = serializers.DateTimeField()


class FakeView:
    def get_serializer(self):
        return Outer()


class TestTable:
    def test_flatten(self):
        assert flatten({"a": 1, "b": {"c": 2, "d": {"e": 3}}, "f": {}}) == {"a": 1, "b.c": 2, "b.d.e": 3}

    def test_columns_and_types_from_the_serializer(self):
        rows = [{"name": "x", "inner": {"amount": "12.50", "day": "2026-01-31"}, "tags": ["a", "b"],
                 "at": "2026-01-31T10:00:00+01:00", "extra": {"k": 1}}]
        table = Table(rows, FakeView())
        assert table.columns == ["name", "inner.amount", "inner.day", "tags", "at", "extra.k"]
        assert table.rows == [["x", D("12.50"), date(2026, 1, 31), "a, b", datetime(2026, 1, 31, 10, 0), 1]]

    def test_empty_list_has_the_header(self):
        assert Table([], FakeView()).columns == ["name", "inner.amount", "inner.day", "tags", "at"]
        assert Table([], None).columns == []

    def test_typed(self):
        assert typed(None, None) is None
        assert typed(["a", None, 3], None) == "a, , 3"
        assert json.loads(typed([{"k": 1}], None)) == [{"k": 1}]
        assert typed("", "decimal") is None and typed("", None) == ""
        assert typed("x", "decimal") == "x"  # not a number: kept as text

    @pytest.mark.parametrize("value, text", [
        (None, ""), (True, "ja"), (False, "nein"), (D("-1234.50"), "-1234,50"), (0.25, "0,25"), (7, "7"),
        (datetime(2026, 1, 31, 9, 5), "2026-01-31 09:05:00"), (date(2026, 1, 31), "2026-01-31"),
        ("0101", "0101"), ("=1+1", "'=1+1"), ("+49 30 1", "'+49 30 1"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"), ("a=b", "a=b"),
    ])
    def test_csv_cell(self, value, text):
        assert csv_cell(value) == text


# --- regions and budgets lists ------------------------------------------------------------------


@pytest.fixture
def users(personas):
    return personas


@pytest.mark.django_db
class TestRegionsExport:
    def test_regions_csv_and_xlsx(self, tree, users):
        RegionFactory(code="0101", name="Mitte 1", level=tree["P11"].level, parent=tree["D1"])
        api = client_for(users["viewer"])
        table = read_csv(api.get(f"{API}/regions/", {"format": "csv", "ancestor": "D1"}))
        assert {r["code"] for r in table} == {"D1", "P11", "P12", "0101"}
        assert "boundary" not in table[0] and table[0]["has_boundary"] == "nein"
        header, body = read_xlsx(api.get(f"{API}/regions/", {"format": "xlsx"}))
        assert "0101" in [r["code"] for r in body]  # a code stays text, leading zero and all
        assert len(body) == 7

    def test_other_formats_unchanged(self, tree, users):
        tree["P11"].set_boundary({"type": "Polygon", "coordinates": [[[13, 52], [14, 52], [14, 53], [13, 52]]]})
        tree["P11"].save()
        api = client_for(users["viewer"])
        body = api.get(f"{API}/regions/", {"format": "geojson"}).json()
        assert body["type"] == "FeatureCollection" and [f["id"] for f in body["features"]] == ["P11"]
        body = api.get(f"{API}/regions/", {"page_size": 2}).json()
        assert body["count"] == 6 and len(body["results"]) == 2
        assert api.get(f"{API}/regions/P11/", {"format": "csv"}).status_code == 404

    def test_indicator_values_decimal_comma(self, tree, users):
        ind = IndicatorFactory(key="quote", name="Quote", unit="%", rollup="none")
        IndicatorValueFactory(indicator=ind, region=tree["P11"], period="2022", value="12.5")
        table = read_csv(client_for(users["viewer"]).get(f"{API}/indicator-values/", {"format": "csv"}))
        assert [(r["indicator"], r["region"], r["value"]) for r in table][0][:2] == ("quote", "P11")
        assert table[0]["value"].startswith("12,5")

    def test_anonymous_gets_json_refusal(self, tree):
        response = client_for(None).get(f"{API}/regions/", {"format": "csv"})
        assert response.status_code in (401, 403)
        assert response["Content-Type"].startswith("application/json") and set(response.json()) == {"detail"}

    def test_query_count_constant(self, tree, users, levels):
        def count():
            with CaptureQueriesContext(connection) as ctx:
                response = client_for(type(users["viewer"]).objects.get(pk=users["viewer"].pk)).get(
                    f"{API}/regions/", {"format": "xlsx"})
            assert response.status_code == 200
            return len(ctx)

        small = count()
        for i in range(40):
            RegionFactory(level=levels["planungsraum"], parent=tree["D2"], code=f"X{i:03d}")
        assert count() == small


@pytest.mark.django_db
class TestBudgetsExport:
    def test_budgets_csv_flattens_part_amounts(self, budget, users):
        table = read_csv(client_for(users["viewer"]).get(f"{API}/budgets/", {"format": "csv"}))
        row = table[0]
        assert row["name"] == "Jugendhilfe" and row["total"] == "1000,00"
        assert row["part_amounts.case_specific"] == "700.00"  # a dict of strings stays as given
        assert row["scope_region"] == "CITY"

    def test_rules_and_expenditures(self, budget, users, tree):
        Expenditure.objects.create(budget=budget, region=tree["P11"], part="preventive", category="Personal",
                                   booking_date=date(2027, 3, 1), amount=D("-12.30"), text="=Storno")
        api = client_for(users["planner"])
        rules = read_csv(api.get(f"{API}/allocation-rules/", {"format": "csv"}))
        assert json.loads(rules[0]["terms"])[0]["indicator"] == "kinder"
        header, body = read_xlsx(api.get(f"{API}/expenditures/", {"format": "xlsx"}))
        assert body[0]["amount"] == pytest.approx(-12.30) and body[0]["text"] == "=Storno"
        table = read_csv(api.get(f"{API}/expenditures/", {"format": "csv"}))
        assert (table[0]["amount"], table[0]["text"], table[0]["booking_date"]) == ("-12,30", "'=Storno", "2027-03-01")
        assert read_csv(api.get(f"{API}/allocation-runs/", {"format": "csv"})) == []
