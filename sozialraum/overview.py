"""The planner overview: four pages for planners, region leads and viewers
(providers have "Mein Träger") — key figures and worklists on the home page
(``views.home``), the map (level × indicator, index class or allocation per
resident), budget against spending by month and region, and coverage regions ×
fields of action. Each is one server-rendered page with its tables (CSV/XLSX
via ``?export=``) and charts/maps drawn by static/js/dashboard.js from
``/api/v1/``; each stays within 20 queries."""

from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from budgets.services import utilisation
from cooperation import access
from core.tables import DECIMAL, INT, MONEY, PERCENT, Cell, Column, DataTable, tables_response

from . import dashboard

MONTHS = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
          "November", "Dezember"]


def map_table(data: dashboard.MapData, level) -> DataTable:
    classes = data.classes
    return DataTable(
        key="karte", caption=_("Tabelle zur Karte: %(title)s je %(level)s") % {"title": data.title, "level": level.name},
        columns=[Column("region", _("Raum")), Column("code", _("Schlüssel")),
                 Column("value", _("Wert"), DECIMAL, decimals=2), Column("text", _("Anzeige")),
                 Column("class", _("Klasse"))],
        rows=[[Cell(r.name, r.url), r.code, r.value, r.text, classes[r.klass].label if r.klass is not None else ""]
              for r in data.regions],
        empty=_("Für diese Ebene gibt es keine Räume."),
    )


def spending_tables(budget, data) -> list[DataTable]:
    allocated = data["totals"]["allocated"]
    monthly_plan = None if allocated is None else split_months(allocated)
    cumulative, plan_cumulative, month_rows = Decimal("0.00"), Decimal("0.00"), []
    for i, row in enumerate(data["months"]):
        cumulative += row["spent"]
        if monthly_plan is not None:
            plan_cumulative += monthly_plan[i]
        month_rows.append([f"{MONTHS[i]} {budget.fiscal_year}", None if monthly_plan is None else monthly_plan[i],
                           row["spent"], None if monthly_plan is None else plan_cumulative, cumulative])
    months = DataTable(
        key="monate", caption=_("%(name)s: Plan und Ausgaben je Monat") % {"name": budget.name},
        columns=[Column("month", _("Monat")), Column("planned", _("Plan (Zuweisung ÷ 12)"), MONEY),
                 Column("spent", _("ausgegeben"), MONEY), Column("planned_cumulative", _("Plan kumuliert"), MONEY),
                 Column("spent_cumulative", _("ausgegeben kumuliert"), MONEY)],
        rows=month_rows,
    )
    by_region: dict[str, list] = {}
    for row in data["rows"]:
        r = by_region.setdefault(row["region"], [Cell(row["region_name"], reverse("region-detail", args=[row["region"]])),
                                                  row["region"], Decimal("0.00") if row["allocated"] is not None else None,
                                                  Decimal("0.00")])
        if row["allocated"] is not None:
            r[2] += row["allocated"]
        r[3] += row["spent"]
    region_rows = [[*r, None if r[2] is None else r[2] - r[3], percent(r[3], r[2])] for r in by_region.values()]
    totals = data["totals"]
    regions = DataTable(
        key="raeume", caption=_("%(name)s: zugewiesen und ausgegeben je Raum") % {"name": budget.name},
        columns=[Column("region", _("Raum")), Column("code", _("Schlüssel")),
                 Column("allocated", _("zugewiesen"), MONEY), Column("spent", _("ausgegeben"), MONEY),
                 Column("remaining", _("verbleibend"), MONEY), Column("percent", _("ausgeschöpft"), PERCENT)],
        rows=region_rows,
        footer=[_("Summe"), "", totals["allocated"], totals["spent"], totals["remaining"], totals["percent"]],
        empty=_("Noch keine Zuweisungen und keine Ausgaben."),
    )
    return [months, regions]


def split_months(total: Decimal) -> list[Decimal]:
    """A year's amount in twelve monthly cents that add up exactly."""
    cents = int((total * 100).to_integral_value())
    base, rest = divmod(cents, 12)
    return [Decimal(base + (1 if i < rest else 0)) / 100 for i in range(12)]


def percent(part: Decimal, whole: Decimal | None) -> Decimal | None:
    if not whole:
        return None
    return (part * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def coverage_table(level, fields, rows) -> DataTable:
    columns = [Column("region", _("Raum")), Column("code", _("Schlüssel")), Column("index_class", _("Indexklasse"))]
    for f in fields:
        columns += [Column(f"{f.key}_services", _("%(field)s: Angebote") % {"field": f.name}, INT),
                    Column(f"{f.key}_places", _("%(field)s: Plätze") % {"field": f.name}, INT),
                    Column(f"{f.key}_per_1000", _("%(field)s: Plätze je 1.000 Einwohner der Zielgruppe") % {
                        "field": f.name}, DECIMAL)]
    table_rows = []
    for r in rows:
        cells = [Cell(r.name, reverse("region-detail", args=[r.code])), r.code, r.index_class]
        for c in r.cells:
            cells += [c.services, c.places, c.per_thousand]
        table_rows.append(cells)
    return DataTable(key="versorgung", caption=_("Versorgung je %(level)s und Handlungsfeld") % {"level": level.name},
                     columns=columns, rows=table_rows, empty=_("Für diese Ebene gibt es keine Räume."))


class OverviewView(LoginRequiredMixin, TemplateView):
    """A page of the overview: the fiscal year (``?jahr=``) and the tables it
    answers ``?export=<table>&format=csv|xlsx`` for."""

    tab = ""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not access.is_staff_reader(request.user):
            raise PermissionDenied(_("Die Übersicht ist für Planung, Sozialraumleitungen und Lesezugriff."))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        user = request.user
        years = dashboard.fiscal_years(user)
        year = dashboard.choose_year(years, request.GET.get("jahr"))
        context = self.get_context_data(years=years, year=year, tab=self.tab, **self.data(request, year))
        tables = [t for t in context.get("table_list", []) if t is not None]
        context["tables"] = {t.key: t for t in tables}
        return tables_response(request, tables, f"{self.tab}-{year}", lambda: self.render_to_response(context))

    def data(self, request, year) -> dict:
        raise NotImplementedError


class MapView(OverviewView):
    template_name = "sozialraum/overview_map.html"
    tab = "karte"

    def data(self, request, year):
        user = request.user
        budgets = dashboard.year_budgets(user, year)
        levels = dashboard.map_levels()
        level = next((lv for lv in levels if lv.key == request.GET.get("ebene")), levels[0] if levels else None)
        choices = dashboard.metrics(user, budgets)
        keys = [m.key for m in choices]
        default = next((k for k in keys if k.startswith("index:")), keys[0] if keys else "")
        metric = request.GET.get("kennzahl") if request.GET.get("kennzahl") in keys else default
        data = None
        if level is not None and metric:
            try:
                data = dashboard.map_data(user, level.key, metric)
            except dashboard.MetricError:
                data = None
        return {"map_levels": levels, "map_level": level, "metrics": choices, "metric": metric, "map": data,
                "table_list": [map_table(data, level)] if data is not None else []}


class BudgetView(OverviewView):
    template_name = "sozialraum/overview_budget.html"
    tab = "budget"

    def data(self, request, year):
        budgets = dashboard.year_budgets(request.user, year)
        budget = next((b for b in budgets if str(b.pk) == request.GET.get("budget")), budgets[0] if budgets else None)
        if budget is None:
            return {"budgets": budgets, "budget": None}
        spending = utilisation(budget)
        return {"budgets": budgets, "budget": budget, "spending": spending,
                "table_list": spending_tables(budget, spending)}


class CoverageView(OverviewView):
    template_name = "sozialraum/overview_coverage.html"
    tab = "versorgung"

    def data(self, request, year):
        user = request.user
        levels = dashboard.coverage_levels()
        indices = dashboard.index_choices(user)
        index = next((i for i in indices if i.key == request.GET.get("index")), indices[0] if indices else None)
        default = next((lv for lv in levels if index and lv.pk == index.scope_level_id), levels[0] if levels else None)
        level = next((lv for lv in levels if lv.key == request.GET.get("ebene")), default)
        if level is None:
            return {"coverage_levels": levels, "coverage_level": None, "indices": indices, "index": index}
        fields, rows = dashboard.coverage(user, level.key, index.key if index else None)
        return {"coverage_levels": levels, "coverage_level": level, "indices": indices, "index": index,
                "table_list": [coverage_table(level, fields, rows)]}
