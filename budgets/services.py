"""Budget workflows: gather a budget's inputs and run the allocation engine."""

import hashlib
import json
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import Max, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from regions.models import IndicatorValue

from . import engine
from .choices import Part, RulePart, RunStatus, TermKind, Trigger
from .models import Adoption, Allocation, AllocationRule, AllocationRun, Budget, Expenditure


@dataclass
class Computation:
    """The outcome of allocating every part of a budget (not yet stored)."""

    budget: Budget
    parts: dict[str, engine.Result]
    part_amounts: dict[str, Decimal]
    #: the inputs used: {"periods": {indicator key: period}, "values": {indicator key: {region code: str(value)}}}
    inputs: dict = field(default_factory=dict)

    def totals(self) -> dict[str, Decimal]:
        """Region code → amount over all parts."""
        out: dict[str, Decimal] = {}
        for result in self.parts.values():
            for a in result.amounts:
                out[a.code] = out.get(a.code, Decimal(0)) + a.amount
        return out


def rules_by_part(budget: Budget) -> dict[str, AllocationRule]:
    """The rule each part follows: its own, else the rule for all parts."""
    rules = {r.part: r for r in budget.rules.prefetch_related("terms__indicator", "terms__factor_indicator",
                                                              "bounds__region")}
    out = {}
    for part in Part:
        rule = rules.get(part.value) or rules.get(RulePart.ALL)
        if rule is not None:
            out[part.value] = rule
    return out


class Rows(list):
    """A list that answers ``.all()`` like a related manager (for unsaved rules)."""

    def all(self):
        return self


@dataclass
class RuleSpec:
    """An unsaved rule (a what-if variant) in the shape compute() reads."""

    pk: str
    base_amount: Decimal
    missing: str
    terms: Rows
    bounds: Rows


def compute(budget: Budget, rules: dict | None = None) -> Computation:
    """Allocate every part with a non-zero amount. ``rules``: part → rule to use
    instead of the stored ones (what-if). Raises engine.AllocationError with a
    German message when the inputs do not allow it."""
    regions = {r.pk: r.code for r in budget.target_regions().only("pk", "code")}
    if not regions:
        raise engine.AllocationError("Unter dem Gebiet liegen keine Räume der Verteilungsebene.")
    rules = rules_by_part(budget) if rules is None else rules
    part_amounts = budget.part_amounts()
    indicator_ids = {
        ind.pk
        for rule in rules.values()
        for term in rule.terms.all()
        for ind in (term.indicator, term.factor_indicator)
        if ind is not None
    }
    # one query for every value any rule needs, then the period per term
    values: dict[tuple[int, str], dict[str, Decimal]] = {}
    for ind_id, region_id, period, value in IndicatorValue.objects.filter(
        indicator_id__in=indicator_ids, region_id__in=list(regions)
    ).values_list("indicator_id", "region_id", "period", "value"):
        values.setdefault((ind_id, period), {})[regions[region_id]] = value
    latest = dict(
        IndicatorValue.objects.filter(indicator_id__in=indicator_ids, region_id__in=list(regions))
        .values("indicator_id").annotate(p=Max("period")).values_list("indicator_id", "p")
    ) if indicator_ids else {}
    inputs: dict = {"periods": {}, "values": {}}

    def series(indicator, period):
        period = period or latest.get(indicator.pk)
        if period is None:
            raise engine.AllocationError(f"Für „{indicator.name}“ gibt es in diesen Räumen keine Werte.")
        found = values.get((indicator.pk, period), {})
        inputs["periods"][indicator.key] = period
        inputs["values"][indicator.key] = {code: str(v) for code, v in sorted(found.items())}
        return {code: found.get(code) for code in regions.values()}

    def terms_of(rule) -> list[engine.Term]:
        terms = []
        for term in rule.terms.all():
            label = term.get_kind_display() if term.kind == TermKind.EQUAL else term.indicator.name
            if term.kind == TermKind.EQUAL:
                terms.append(engine.Term(engine.EQUAL, term.weight, label))
            elif term.kind == TermKind.INDICATOR:
                terms.append(engine.Term(engine.INDICATOR, term.weight, label, series(term.indicator, term.period)))
            else:
                factors = series(term.factor_indicator, term.period) if term.factor_indicator else None
                if term.factor_indicator:
                    label = f"{label} × {term.factor_indicator.name}"
                terms.append(
                    engine.Term(engine.PER_CAPITA, term.weight, label, series(term.indicator, term.period), factors)
                )
        return terms

    results = {}
    terms_by_rule: dict[int, list[engine.Term]] = {}
    cache: dict = {}  # parts under the same rule share their shares
    for part_key, amount in part_amounts.items():
        if amount == 0:
            continue
        rule = rules.get(part_key)
        if rule is None:
            raise engine.AllocationError(
                f"Für den Teil „{Part(part_key).label}“ ({amount} €) gibt es keinen Verteilungsschlüssel."
            )
        if rule.pk not in terms_by_rule:
            terms_by_rule[rule.pk] = terms_of(rule)
        bounds = list(rule.bounds.all())
        results[part_key] = engine.allocate(
            engine.Part(
                amount=amount,
                regions=sorted(regions.values()),
                terms=terms_by_rule[rule.pk],
                base=rule.base_amount,
                floors={b.region.code: b.floor for b in bounds if b.floor is not None},
                caps={b.region.code: b.cap for b in bounds if b.cap is not None},
                missing=rule.missing,
            ),
            cache=cache,
        )
    return Computation(budget=budget, parts=results, part_amounts=part_amounts, inputs=inputs)


# --- Runs ---------------------------------------------------------------------------

LOCK_NAMESPACE = 7401  # pg_advisory_xact_lock(namespace, budget id): one run per budget at a time


def rule_snapshot(budget: Budget, by_part: dict | None = None) -> dict:
    """Everything about the budget and its rules that decides the allocation."""
    rules = []
    for part, rule in sorted((by_part if by_part is not None else rules_by_part(budget)).items()):
        rules.append({
            "part": part,
            "rule": rule.part,
            "base_amount": str(rule.base_amount),
            "missing": rule.missing,
            "terms": [
                {"kind": t.kind, "weight": str(t.weight), "indicator": t.indicator.key if t.indicator else None,
                 "factor_indicator": t.factor_indicator.key if t.factor_indicator else None, "period": t.period}
                for t in rule.terms.all()
            ],
            "bounds": sorted(
                [{"region": b.region.code, "floor": str(b.floor) if b.floor is not None else None,
                  "cap": str(b.cap) if b.cap is not None else None} for b in rule.bounds.all()],
                key=lambda b: b["region"],
            ),
        })
    return {
        "budget": {"total": str(budget.total), "parts": {k: str(v) for k, v in budget.part_amounts().items()},
                   "scope_region": budget.scope_region.code, "target_level": budget.target_level.key},
        "rules": rules,
    }


def _hash(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def run_allocation(budget_id: int, trigger: str = Trigger.MANUAL, user_id: int | None = None) -> AllocationRun:
    """Compute and store a run of the budget, unless a finished run with the same
    inputs exists (then that one is returned). One run per budget at a time (an
    advisory lock); the run and its allocations are written in one transaction,
    so a run interrupted midway leaves nothing behind and is simply repeated."""
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, budget_id])
        budget = Budget.objects.select_related("scope_region", "target_level").get(pk=budget_id)
        started = timezone.now()
        rules = rules_by_part(budget)  # read once for the snapshot and the computation
        snapshot = rule_snapshot(budget, rules)
        try:
            result = compute(budget, rules=rules)
        except engine.AllocationError as e:
            snapshot["error"] = str(e)
            input_hash = _hash(snapshot)
            latest = budget.runs.order_by("-created_at", "-pk").first()
            if latest is not None and latest.status == RunStatus.FAILED and latest.input_hash == input_hash:
                return latest
            return AllocationRun.objects.create(
                budget=budget, status=RunStatus.FAILED, trigger=trigger, triggered_by_id=user_id, snapshot=snapshot,
                input_hash=input_hash, error=str(e), started_at=started, finished_at=timezone.now(),
            )
        snapshot["inputs"] = result.inputs
        input_hash = _hash(snapshot)
        existing = budget.runs.filter(status=RunStatus.SUCCEEDED, input_hash=input_hash).first()
        if existing is not None:
            return existing
        run = AllocationRun.objects.create(
            budget=budget, status=RunStatus.SUCCEEDED, trigger=trigger, triggered_by_id=user_id, snapshot=snapshot,
            input_hash=input_hash, started_at=started, finished_at=timezone.now(),
        )
        region_ids = dict(budget.target_regions().values_list("code", "pk"))
        Allocation.objects.bulk_create(
            [
                Allocation(run=run, region_id=region_ids[a.code], part=part, amount=a.amount,
                           breakdown={k: str(v) for k, v in a.breakdown.items()}, bound=a.bound or "")
                for part, part_result in result.parts.items()
                for a in part_result.amounts
            ],
            batch_size=2000,
        )
        return run


def request_recompute(budget_ids, trigger: str, user=None) -> None:
    """Ask for a recompute once the current transaction commits. Triggers that
    arrive together give runs with the same inputs; run_allocation turns all but
    the first into no-ops (same input hash)."""
    from .tasks import recompute_budget

    user_id = getattr(user, "pk", None)
    for budget_id in sorted(set(budget_ids)):
        transaction.on_commit(
            lambda b=budget_id: recompute_budget.apply_async(args=[b, trigger, user_id], countdown=RECOMPUTE_DELAY)
        )


RECOMPUTE_DELAY = 2  # seconds: lets a burst of changes settle into one run


@transaction.atomic
def adopt(run: AllocationRun, user) -> Adoption:
    """Make a finished run the budget's current allocation; the adoption is
    kept as a record (who, when)."""
    if run.status != RunStatus.SUCCEEDED:
        raise engine.AllocationError("Nur eine fertige Berechnung kann beschlossen werden.")
    return Adoption.objects.create(budget_id=run.budget_id, run=run, adopted_by=user)


# --- Utilisation (spent against allocated) -------------------------------------------

_NOT_SET = object()
CENT = Decimal("0.01")
TENTH = Decimal("0.1")


def _percent(spent: Decimal, allocated: Decimal | None) -> Decimal | None:
    if not allocated:
        return None
    return (spent * 100 / allocated).quantize(TENTH, rounding=ROUND_HALF_UP)


def utilisation(budget: Budget, adopted_run_id=_NOT_SET) -> dict:
    """Spent against allocated per region and part, and spent per month of the
    fiscal year. Allocated comes from the adopted run (None when there is none).
    Two queries (allocations, expenditures grouped by region, part and month),
    one more when ``adopted_run_id`` is not given (``with_adopted_run``)."""
    if adopted_run_id is _NOT_SET:
        adopted_run_id = getattr(budget, "adopted_run_id", _NOT_SET)
        if adopted_run_id is _NOT_SET:
            run = budget.adopted_run
            adopted_run_id = run.pk if run else None
    regions: dict[int, tuple[str, str]] = {}
    allocated: dict[tuple[int, str], Decimal] = {}
    if adopted_run_id is not None:
        for region_id, code, name, part, amount in Allocation.objects.filter(run_id=adopted_run_id).values_list(
            "region_id", "region__code", "region__name", "part", "amount"
        ):
            regions[region_id] = (code, name)
            allocated[(region_id, part)] = amount
    spent: dict[tuple[int, str], Decimal] = {}
    months = {m: Decimal("0.00") for m in range(1, 13)}
    categories: dict[str, dict[int, Decimal]] = {}  # category → month of the fiscal year → spent
    category_spent: dict[str, Decimal] = {}
    rows = (
        Expenditure.objects.filter(budget=budget)
        .values("region_id", "region__code", "region__name", "part", "category", month=TruncMonth("booking_date"))
        .annotate(total=Sum("amount"))
        .order_by()
        .values_list("region_id", "region__code", "region__name", "part", "category", "month", "total")
    )
    for region_id, code, name, part, category, month, total in rows:
        regions.setdefault(region_id, (code, name))
        spent[(region_id, part)] = spent.get((region_id, part), Decimal("0.00")) + total
        by_month = categories.setdefault(category, {m: Decimal("0.00") for m in range(1, 13)})
        category_spent[category] = category_spent.get(category, Decimal("0.00")) + total
        if month.year == budget.fiscal_year:
            months[month.month] += total
            by_month[month.month] += total

    out_rows = []
    for region_id, (code, name) in sorted(regions.items(), key=lambda kv: kv[1][0]):
        for part in Part:
            alloc = None if adopted_run_id is None else allocated.get((region_id, part.value), Decimal("0.00"))
            s = spent.get((region_id, part.value), Decimal("0.00"))
            out_rows.append({
                "region": code, "region_name": name, "part": part.value,
                "allocated": alloc, "spent": s, "remaining": None if alloc is None else alloc - s,
                "percent": _percent(s, alloc),
            })
    total_alloc = None if adopted_run_id is None else sum(allocated.values(), Decimal("0.00"))
    total_spent = sum(spent.values(), Decimal("0.00"))
    return {
        "budget": budget.pk,
        "fiscal_year": budget.fiscal_year,
        "adopted_run": adopted_run_id,
        "note": "" if adopted_run_id is not None else (
            "Es gibt noch keinen Verteilungsbeschluss: zugewiesene Beträge fehlen (allocated = null)."
        ),
        "rows": out_rows,
        "totals": {
            "allocated": total_alloc, "spent": total_spent,
            "remaining": None if total_alloc is None else total_alloc - total_spent,
            "percent": _percent(total_spent, total_alloc),
        },
        "months": [{"month": f"{budget.fiscal_year}-{m:02d}", "spent": v} for m, v in months.items()],
        # per cost type (Kostenart): spent, its percentage of the allocated total, and spent per month
        "categories": [
            {
                "category": category,
                "spent": category_spent[category],
                "percent": _percent(category_spent[category], total_alloc),
                "months": [{"month": f"{budget.fiscal_year}-{m:02d}", "spent": v} for m, v in by_month.items()],
            }
            for category, by_month in sorted(categories.items())
        ],
    }


# --- Comparison and what-if ---------------------------------------------------------


def run_totals(run: AllocationRun) -> dict[str, dict]:
    """Region code → {"name", "total", part: amount} of a stored run (one query)."""
    out: dict[str, dict] = {}
    for code, name, part, amount in run.allocations.values_list("region__code", "region__name", "part", "amount"):
        row = out.setdefault(code, {"name": name, "total": Decimal(0)})
        row[part] = amount
        row["total"] += amount
    return out


def compare(a: dict[str, dict], b: dict[str, dict]) -> list[dict]:
    """Region by region: the totals of two allocations, the difference b − a and
    the change in percent of a (one decimal)."""
    rows = []
    for code in sorted(set(a) | set(b)):
        total_a = a.get(code, {}).get("total", Decimal(0))
        total_b = b.get(code, {}).get("total", Decimal(0))
        delta = total_b - total_a
        rows.append({
            "region": code,
            "name": (a.get(code) or b.get(code))["name"],
            "a": total_a,
            "b": total_b,
            "delta": delta,
            "delta_percent": (delta * 100 / total_a).quantize(Decimal("0.1")) if total_a else None,
        })
    return rows


def what_if(budget: Budget, rules: dict) -> Computation:
    """Compute a variant of the rules without storing anything."""
    return compute(budget, rules=rules)
