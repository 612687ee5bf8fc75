"""Exports of a budget's adopted run: CSV (German Excel), XLSX and a Fiscal
Data Package (datapackage.json + CSV).

Everything is read from the stored ``Allocation`` rows of the adopted run (one
query) and its snapshot, never from a fresh computation, so an export shows
exactly what was adopted.
"""

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext

from .choices import Part
from .models import Adoption, Allocation, Budget, Expenditure

PART_KEYS = [p.value for p in Part]
CSV_HEADER = ["region_code", "region_name", "part", "amount"]
FDP_ALLOCATION_FIELDS = ["region_code", "region_name", "part", "fiscal_year", "amount"]
MONEY_FORMAT = '#,##0.00 "€"'


@dataclass
class ExportData:
    budget: Budget
    adoption: Adoption
    allocations: list[Allocation]

    @property
    def run(self):
        return self.adoption.run


def adopted_export(budget: Budget) -> ExportData | None:
    """The budget's latest adoption with the run's allocations, or None if no
    run is adopted."""
    adoption = (
        budget.adoptions.select_related("run", "adopted_by").order_by("-adopted_at", "-pk").first()
    )
    if adoption is None:
        return None
    allocations = list(
        Allocation.objects.filter(run=adoption.run_id)
        .select_related("region")
        .only("part", "amount", "region__code", "region__name")
        .order_by("region__code", "part")
    )
    return ExportData(budget=budget, adoption=adoption, allocations=allocations)


def file_stem(budget: Budget) -> str:
    return f"budget-{budget.pk}-{slugify(budget.name) or 'budget'}-{budget.fiscal_year}"


def decimal_comma(amount: Decimal) -> str:
    return f"{amount:.2f}".replace(".", ",")


# --- CSV (German Excel) -------------------------------------------------------------


def allocations_csv(data: ExportData) -> bytes:
    """UTF-8 with BOM, ';' as delimiter, CRLF, decimal comma: one row per region
    and part, no total row."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for a in data.allocations:
        writer.writerow([a.region.code, a.region.name, a.part, decimal_comma(a.amount)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- XLSX ---------------------------------------------------------------------------


def _region_rows(allocations: list[Allocation]) -> list[tuple]:
    """(code, name, {part: amount}) per region, in region code order."""
    rows: dict[int, tuple] = {}
    for a in allocations:
        row = rows.setdefault(a.region_id, (a.region.code, a.region.name, {}))
        row[2][a.part] = a.amount
    return list(rows.values())


def _naive_local(value):
    return timezone.localtime(value).replace(tzinfo=None) if value else None


def allocations_xlsx(data: ExportData) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    wb = Workbook()
    ws = wb.active
    ws.title = "Zuweisungen"
    header = [gettext("Raumcode"), gettext("Raum"), *[str(Part(k).label) for k in PART_KEYS], gettext("Gesamt")]
    ws.append(header)
    for cell in ws[1]:
        cell.font = bold
    for code, name, amounts in _region_rows(data.allocations):
        values = [amounts.get(k) for k in PART_KEYS]
        ws.append([code, name, *values, sum((v for v in values if v is not None), Decimal(0))])
    for row in ws.iter_rows(min_row=2, min_col=3):
        for cell in row:
            cell.number_format = MONEY_FORMAT
    ws.freeze_panes = "C2"
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 32
    for i in range(3, len(header) + 1):
        ws.column_dimensions[get_column_letter(i)].width = 22

    calc = wb.create_sheet("Berechnung")
    run, adoption, budget = data.run, data.adoption, data.budget
    adopted_by = adoption.adopted_by
    facts = [
        (gettext("Budget"), budget.name),
        (gettext("Haushaltsjahr"), budget.fiscal_year),
        (gettext("Berechnung"), run.pk),
        (gettext("beschlossen am"), _naive_local(adoption.adopted_at)),
        (gettext("beschlossen von"), (adopted_by.get_full_name() or adopted_by.username) if adopted_by else "–"),
        (gettext("Prüfsumme der Eingänge"), run.input_hash),
        (gettext("Gesamtbetrag"), Decimal(run.snapshot.get("budget", {}).get("total", "0"))),
    ]
    for label, value in facts:
        calc.append([label, value])
        calc.cell(row=calc.max_row, column=1).font = bold
    calc.cell(row=4, column=2).number_format = "DD.MM.YYYY HH:MM"
    calc.cell(row=7, column=2).number_format = MONEY_FORMAT
    calc.append([])
    rule_header = [gettext("Teil"), gettext("Regel"), gettext("Sockelbetrag je Raum"), gettext("fehlende Werte"),
                   gettext("Art"), gettext("Gewicht"), gettext("Indikator"), gettext("Faktor"), gettext("Zeitraum")]
    calc.append(rule_header)
    for cell in calc[calc.max_row]:
        cell.font = bold
    for rule in run.snapshot.get("rules", []):
        terms = rule.get("terms") or [{}]
        for term in terms:
            calc.append([
                rule.get("part"), rule.get("rule"), Decimal(rule.get("base_amount") or 0), rule.get("missing"),
                term.get("kind"), Decimal(term["weight"]) if term.get("weight") else None,
                term.get("indicator") or "", term.get("factor_indicator") or "", term.get("period") or "",
            ])
            calc.cell(row=calc.max_row, column=3).number_format = MONEY_FORMAT
    calc.column_dimensions["A"].width = 26
    calc.column_dimensions["B"].width = 66
    for letter in "CDEFGHI":
        calc.column_dimensions[letter].width = 18

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- Fiscal Data Package ------------------------------------------------------------


def _plain_csv(header: list[str], rows) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _schema() -> dict:
    return {"fields": [
        {"name": "region_code", "type": "string", "title": "Region code"},
        {"name": "region_name", "type": "string", "title": "Region name"},
        {"name": "part", "type": "string", "title": "Budget part",
         "constraints": {"enum": PART_KEYS}},
        {"name": "fiscal_year", "type": "year", "title": "Fiscal year"},
        {"name": "amount", "type": "number", "title": "Amount (EUR)", "decimalChar": "."},
    ]}


def _measure(resource: str, phase: str, title: str) -> dict:
    return {"source": "amount", "resource": resource, "title": title, "currency": "EUR", "factor": 1,
            "direction": "expenditure", "phase": phase}


def datapackage(data: ExportData, executed: bool) -> dict:
    budget = data.budget
    resources = [{"name": "allocations", "path": "allocations.csv", "format": "csv", "mediatype": "text/csv",
                  "encoding": "utf-8", "profile": "tabular-data-resource", "schema": _schema()}]
    measures = {"amount": _measure("allocations", "approved", "Adopted allocation")}
    if executed:
        resources.append({"name": "executed", "path": "executed.csv", "format": "csv", "mediatype": "text/csv",
                          "encoding": "utf-8", "profile": "tabular-data-resource", "schema": _schema()})
        measures["executed"] = _measure("executed", "executed", "Expenditures (executed)")
    return {
        "profile": "fiscal-data-package",
        "name": slugify(f"{budget.name}-{budget.fiscal_year}-{budget.pk}"),
        "title": f"{budget.name} {budget.fiscal_year}",
        "description": f"Adopted allocation run #{data.run.pk} (input hash {data.run.input_hash}).",
        "countryCode": "DE",
        "fiscalPeriod": {"start": f"{budget.fiscal_year}-01-01", "end": f"{budget.fiscal_year}-12-31"},
        "resources": resources,
        "model": {
            "measures": measures,
            "dimensions": {
                "region": {
                    "attributes": {"code": {"source": "region_code"}, "name": {"source": "region_name"}},
                    "primaryKey": "code", "dimensionType": "location",
                },
                "part": {
                    "attributes": {"part": {"source": "part"}},
                    "primaryKey": "part", "dimensionType": "classification",
                },
                "fiscal_year": {
                    "attributes": {"year": {"source": "fiscal_year"}},
                    "primaryKey": "year", "dimensionType": "datetime",
                },
            },
        },
    }


def fiscal_data_package(data: ExportData, executed: bool = True) -> bytes:
    """A zip with datapackage.json, allocations.csv (phase approved) and, when
    the budget has expenditures and ``executed`` (staff only: the spending of
    every organisation), executed.csv (their sums per region and part)."""
    budget = data.budget
    year = budget.fiscal_year
    allocations = _plain_csv(
        FDP_ALLOCATION_FIELDS,
        ([a.region.code, a.region.name, a.part, year, f"{a.amount:.2f}"] for a in data.allocations),
    )
    spent = [] if not executed else list(
        Expenditure.objects.filter(budget=budget)
        .values("region__code", "region__name", "part")
        .annotate(amount=Sum("amount"))
        .order_by("region__code", "part")
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("datapackage.json", json.dumps(datapackage(data, executed=bool(spent)), ensure_ascii=False,
                                                   indent=2))
        zf.writestr("allocations.csv", allocations)
        if spent:
            zf.writestr("executed.csv", _plain_csv(
                FDP_ALLOCATION_FIELDS,
                ([s["region__code"], s["region__name"], s["part"], year, f"{s['amount']:.2f}"] for s in spent),
            ))
    return out.getvalue()
