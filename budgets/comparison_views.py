"""Pages comparing allocations of a budget (German UI):

- "Vergleich": two stored runs region by region (``services.run_totals`` and
  ``services.compare``), as a table and as a map of the differences;
- "Was wäre, wenn?": a draft variant of the budget's rules computed with
  ``services.what_if`` beside the adopted run. Nothing is stored: no rule, no
  run, no adoption changes.

Access like the other budget pages: a budget the user does not see is 404;
what-if, like "Neu berechnen", needs the right to change the budget (403).
"""

import secrets
from decimal import Decimal

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from core.access import Action
from core.tables import MONEY, PERCENT, Cell, Column, DataTable, attach_export_urls, export_response, tables_response
from regions.models import Indicator, Region

from . import engine, exports, services
from .choices import Part, RulePart, RunStatus
from .forms import MAX_TERMS, RunCompareForm, WhatIfRuleForm, WhatIfTermFormSet, plain_decimal
from .models import AllocationRun, Budget, RuleTerm
from .views import money, part_label, rule_queryset

RUN_CHOICES_LIMIT = 100


# --- Shared by the budget sub-pages ------------------------------------------------------


class BudgetPageMixin(LoginRequiredMixin):
    """A page below one budget: ``self.budget`` from ``Budget.objects.for_user``
    (404 when the user does not see it); with ``require_change`` also 403 when
    they see it but may not change it (like ``BudgetActionView``)."""

    nav = "budgets"
    require_change = False
    permission_message = _("Nur die Planung darf dieses Budget ändern.")

    def get_budget(self) -> Budget:
        if getattr(self, "budget", None) is not None:
            return self.budget
        user = self.request.user
        budget = (
            Budget.objects.for_user(user, Action.VIEW)
            .select_related("field", "scope_region", "target_level")
            .with_adopted_run()
            .filter(pk=self.kwargs["pk"])
            .first()
        )
        if budget is None:
            raise Http404
        self.can_change = Budget.objects.for_user(user, Action.CHANGE).filter(pk=budget.pk).exists()
        if self.require_change and not self.can_change:
            raise PermissionDenied(self.permission_message)
        self.budget = budget
        return budget

    def get_context_data(self, **kwargs):
        budget = self.get_budget()
        kwargs.setdefault("nav", self.nav)
        kwargs.setdefault("budget", budget)
        kwargs.setdefault("can_change", self.can_change)
        return super().get_context_data(**kwargs)


def signed_money(value) -> str:
    """+12,50 € / −3,00 € / 0,00 € (a real minus sign, read as "minus")."""
    if value is None:
        return "–"
    value = Decimal(value)
    sign = "+" if value > 0 else "\u2212" if value < 0 else ""
    return sign + money(abs(value))


def signed_percent(value) -> str:
    if value is None:
        return "–"
    value = Decimal(value)
    sign = "+" if value > 0 else "\u2212" if value < 0 else ""
    return f"{sign}{number_format(abs(value), decimal_pos=1)}\u00a0%"


def change_percent(a: Decimal, b: Decimal) -> Decimal | None:
    """(b − a) in percent of a, one decimal, as ``services.compare`` does."""
    return ((b - a) * 100 / a).quantize(Decimal("0.1")) if a else None


def comparison_rows(rows: list[dict]) -> dict:
    """``services.compare`` rows with their texts, classes and totals."""
    out = []
    for row in rows:
        out.append({
            **row,
            "a_text": money(row["a"]), "b_text": money(row["b"]),
            "delta_text": signed_money(row["delta"]), "percent_text": signed_percent(row["delta_percent"]),
            "class": delta_class(row["delta"], row["delta_percent"]),
        })
    total_a = sum((r["a"] for r in rows), Decimal(0))
    total_b = sum((r["b"] for r in rows), Decimal(0))
    return {
        "rows": out,
        "totals": {"a": total_a, "b": total_b, "delta": total_b - total_a,
                   "delta_percent": change_percent(total_a, total_b)},
        "total_a": money(total_a), "total_b": money(total_b),
        "total_delta": signed_money(total_b - total_a),
        "total_percent": signed_percent(change_percent(total_a, total_b)),
        "changed": sum(1 for r in rows if r["delta"]),
    }


def comparison_table(result: dict, *, key: str, caption: str, label_a: str, label_b: str, label_delta: str,
                     has_a: bool = True, links: bool = True) -> DataTable:
    """The rows of ``comparison_rows`` as a file: region, code, the two amounts,
    the difference b − a and the change in percent of a; the sums as the
    footer. Without A (``has_a`` false: no run to compare with) A and the
    difference are empty, as on the page."""
    rows = []
    for row in result["rows"]:
        name = Cell(row["name"], reverse("region-detail", args=[row["region"]])) if links else row["name"]
        rows.append([name, row["region"], row["a"] if has_a else None, row["b"],
                     row["delta"] if has_a else None, row["delta_percent"]])
    totals = result["totals"]
    return DataTable(
        key=key, caption=caption,
        columns=[Column("region", gettext("Raum")), Column("code", gettext("Schlüssel")),
                 Column("amount_a", label_a, MONEY), Column("amount_b", label_b, MONEY),
                 Column("difference", label_delta, MONEY),
                 Column("change_percent", gettext("Veränderung in %"), PERCENT)],
        rows=rows,
        footer=[gettext("Summe"), "", totals["a"] if has_a else None, totals["b"],
                totals["delta"] if has_a else None, totals["delta_percent"]],
    )


# --- Map of differences ------------------------------------------------------------------

STRONG_PERCENT = Decimal(10)
#: class → (label, fill, hatched). Fills from a colour-blind-safe diverging scale
#: (orange: less, purple: more); decreases are also hatched, so the direction is
#: not told by colour alone.
DELTA_CLASSES = {
    "down-strong": (_("Abnahme um mehr als 10 %"), "#b35806", True),
    "down": (_("Abnahme bis 10 %"), "#f1a340", True),
    "same": (_("unverändert"), "#f7f7f7", False),
    "up": (_("Zunahme bis 10 %"), "#998ec3", False),
    "up-strong": (_("Zunahme um mehr als 10 %"), "#542788", False),
}


def delta_class(delta: Decimal, percent: Decimal | None) -> str:
    if not delta:
        return "same"
    strong = percent is None or abs(percent) > STRONG_PERCENT
    if delta > 0:
        return "up-strong" if strong else "up"
    return "down-strong" if strong else "down"


WHATIF_SECONDS = 3600


def remember_variant(user, budget: Budget, base_run: AllocationRun, rows: list[dict]) -> str:
    """Keep a what-if result (never stored in the database) for an hour in the
    cache, for its map: /api/v1/map-data/?metric=whatif:<token> reads it back
    for the same user. Returns the token."""
    token = secrets.token_urlsafe(16)
    cache.set(f"whatif:{token}", {
        "user": user.pk, "budget": budget.pk, "base_run": base_run.pk,
        "rows": [{k: row[k] for k in ("region", "name", "a", "b", "delta", "delta_percent")} for row in rows],
    }, WHATIF_SECONDS)
    return token


def remembered_variant(user, token: str) -> dict | None:
    entry = cache.get(f"whatif:{token}")
    return entry if entry is not None and entry["user"] == user.pk else None


def succeeded_runs(budget: Budget) -> list[AllocationRun]:
    """The budget's succeeded runs, newest first (the newest ``RUN_CHOICES_LIMIT``
    and the adopted one)."""
    runs = list(
        AllocationRun.objects.filter(budget=budget, status=RunStatus.SUCCEEDED)
        .only("pk", "budget_id", "created_at", "status")
        .order_by("-created_at", "-pk")[:RUN_CHOICES_LIMIT]
    )
    adopted = getattr(budget, "adopted_run_id", None)
    if adopted is not None and all(r.pk != adopted for r in runs):
        runs += list(AllocationRun.objects.filter(pk=adopted).only("pk", "budget_id", "created_at", "status"))
    return runs


class BudgetCompareView(BudgetPageMixin, TemplateView):
    """GET ``?a=RUN&b=RUN``: two succeeded runs of the budget region by region
    (A defaults to the adopted run, B to the newest succeeded run)."""

    template_name = "budgets/budget_compare.html"

    def get(self, request, *args, **kwargs):
        context = self.get_context_data(**kwargs)
        tables = [context["table"]] if context.get("table") else []
        return tables_response(request, tables, f"{exports.file_stem(self.budget)}-vergleich",
                               lambda: self.render_to_response(context))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        budget = self.budget
        runs = succeeded_runs(budget)
        adopted = budget.adopted_run_id
        context.update(runs=runs, form=None, result=None)
        if not runs:
            return context
        default_b = runs[0].pk
        default_a = adopted if adopted is not None else (runs[1].pk if len(runs) > 1 else runs[0].pk)
        data = {"a": self.request.GET.get("a") or default_a, "b": self.request.GET.get("b") or default_b}
        form = RunCompareForm(data, runs=runs, adopted_id=adopted)
        context["form"] = form
        if not form.is_valid():
            return context
        by_pk = {r.pk: r for r in runs}
        run_a, run_b = by_pk[form.cleaned_data["a"]], by_pk[form.cleaned_data["b"]]
        totals_a = services.run_totals(run_a)
        totals_b = totals_a if run_b.pk == run_a.pk else services.run_totals(run_b)
        result = comparison_rows(services.compare(totals_a, totals_b))
        visible = Region.objects.for_user(self.request.user, Action.VIEW)
        context.update(
            result=result,
            table=comparison_table(
                result, key="vergleich",
                caption=gettext("Beträge je Raum: Berechnung #%(a)s (A) und #%(b)s (B)") % {"a": run_a.pk, "b": run_b.pk},
                label_a=gettext("Betrag A (#%(run)s)") % {"run": run_a.pk},
                label_b=gettext("Betrag B (#%(run)s)") % {"run": run_b.pk}, label_delta=gettext("Differenz (B − A)"),
            ),
            run_a=run_a, run_b=run_b, adopted_id=adopted, same_run=run_a.pk == run_b.pk,
            # the map is drawn in the browser from /api/v1/map-data/?metric=delta:<a>:<b>
            map_metric=f"delta:{run_a.pk}:{run_b.pk}" if result["rows"] and visible.filter(
                level=budget.target_level_id, boundary__isnull=False).exists() else "",
            map_title=gettext("Veränderung von Berechnung #%(a)s zu #%(b)s") % {"a": run_a.pk, "b": run_b.pk},
        )
        return context


# --- What-if -------------------------------------------------------------------------------

TERM_FIELDS = ("kind", "weight", "indicator", "factor_indicator", "period")


class BudgetWhatIfView(BudgetPageMixin, TemplateView):
    """GET: the budget's rules as an editable draft. POST: compute the draft
    (``services.what_if``) and show it beside the adopted run (or the newest
    succeeded run). Nothing is stored. Only for users who may change the
    budget."""

    template_name = "budgets/budget_what_if.html"
    require_change = True
    permission_message = _("Nur die Planung darf Varianten der Verteilung durchrechnen.")

    def get(self, request, *args, **kwargs):
        self.get_budget()
        export_response(request, [], stem="")  # the result exists only after a POST: ?export= is 404 here
        return self.render_to_response(self.get_context_data(entries=self.entries(None)))

    def post(self, request, *args, **kwargs):
        """Compute the variant; with ``?export=variante&format=csv|xlsx`` (the
        result's download buttons post the computed data again) answer the
        file of the result table instead of the page."""
        budget = self.get_budget()
        entries = self.entries(self.with_blank_slots(request.POST))
        context = {"entries": entries}
        valid = all(e["form"].is_valid() for e in entries) & all(e["terms"].is_valid() for e in entries)
        if valid:
            try:
                variant = services.what_if(budget, self.variant_rules(entries))
            except engine.AllocationError as e:
                context["allocation_error"] = str(e)
            else:
                context.update(self.result(variant))
        else:
            context["error_count"] = sum(
                len(e["form"].errors) + e["terms"].total_error_count() for e in entries
            )
        tables = [context["table"]] if context.get("table") else []
        exported = export_response(request, tables, stem=f"{exports.file_stem(budget)}-was-waere-wenn")
        if exported is not None:
            return exported
        if tables:
            attach_export_urls(request, tables)
            tables[0].post_data = [(name, value) for name, values in request.POST.lists()
                                   if name != "csrfmiddlewaretoken" for value in values]
        return self.render_to_response(self.get_context_data(**context))

    # -- forms ----------------------------------------------------------------------

    def rules(self) -> list:
        if not hasattr(self, "_rules"):
            self._rules = list(rule_queryset().filter(budget=self.budget))
        return self._rules

    def indicators(self) -> dict[int, Indicator]:
        """Every indicator the user sees (one query), and those the rules use."""
        if not hasattr(self, "_indicators"):
            found = {i.pk: i for i in Indicator.objects.for_user(self.request.user, Action.VIEW)
                     .only("pk", "key", "name").order_by("name", "key")}
            for rule in self.rules():
                for term in rule.terms.all():
                    for ind in (term.indicator, term.factor_indicator):
                        if ind is not None:
                            found.setdefault(ind.pk, ind)
            self._indicators = found
        return self._indicators

    def entries(self, data) -> list[dict]:
        """One entry per stored rule (or one draft rule for all parts when there
        is none): its label, form, terms formset and bounds."""
        choices = [(pk, f"{ind.name} ({ind.key})") for pk, ind in self.indicators().items()]
        rules = self.rules() or [None]
        out = []
        for rule in rules:
            part = rule.part if rule is not None else RulePart.ALL.value
            initial = {"base_amount": rule.base_amount, "missing": rule.missing} if rule else {
                "base_amount": Decimal("0.00"), "missing": "refuse"}
            terms_initial = [
                {"kind": t.kind, "weight": plain_decimal(t.weight), "indicator": t.indicator_id,
                 "factor_indicator": t.factor_indicator_id, "period": t.period}
                for t in rule.terms.all()
            ] if rule else []
            out.append({
                "part": part,
                "label": RulePart(part).label,
                "rule": rule,
                "form": WhatIfRuleForm(data, prefix=part, initial=initial),
                "terms": WhatIfTermFormSet(data, prefix=f"{part}-t", initial=terms_initial,
                                           indicator_choices=choices),
                "bounds": [
                    {"region": b.region, "floor": money(b.floor), "cap": money(b.cap)} for b in rule.bounds.all()
                ] if rule else [],
            })
        return out

    def with_blank_slots(self, post):
        """The POST data with one empty term slot after the last filled one, so
        another term can be added after each computation (no JavaScript)."""
        data = post.copy()
        parts = [r.part for r in self.rules()] or [RulePart.ALL.value]
        for part in parts:
            key = f"{part}-t-TOTAL_FORMS"
            try:
                n = int(data.get(key, ""))
            except ValueError:
                continue  # the formset reports the broken management form
            if 0 <= n < MAX_TERMS and (n == 0 or any(data.get(f"{part}-t-{n - 1}-{f}") for f in TERM_FIELDS)):
                data[key] = str(n + 1)
        return data

    def variant_rules(self, entries) -> dict:
        indicators = self.indicators()
        specs = {}
        for entry in entries:
            rule_data = entry["form"].cleaned_data
            terms = services.Rows(
                RuleTerm(kind=t["kind"], weight=t["weight"], indicator=indicators.get(t["indicator"]),
                         factor_indicator=indicators.get(t["factor_indicator"]), period=t["period"] or "",
                         order=n)
                for n, t in enumerate(entry["terms"].terms())
            )
            bounds = services.Rows(entry["rule"].bounds.all()) if entry["rule"] is not None else services.Rows()
            specs[entry["part"]] = services.RuleSpec(
                pk=f"variant-{entry['part']}", base_amount=rule_data["base_amount"], missing=rule_data["missing"],
                terms=terms, bounds=bounds, part=entry["part"],
            )
        rules = {}
        for part in Part:
            rule = specs.get(part.value) or specs.get(RulePart.ALL)
            if rule is not None:
                rules[part.value] = rule
        return rules

    # -- result ---------------------------------------------------------------------

    def result(self, variant: services.Computation) -> dict:
        budget = self.budget
        base_run = None
        if budget.adopted_run_id is not None:
            base_run = AllocationRun.objects.only("pk", "created_at", "budget_id").get(pk=budget.adopted_run_id)
        else:
            base_run = (AllocationRun.objects.filter(budget=budget, status=RunStatus.SUCCEEDED)
                        .only("pk", "created_at", "budget_id").order_by("-created_at", "-pk").first())
        base = services.run_totals(base_run) if base_run is not None else {}
        names = dict(budget.target_regions().values_list("code", "name"))
        totals = variant.totals()
        # every target region, also those a rule left out (excluded: 0 €)
        variant_totals = {code: {"name": name, "total": totals.get(code, Decimal("0.00"))}
                          for code, name in names.items()}
        compared = comparison_rows(services.compare(base, variant_totals))
        map_metric = ""
        if base_run is not None and Region.objects.filter(level=budget.target_level_id, boundary__isnull=False).exists():
            map_metric = "whatif:" + remember_variant(self.request.user, budget, base_run, compared["rows"])
        excluded = [
            {"part": part_label(part), "regions": [
                {"code": code, "name": names.get(code, code), "reason": reason} for code, reason in sorted(r.excluded.items())
            ]}
            for part, r in variant.parts.items() if r.excluded
        ]
        return {
            "computed": True,
            "base_run": base_run,
            "base_adopted": base_run is not None and base_run.pk == budget.adopted_run_id,
            "result": compared,
            "table": comparison_table(
                compared, key="variante", caption=gettext("Beträge je Raum: aktuell und in der Variante"),
                label_a=gettext("aktuell (#%(run)s)") % {"run": base_run.pk} if base_run else gettext("aktuell"),
                label_b=gettext("Variante"), label_delta=gettext("Differenz"), has_a=base_run is not None,
                links=False,
            ),
            "excluded": excluded,
            "map_metric": map_metric,
            "variant_parts": [{"label": part_label(k), "amount": money(v)} for k, v in variant.part_amounts.items()],
        }

