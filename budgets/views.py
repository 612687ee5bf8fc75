"""Pages of the budgets app: the list of social-space budgets, one budget with
its rules, allocation and runs, and "Wie wird gerechnet?" (German UI).

Thin views: rows come from ``for_user`` through the core base views, the list
filters with the API's FilterSet, recompute and adoption go through
``services``. The explanation reads the run's stored snapshot and allocations,
never a fresh computation, so it explains exactly what was computed.
"""

import re
from decimal import Decimal
from fractions import Fraction

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch, Sum
from django.http import Http404, HttpResponse, HttpResponseNotFound, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View

from cooperation.access import is_staff_reader
from core.access import Action
from core.tables import (
    DATE,
    DECIMAL,
    INT,
    MONEY,
    PERCENT,
    Cell,
    Column,
    DataTable,
    tables_response,
)
from core.views import ScopedDetailView, ScopedListView, history_rows
from regions.models import Indicator
from regions.views import format_period

from . import engine, exports, services
from .choices import BudgetStatus, MissingPolicy, Part, RulePart, RunStatus, SplitMode, TermKind, Trigger
from .filtersets import BudgetFilterSet
from .models import Allocation, AllocationRule, AllocationRun, Budget, RegionBound, RuleTerm
from .per_resident import per_resident_of_run

RUN_HISTORY_LIMIT = 20
# Keys of Allocation.breakdown besides the terms (written in German by the engine).
BASE_KEY, BOUND_KEY, ROUNDING_KEY = "Sockel", "Begrenzung", "Rundung"
FIXED_KEY_LABELS = {BASE_KEY: _("Sockel"), BOUND_KEY: _("Begrenzung"), ROUNDING_KEY: _("Rundung")}


def money(value) -> str:
    """An amount in the active language's number format with two decimals and
    the euro sign (German: 1.234.567,89 €); '–' for None."""
    if value is None or value == "":
        return "–"
    return f"{number_format(Decimal(value), decimal_pos=2, force_grouping=True)}\u00a0€"


def exact_money(value) -> str:
    """A breakdown amount: two decimals when it is whole cents, else the stored
    exact decimals (up to six), so the parts visibly add up."""
    value = Decimal(value)
    if value == value.quantize(Decimal("0.01")):
        return money(value)
    places = max(2, -value.normalize().as_tuple().exponent)
    return f"{number_format(value, decimal_pos=places, force_grouping=True)}\u00a0€".replace("-", "\u2212")


def number(value, places: int | None = None) -> str:
    """A plain number (input value, weight) without trailing zeros."""
    if value is None or value == "":
        return "–"
    value = Decimal(value)
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    else:
        value = value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()
    return number_format(value, force_grouping=True).replace("-", "\u2212")


def plain(value) -> Decimal | None:
    """A decimal for an export as ``number`` shows it: without trailing zeros
    (0.600000 × 100 → 60), never in exponent notation; None stays None."""
    if value is None or value == "":
        return None
    value = Decimal(value)
    return value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()


def percent(fraction: Fraction | Decimal, places: int = 2) -> str:
    value = Decimal(fraction.numerator) / Decimal(fraction.denominator) if isinstance(fraction, Fraction) else fraction
    return f"{number(value * 100, places)}\u00a0%"


def part_label(key: str) -> str:
    try:
        return str(Part(key).label)
    except ValueError:
        return key


def shown_run(budget: Budget):
    """(run, adopted?): the adopted run, else the newest succeeded run, else (None, False)."""
    runs = AllocationRun.objects.select_related("triggered_by")
    adopted_id = getattr(budget, "adopted_run_id", None)
    if adopted_id is not None:
        return runs.get(pk=adopted_id), True
    return runs.filter(budget=budget, status=RunStatus.SUCCEEDED).order_by("-created_at", "-pk").first(), False


def allocation_table(run: AllocationRun, part_keys: list[str]) -> dict:
    """Rows of region, amount per part and total, and the sums (one query)."""
    rows: dict[int, dict] = {}
    for a in Allocation.objects.filter(run=run).select_related("region").only(
        "part", "amount", "region__code", "region__name"
    ).order_by("region__code", "part"):
        row = rows.setdefault(a.region_id, {"region": a.region, "amounts": dict.fromkeys(part_keys), "total": Decimal(0)})
        row["amounts"][a.part] = a.amount
        row["total"] += a.amount
    sums = {k: sum((r["amounts"][k] or Decimal(0) for r in rows.values()), Decimal(0)) for k in part_keys}
    total = sum(sums.values(), Decimal(0))
    return {
        "rows": [
            {"region": r["region"], "amounts": [money(r["amounts"][k]) for k in part_keys], "total": money(r["total"])}
            for r in rows.values()
        ],
        "sums": [money(sums[k]) for k in part_keys],
        "total": money(total),
        "total_value": total,
    }


# --- List --------------------------------------------------------------------------


class BudgetListView(ScopedListView):
    model = Budget
    filterset_class = BudgetFilterSet
    template_name = "budgets/budget_list.html"
    nav = "budgets"

    def scoped_queryset(self, qs):
        return qs.select_related("field", "scope_region", "target_level").with_adopted_run()

    def get_filterset(self, queryset):
        filterset = super().get_filterset(queryset)
        fields = filterset.form.fields
        fields["status"].widget = forms.Select(choices=[("", _("alle")), *BudgetStatus.choices])
        return filterset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        for budget in context["object_list"]:
            budget.total_text = money(budget.total)
        return context


# --- Detail ------------------------------------------------------------------------


def rule_queryset():
    return AllocationRule.objects.prefetch_related(
        Prefetch("terms", queryset=RuleTerm.objects.select_related("indicator", "factor_indicator")),
        Prefetch("bounds", queryset=RegionBound.objects.select_related("region").order_by("region__code")),
    ).order_by("part")


def term_text(kind: str, weight, indicator_name: str = "", factor_name: str = "", period: str = "") -> str:
    """A term in plain words: '60 % nach dem Anteil am Indikator „Kinder“ (Stand 2022)'."""
    share = percent(Decimal(weight), places=None) if weight is not None else ""
    stand = gettext(" (Stand %(period)s)") % {"period": format_period(period)} if period else ""
    if kind == TermKind.EQUAL:
        return gettext("%(share)s zu gleichen Teilen") % {"share": share}
    if kind == TermKind.INDICATOR:
        return gettext("%(share)s nach dem Anteil am Indikator „%(indicator)s“") % {
            "share": share, "indicator": indicator_name} + stand
    if factor_name:
        return gettext("%(share)s nach Einwohnern („%(indicator)s“) × Faktor „%(factor)s“") % {
            "share": share, "indicator": indicator_name, "factor": factor_name} + stand
    return gettext("%(share)s nach Einwohnern („%(indicator)s“), je Kopf gleich") % {
        "share": share, "indicator": indicator_name} + stand


class BudgetDetailView(ScopedDetailView):
    model = Budget
    template_name = "budgets/budget_detail.html"
    nav = "budgets"

    def scoped_queryset(self, qs):
        return qs.select_related("field", "scope_region", "target_level").with_adopted_run().prefetch_related(
            Prefetch("rules", queryset=rule_queryset())
        )

    def get(self, request, *args, **kwargs):
        self.object = self.get_object()
        context = self.get_context_data(object=self.object)
        tables = [context["per_resident"]] if context["per_resident"] else []
        tables += [context["parts_table"], *[t for r in context["rules"] for t in (r["terms_table"], r["bounds_table"])],
                   context["runs_table"]]
        return tables_response(request, tables, exports.file_stem(self.object),
                               lambda: self.render_to_response(context))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        budget = self.object
        user = self.request.user
        part_keys = [p.value for p in Part]
        amounts = budget.part_amounts()
        rules = []
        for rule in budget.rules.all():
            rules.append({
                "rule": rule,
                "base": money(rule.base_amount),
                "terms": [
                    {"term": t, "weight": percent(t.weight, places=None),
                     "period": format_period(t.period) if t.period else gettext("neuester")}
                    for t in rule.terms.all()
                ],
                "bounds": [{"region": b.region, "floor": money(b.floor), "cap": money(b.cap)}
                           for b in rule.bounds.all()],
                "terms_table": terms_table(rule),
                "bounds_table": bounds_table(rule),
            })
        run, adopted = shown_run(budget)
        runs = list(budget.runs.select_related("triggered_by").order_by("-created_at", "-pk")[:RUN_HISTORY_LIMIT])
        for r in runs:
            r.duration_text = duration_text(r)
        context.update(
            active_run=active_run_status(runs),
            parts=[{"label": part_label(k), "amount": money(amounts[k]),
                    "setting": number(getattr(budget, k)) + ("\u00a0%" if budget.split_mode == "percent" else "\u00a0€")}
                   for k in part_keys],
            total_text=money(budget.total),
            rules=rules,
            run=run,
            run_adopted=adopted,
            part_labels=[part_label(k) for k in part_keys],
            table=allocation_table(run, part_keys) if run is not None else None,
            run_total_text=money(run.snapshot.get("budget", {}).get("total")) if run is not None else "",
            run_total_differs=run is not None and run.snapshot.get("budget", {}).get("total") != str(budget.total),
            runs=runs,
            runs_limited=len(runs) == RUN_HISTORY_LIMIT,
            can_change=Budget.objects.for_user(user, Action.CHANGE).filter(pk=budget.pk).exists(),
            is_staff_reader=is_staff_reader(user),
            history=history_rows(budget),
            per_resident=per_resident_table(budget) if adopted else None,
            parts_table=parts_table(budget, part_keys, amounts),
            runs_table=runs_table(runs, budget.adopted_run_id, limited=len(runs) == RUN_HISTORY_LIMIT),
        )
        return context


# The tables of the budget page as files (the page draws them itself; these hold the same rows, typed).


def parts_table(budget: Budget, part_keys: list[str], amounts: dict) -> DataTable:
    """"Teile des Budgets": the setting of each part (percent or euros, as the
    budget splits) and its amount; the total as the footer."""
    unit = "%" if budget.split_mode == SplitMode.PERCENT else "€"
    return DataTable(
        key="teile", caption=gettext("Teile des Budgets"),
        columns=[Column("part", gettext("Teil")), Column("setting", gettext("festgelegt"), DECIMAL, decimals=2),
                 Column("setting_unit", gettext("Einheit")), Column("amount", gettext("Betrag"), MONEY)],
        rows=[[part_label(k), plain(getattr(budget, k)), unit, amounts[k]] for k in part_keys],
        footer=[gettext("Summe"), None, "", budget.total],
    )


def _indicator_cell(indicator) -> Cell | None:
    return Cell(indicator.name, reverse("indicator-detail", args=[indicator.key])) if indicator is not None else None


def terms_table(rule: AllocationRule) -> DataTable:
    """"Verteilungsgrundlagen" of one rule: kind, weight in percent, indicator,
    factor and period (the stored period, "neuester" when none is fixed)."""
    rows = []
    for t in rule.terms.all():
        equal = t.kind == TermKind.EQUAL
        rows.append([t.get_kind_display(), plain(t.weight * 100), _indicator_cell(t.indicator),
                     _indicator_cell(t.factor_indicator), "" if equal else (t.period or gettext("neuester"))])
    return DataTable(
        key=f"grundlagen-{rule.part}", caption=gettext("Verteilungsgrundlagen"),
        columns=[Column("kind", gettext("Art")), Column("weight", gettext("Gewicht"), PERCENT, decimals=2),
                 Column("indicator", gettext("Indikator")), Column("factor", gettext("Faktor")),
                 Column("period", gettext("Zeitraum"))],
        rows=rows,
    )


def bounds_table(rule: AllocationRule) -> DataTable:
    """"Grenzen je Raum" of one rule."""
    return DataTable(
        key=f"grenzen-{rule.part}", caption=gettext("Grenzen je Raum"),
        columns=[Column("region", gettext("Raum")), Column("code", gettext("Schlüssel")),
                 Column("floor", gettext("Untergrenze"), MONEY), Column("cap", gettext("Obergrenze"), MONEY)],
        rows=[[b.region.name, b.region.code, b.floor, b.cap] for b in rule.bounds.all()],
    )


def runs_table(runs: list[AllocationRun], adopted_id, *, limited: bool) -> DataTable:
    """The run history: time (local, without zone: spreadsheets have none),
    status, adopted or not, duration in seconds, trigger, who, error."""
    caption = gettext("Berechnungen, neueste zuerst")
    if limited:
        caption += " " + gettext("(die %(n)s neuesten)") % {"n": len(runs)}
    rows = []
    for r in runs:
        seconds = None
        if r.started_at is not None and r.finished_at is not None:
            seconds = Decimal((r.finished_at - r.started_at).total_seconds()).quantize(Decimal("0.01"))
        who = (r.triggered_by.get_full_name() or r.triggered_by.username) if r.triggered_by else gettext("System")
        rows.append([r.pk, timezone.localtime(r.created_at).replace(tzinfo=None, microsecond=0), r.get_status_display(),
                     r.pk == adopted_id, seconds, r.get_trigger_display(), who, r.error])
    return DataTable(
        key="berechnungen", caption=caption,
        columns=[Column("run", "#", INT), Column("created_at", gettext("Zeitpunkt"), DATE),
                 Column("status", gettext("Status")), Column("adopted", gettext("beschlossen")),
                 Column("duration_seconds", gettext("Dauer"), DECIMAL, decimals=2),
                 Column("trigger", gettext("Anlass")), Column("triggered_by", gettext("ausgelöst von")),
                 Column("error", gettext("Fehler"))],
        rows=rows,
    )


def per_resident_table(budget: Budget) -> DataTable:
    """The adopted allocation per resident of the target regions (the table
    behind the page's map, whose values come from /api/v1/map-data/)."""
    regions, result = per_resident_of_run(budget.adopted_run_id)
    return DataTable(
        key="je-einwohner", caption=gettext("Zuweisung je Einwohner (Einwohner: „%(key)s“, Stand %(period)s)") % {
            "key": result.population_key, "period": format_period(result.period) if result.period else "–"},
        columns=[Column("region", gettext("Raum")), Column("code", gettext("Schlüssel")),
                 Column("allocated", gettext("zugewiesen"), MONEY), Column("residents", gettext("Einwohner"), INT),
                 Column("per_resident", gettext("je Einwohner"), MONEY)],
        rows=[[Cell(name, reverse("region-detail", args=[code])), code, result.allocated.get(pk),
               result.population.get(pk), result.per_resident.get(pk)] for pk, code, name in regions],
    )


def duration_text(run: AllocationRun) -> str:
    """How long a finished run took ("0,42 s"), '–' otherwise."""
    if run.started_at is None or run.finished_at is None:
        return "–"
    seconds = Decimal((run.finished_at - run.started_at).total_seconds()).quantize(Decimal("0.01"))
    return f"{number_format(seconds, decimal_pos=2)}\u00a0s"


def active_run_status(runs) -> dict | None:
    """The budget's waiting or running run (the oldest, which is worked on
    first) as a sentence for the status line, or None."""
    active = [r for r in runs if r.status in (RunStatus.QUEUED, RunStatus.RUNNING)]
    if not active:
        return None
    r = min(active, key=lambda r: (r.created_at, r.pk))
    if r.status == RunStatus.QUEUED:
        text = gettext("Berechnung #%(run)s wartet auf die Ausführung (angefordert %(time)s).") % {
            "run": r.pk, "time": formats.date_format(timezone.localtime(r.created_at), "H:i:s")}
    else:
        text = gettext("Berechnung #%(run)s läuft seit %(time)s.") % {
            "run": r.pk, "time": formats.date_format(timezone.localtime(r.started_at or r.created_at), "H:i:s")}
        if r.attempts > 1:
            text += " " + gettext("(Versuch %(n)s: der vorige wurde unterbrochen.)") % {"n": r.attempts}
    return {"id": r.pk, "status": r.status, "text": text}


class BudgetRunStatusView(LoginRequiredMixin, View):
    """GET: JSON of the budget's waiting/running run and its newest finished
    run, polled by static/js/run-status.js while a run is under way."""

    http_method_names = ["get", "head"]

    def get(self, request, pk):
        budget = Budget.objects.for_user(request.user, Action.VIEW).filter(pk=pk).first()
        if budget is None:
            raise Http404
        runs = list(budget.runs.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]))
        finished = budget.runs.filter(status__in=[RunStatus.SUCCEEDED, RunStatus.FAILED]).order_by(
            "-finished_at", "-pk").first()
        done_text = ""
        if finished is not None:
            done_text = (gettext("Berechnung #%(run)s ist fertig.") if finished.status == RunStatus.SUCCEEDED
                         else gettext("Berechnung #%(run)s ist fehlgeschlagen.")) % {"run": finished.pk}
        return JsonResponse({
            "active": active_run_status(runs),
            "finished": {"id": finished.pk, "status": finished.status, "text": done_text} if finished else None,
        })


class BudgetActionView(LoginRequiredMixin, View):
    """Base of the POST actions on a budget: 404 if the user does not see it,
    403 if they see it but may not change it."""

    http_method_names = ["post"]

    def get_budget(self, request, pk) -> Budget:
        budget = Budget.objects.for_user(request.user, Action.VIEW).filter(pk=pk).first()
        if budget is None:
            raise Http404
        if not Budget.objects.for_user(request.user, Action.CHANGE).filter(pk=pk).exists():
            raise PermissionDenied(_("Nur die Planung darf Budgets berechnen und beschließen."))
        return budget


class BudgetRecomputeView(BudgetActionView):
    """POST: "Neu berechnen" (runs once the request's transaction commits)."""

    def post(self, request, pk):
        budget = self.get_budget(request, pk)
        services.request_recompute([budget.pk], Trigger.MANUAL, request.user)
        messages.success(request, _("Neuberechnung angefordert. Der Stand wird unter „Berechnungen“ angezeigt."))
        return redirect("budget-detail", pk=budget.pk)


class BudgetAdoptView(BudgetActionView):
    """POST: adopt one succeeded run of the budget ("Beschließen")."""

    def post(self, request, pk, run_pk):
        budget = self.get_budget(request, pk)
        run = budget.runs.filter(pk=run_pk).first()
        if run is None:
            raise Http404
        try:
            services.adopt(run, request.user)
        except engine.AllocationError:
            messages.error(request, _("Nur eine fertige Berechnung kann beschlossen werden."))
        else:
            messages.success(request, _("Berechnung #%(run)s beschlossen.") % {"run": run.pk})
        return redirect("budget-detail", pk=budget.pk)


# --- "Wie wird gerechnet?" -----------------------------------------------------------


EXPLANATION_PAGE_SIZE = 100  # regions per page of "Wie wird gerechnet?"


def _term_column(term: dict) -> str:
    """The column header of a term's contribution (the equal term's label in
    the active language; the others are indicator names)."""
    return str(TermKind.EQUAL.label) if term["kind"] == TermKind.EQUAL else term["label"]


def explain_part(part_key: str, amount: Decimal, rule: dict, allocations: list, inputs: dict,
                 names: dict, result: "engine.Result", region_count: int, part_sum: Decimal) -> dict:
    """Words and a per-region table for one part of a run: the stored amounts
    of the shown regions (``allocations``), their inputs from the snapshot and
    their shares and breakdowns from the replay of the snapshot (``result``)."""
    values, periods, codes = inputs.get("values", {}), inputs.get("periods", {}), inputs.get("regions", [])
    index = {code: i for i, code in enumerate(codes)}
    terms = rule.get("terms", [])
    base = Decimal(rule.get("base_amount") or 0)
    rest = amount - base * region_count
    words = []
    for t in terms:
        period = periods.get(services.input_key(t["indicator"], t.get("period")), "") if t.get("indicator") else ""
        words.append(term_text(t["kind"], t["weight"], names.get(t.get("indicator"), t.get("indicator") or ""),
                               names.get(t.get("factor_indicator"), t.get("factor_indicator") or ""), period))
    # input columns: each series the terms use, once
    input_keys: list[tuple[str, str]] = []  # (series key, indicator key)
    for t in terms:
        for key in (t.get("indicator"), t.get("factor_indicator")):
            series = (services.input_key(key, t.get("period")), key) if key else None
            if series and series not in input_keys:
                input_keys.append(series)
    by_code = result.by_code()
    breakdowns = {a.region.code: by_code[a.region.code].breakdown for a in allocations if a.region.code in by_code}
    present = {k for b in breakdowns.values() for k in b}
    columns = [BASE_KEY] if BASE_KEY in present else []
    labels = dict(FIXED_KEY_LABELS)
    for t in terms:
        if t["label"] not in columns:
            columns.append(t["label"])
            labels[t["label"]] = _term_column(t)
    columns += [k for k in (BOUND_KEY, ROUNDING_KEY) if k in present]
    rows = []
    for a in allocations:
        code = a.region.code
        i = index.get(code)
        breakdown = breakdowns.get(code, {})
        rows.append({
            "region": a.region,
            "inputs": [number(values.get(skey, [])[i] if i is not None else None) for skey, _ in input_keys],
            "share": percent(by_code[code].share, places=4) if code in by_code else "–",
            "breakdown": [exact_money(breakdown[k]) if k in breakdown else "–" for k in columns],
            "amount": money(a.amount),
            "bound": a.bound,
        })
    bounds = rule.get("bounds", [])
    table = explanation_table(part_key, terms, input_keys, names, periods, columns, labels, allocations,
                              by_code, breakdowns, index, values, part_sum)
    return {
        "table": table,
        "key": part_key,
        "label": part_label(part_key),
        "amount": money(amount),
        "own_rule": rule.get("rule") != RulePart.ALL,
        "base": money(base),
        "base_value": base,
        "region_count": region_count,
        "base_total": money(base * region_count),
        "rest": money(rest),
        "terms": words,
        "missing_exclude": rule.get("missing") == MissingPolicy.EXCLUDE,
        "excluded": sorted(result.excluded.items()),
        "bounds": [{"region": b["region"], "floor": money(b["floor"]) if b.get("floor") else "",
                    "cap": money(b["cap"]) if b.get("cap") else ""} for b in bounds],
        "input_columns": [
            {"name": names.get(k, k), "period": format_period(periods.get(skey, ""))} for skey, k in input_keys
        ],
        "columns": [labels.get(k, k) for k in columns],
        "filler_columns": len(input_keys) + 1 + len(columns),
        "rows": rows,
        "sum": money(part_sum),
    }


def _exact(value) -> Decimal:
    """A breakdown amount as ``exact_money`` shows it: to the cent when it is
    whole cents, else its exact decimals."""
    value = Decimal(value)
    cents = value.quantize(Decimal("0.01"))
    return cents if value == cents else value.normalize()


def _snake(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


def _unique_key(key: str, used: set[str]) -> str:
    out, n = key, 2
    while out in used:
        out, n = f"{key}_{n}", n + 1
    used.add(out)
    return out


def _term_key(term: dict) -> str:
    """The export column of a term's contribution: term_equal, term_<indicator>
    or term_<indicator>_x_<factor> (indicator keys in snake_case)."""
    if term["kind"] == TermKind.EQUAL:
        return "term_equal"
    key = "term_" + _snake(term.get("indicator") or "")
    return key + ("_x_" + _snake(term["factor_indicator"]) if term.get("factor_indicator") else "")


BREAKDOWN_EXPORT_KEYS = {BASE_KEY: "base", BOUND_KEY: "bound_adjustment", ROUNDING_KEY: "rounding"}


def explanation_table(part_key, terms, input_keys, names, periods, columns, labels, allocations, by_code,
                      breakdowns, index, values, part_sum) -> DataTable:
    """The per-region table of one part as a file: the same rows as the page
    (the page's regions), inputs and breakdown exact (up to six decimals, as the
    page shows them), the share in percent to four decimals, the amount; the
    part's sum as the footer."""
    used = {"region", "code", "bound", "share", "amount"}
    export_columns = [Column("region", gettext("Raum")), Column("code", gettext("Schlüssel")),
                      Column("bound", gettext("Grenze"))]
    for skey, key in input_keys:
        period = format_period(periods.get(skey, ""))
        label = f"{names.get(key, key)} ({period})" if period else names.get(key, key)
        export_columns.append(Column(_unique_key("input_" + _snake(key), used), label, DECIMAL, decimals=6))
    export_columns.append(Column("share", gettext("Anteil"), PERCENT, decimals=4))
    term_by_label = {}
    for t in terms:
        term_by_label.setdefault(t["label"], t)
    for k in columns:
        key = BREAKDOWN_EXPORT_KEYS.get(k) or (_term_key(term_by_label[k]) if k in term_by_label else _snake(k))
        export_columns.append(Column(_unique_key(key, used), str(labels.get(k, k)), DECIMAL, decimals=6))
    export_columns.append(Column("amount", gettext("Betrag"), MONEY))
    bound_labels = {"floor": gettext("Untergrenze"), "cap": gettext("Obergrenze")}
    rows = []
    for a in allocations:
        code = a.region.code
        i = index.get(code)
        breakdown = breakdowns.get(code, {})
        share = None
        if code in by_code:
            fraction = by_code[code].share
            share = (Decimal(fraction.numerator) / Decimal(fraction.denominator) * 100).quantize(Decimal("0.0001"))
        rows.append([
            a.region.name, code, bound_labels.get(a.bound, ""),
            *[plain(values.get(skey, [])[i]) if i is not None else None for skey, _key in input_keys],
            share,
            *[_exact(breakdown[k]) if k in breakdown else None for k in columns],
            a.amount,
        ])
    return DataTable(
        key=f"teil-{part_key}",
        caption=gettext("%(part)s: Eingangswerte, Anteil und Zusammensetzung je Raum") % {"part": part_label(part_key)},
        columns=export_columns, rows=rows,
        footer=[gettext("Summe"), "", "", *[None] * (len(export_columns) - 4), part_sum],
    )


class BudgetExplanationView(ScopedDetailView):
    """ "Wie wird gerechnet?": the rule of the shown run in plain German with its
    numbers, and per region the inputs, share and breakdown — the amounts as
    stored, the breakdown derived from the run's snapshot (services.replay).
    The regions are shown a page at a time (EXPLANATION_PAGE_SIZE)."""

    model = Budget
    template_name = "budgets/budget_explanation.html"
    nav = "budgets"

    def scoped_queryset(self, qs):
        return qs.select_related("field", "scope_region", "target_level").with_adopted_run()

    def get(self, request, *args, **kwargs):
        self.object = self.get_object()
        context = self.get_context_data(object=self.object)
        tables = [p["table"] for p in context["parts"] if "table" in p]
        return tables_response(request, tables, exports.file_stem(self.object),
                               lambda: self.render_to_response(context))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        run, adopted = shown_run(self.object)
        context.update(run=run, run_adopted=adopted, parts=[])
        if run is None:
            return context
        snapshot = run.snapshot
        inputs = snapshot.get("inputs", {})
        rules = {r["part"]: r for r in snapshot.get("rules", [])}
        keys = {k for r in rules.values() for t in r.get("terms", [])
                for k in (t.get("indicator"), t.get("factor_indicator")) if k}
        names = dict(Indicator.objects.filter(key__in=keys).values_list("key", "name")) if keys else {}
        results = services.replay(run)
        # one page of regions (those with an allocation), the same for every part
        allocated_codes = sorted({a.code for r in results.values() for a in r.amounts})
        page = Paginator(allocated_codes, EXPLANATION_PAGE_SIZE).get_page(self.request.GET.get("page"))
        by_part: dict[str, list] = {}
        for a in Allocation.objects.filter(run=run, region__code__in=list(page.object_list)).select_related(
            "region"
        ).only("part", "amount", "bound", "region__code", "region__name").order_by("region__code"):
            by_part.setdefault(a.part, []).append(a)
        stored_sums = dict(Allocation.objects.filter(run=run).values("part").annotate(s=Sum("amount"))
                           .order_by().values_list("part", "s"))
        part_amounts = snapshot.get("budget", {}).get("parts", {})
        parts = []
        differs = []  # shown regions whose stored amount is not what the snapshot gives (never expected)
        for p in Part:
            amount = Decimal(part_amounts.get(p.value, "0"))
            rule = rules.get(p.value)
            if amount == 0 or rule is None or p.value not in results:
                parts.append({"key": p.value, "label": p.label, "amount": money(amount), "empty": True})
                continue
            result = results[p.value]
            by_code = result.by_code()
            differs += [f"{a.region.code} ({p.label})" for a in by_part.get(p.value, [])
                        if a.region.code not in by_code or by_code[a.region.code].amount != a.amount]
            parts.append(explain_part(p.value, amount, rule, by_part.get(p.value, []), inputs, names, result,
                                      region_count=len(result.amounts), part_sum=stored_sums.get(p.value, Decimal(0))))
        context.update(
            replay_differs=differs,
            total_text=money(snapshot.get("budget", {}).get("total")),
            parts=parts,
            page_obj=page, paginator=page.paginator, is_paginated=page.has_other_pages(),
            part_summary=[{"label": p.label, "amount": money(part_amounts.get(p.value))} for p in Part],
        )
        return context


# --- Exports of the adopted run ---------------------------------------------------------


class BudgetExportView(LoginRequiredMixin, View):
    """GET: a file of the budget's adopted run (``budgets.exports``). 404 if the
    user does not see the budget, or — with a message — if no run is adopted."""

    http_method_names = ["get", "head"]
    suffix = ""
    content_type = ""

    def render(self, data: "exports.ExportData") -> bytes:
        raise NotImplementedError

    def get(self, request, pk):
        budget = Budget.objects.for_user(request.user, Action.VIEW).filter(pk=pk).first()
        if budget is None:
            raise Http404
        data = exports.adopted_export(budget)
        if data is None:
            return HttpResponseNotFound(
                gettext("Für dieses Budget ist noch keine Berechnung beschlossen; es gibt nichts zu exportieren."),
                content_type="text/plain; charset=utf-8",
            )
        response = HttpResponse(self.render(data), content_type=self.content_type)
        response["Content-Disposition"] = f'attachment; filename="{exports.file_stem(budget)}{self.suffix}"'
        return response


class BudgetCsvExportView(BudgetExportView):
    suffix = ".csv"
    content_type = "text/csv; charset=utf-8"

    def render(self, data):
        return exports.allocations_csv(data)


class BudgetXlsxExportView(BudgetExportView):
    suffix = ".xlsx"
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def render(self, data):
        return exports.allocations_xlsx(data)


class BudgetFiscalDataPackageView(BudgetExportView):
    suffix = "-fiscal-data-package.zip"
    content_type = "application/zip"

    def render(self, data):
        # the spending of all organisations is for staff; provider staff get the allocations only
        return exports.fiscal_data_package(data, executed=is_staff_reader(self.request.user))
