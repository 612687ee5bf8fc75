"""Budget workflows: gather a budget's inputs and run the allocation engine."""

import hashlib
import io
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone, translation

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
    part: str = RulePart.ALL  # the part the variant is for ("all": every part without its own)


SNAPSHOT_VERSION = 2


def _micro_units(text: str) -> int:
    """A numeric value as PostgreSQL prints it ("-12.500000") in millionths,
    exactly. Values of the same indicator share this unit, and only their
    proportions matter to the engine."""
    whole, _, fraction = text.partition(".")
    units = int(whole + (fraction + "000000")[:6])
    if len(fraction) > 6 and int(fraction[6:]):  # pragma: no cover - the column has 6 decimal places
        raise ValueError(f"more than 6 decimal places: {text}")
    return units


FEW_REGIONS = 2000  # up to this many target regions, values are looked up by region id


def read_inputs(budget: Budget, rules: dict) -> dict:
    """The inputs the rules need: the target regions (sorted by code), the
    period of every term without a fixed period (the latest with a value in
    these regions; one query), and the values themselves as the text
    PostgreSQL prints (one query per distinct period). Returns the snapshot's "inputs":
    ``{"regions": [code, …], "periods": {key: period}, "values": {key: [text or None per region]}}``
    """
    region_rows = sorted(budget.target_regions().values_list("code", "pk"))
    if not region_rows:
        raise engine.AllocationError("Unter dem Gebiet liegen keine Räume der Verteilungsebene.")
    wanted: dict[tuple[int, str | None], object] = {}  # (indicator id, fixed period or None) → indicator
    for rule in rules.values():
        for term in rule.terms.all():
            for ind in (term.indicator, term.factor_indicator):
                if ind is not None:
                    wanted.setdefault((ind.pk, term.period or None), ind)
    scope = budget.scope_region
    region_filter = "r.level_id = %s AND r.path LIKE %s"
    region_params = [budget.target_level_id, scope.path.replace("%", r"\%").replace("_", r"\_") + "%"]
    periods: dict[tuple[int, str | None], str] = {}
    open_ids = sorted({ind_id for ind_id, period in wanted if period is None})
    with connection.cursor() as cur:
        few = len(region_rows) <= FEW_REGIONS
        if open_ids and few:  # a part of the city: the region index, grouped
            cur.execute(
                """
                SELECT i.id, m.period FROM unnest(%s::bigint[]) AS i(id)
                LEFT JOIN (SELECT v.indicator_id, max(v.period) AS period FROM regions_indicatorvalue v
                           WHERE v.indicator_id = ANY(%s) AND v.region_id = ANY(%s) GROUP BY v.indicator_id) m
                  ON m.indicator_id = i.id
                """,
                [open_ids, open_ids, [pk for _, pk in region_rows]],
            )
        elif open_ids:  # most regions: walk each indicator's periods from the newest until one is in scope
            cur.execute(
                f"""
                SELECT i.id, (SELECT v.period FROM regions_indicatorvalue v JOIN regions_region r ON r.id = v.region_id
                              WHERE v.indicator_id = i.id AND {region_filter}
                              ORDER BY v.period DESC LIMIT 1)
                FROM unnest(%s::bigint[]) AS i(id)
                """,
                [*region_params, open_ids],
            )
        if open_ids:
            for ind_id, period in cur.fetchall():
                if period is None:
                    name = wanted[(ind_id, None)].name
                    raise engine.AllocationError(f"Für „{name}“ gibt es in diesen Räumen keine Werte.")
                periods[(ind_id, None)] = period
        for ind_id, period in wanted:
            if period is not None:
                periods[(ind_id, period)] = period
        # one query per distinct period (usually one): the planner then reads the
        # (indicator, period) index instead of scanning the values table
        by_period: dict[str, set[int]] = {}
        for (ind_id, _), period in periods.items():
            by_period.setdefault(period, set()).add(ind_id)
        found: dict[tuple[int, str], dict[int, str]] = {}
        for period, ind_ids in sorted(by_period.items()):
            if few:  # a part of the city: look the regions up by id
                where, params = "v.region_id = ANY(%s)", [[pk for _, pk in region_rows]]
            else:  # most of the values of a period: one pass over the (indicator, period) index
                where, params = region_filter, region_params
            cur.execute(
                f"""
                SELECT v.indicator_id, array_agg(v.region_id), array_agg(v.value::text)
                FROM regions_indicatorvalue v JOIN regions_region r ON r.id = v.region_id
                WHERE v.indicator_id = ANY(%s) AND v.period = %s AND {where}
                GROUP BY v.indicator_id
                """,
                [sorted(ind_ids), period, *params],
            )
            for ind_id, region_ids, texts in cur.fetchall():
                found[(ind_id, period)] = dict(zip(region_ids, texts, strict=True))
    inputs: dict = {"version": SNAPSHOT_VERSION, "regions": [code for code, _ in region_rows], "periods": {},
                    "values": {}}
    for (ind_id, fixed), ind in sorted(wanted.items(), key=lambda kv: (kv[1].key, kv[0][1] or "")):
        period = periods[(ind_id, fixed)]
        by_region = found.get((ind_id, period), {})
        inputs["periods"][input_key(ind.key, fixed)] = period
        inputs["values"][input_key(ind.key, fixed)] = [by_region.get(pk) for _, pk in region_rows]
    return inputs


def input_series(inputs: dict, key: str) -> dict[str, str | None]:
    """One input series of a snapshot as region code → value text."""
    return dict(zip(inputs["regions"], inputs["values"][key], strict=True))


def input_key(indicator_key: str, fixed_period: str | None) -> str:
    """The key of an input series in the snapshot: the indicator's key, with
    "@period" when a term fixes the period (the same indicator may then appear
    with two periods)."""
    return f"{indicator_key}@{fixed_period}" if fixed_period else indicator_key


def term_specs(rule) -> list[dict]:
    """A rule's terms as the snapshot stores them (with the label the breakdown uses)."""
    out = []
    for t in rule.terms.all():
        if t.kind == TermKind.EQUAL:
            with translation.override("de"):  # stored runs speak German whoever triggered them
                label = str(TermKind.EQUAL.label)
        else:
            label = t.indicator.name
            if t.kind == TermKind.PER_CAPITA and t.factor_indicator:
                label = f"{label} × {t.factor_indicator.name}"
        out.append({
            "kind": t.kind, "weight": str(t.weight), "period": t.period, "label": label,
            "indicator": t.indicator.key if t.indicator else None,
            "factor_indicator": t.factor_indicator.key if t.factor_indicator else None,
        })
    return out


def compute_from_snapshot(part_amounts: dict[str, Decimal], rules: list[dict], inputs: dict) -> dict[str, engine.Result]:
    """Allocate every part from a snapshot alone (no database): the rules as
    ``rule_snapshot`` writes them and the inputs as ``read_inputs`` returns them.
    The same snapshot always gives the same cents."""
    codes = inputs["regions"]
    series_cache: dict[str, dict[str, int | None]] = {}

    def series(key: str | None, period: str | None):
        if key is None:
            return None
        skey = input_key(key, period)
        if skey not in series_cache:
            texts = inputs["values"].get(skey)
            if texts is None:
                raise engine.AllocationError(f"Für „{key}“ fehlen die Eingangswerte.")
            series_cache[skey] = dict(zip(codes, [
                None if t is None else int(t.replace(".", "")) if t[-7:-6] == "." else _micro_units(t) for t in texts
            ], strict=True))
        return series_cache[skey]

    by_part = {r["part"]: r for r in rules}
    results: dict[str, engine.Result] = {}
    terms_by_rule: dict[str, list[engine.Term]] = {}
    cache: dict = {}  # parts under the same rule share their shares
    for part_key, amount in part_amounts.items():
        if amount == 0:
            continue
        rule = by_part.get(part_key)
        if rule is None:
            raise engine.AllocationError(
                f"Für den Teil „{Part(part_key).label}“ ({amount} €) gibt es keinen Verteilungsschlüssel."
            )
        rule_key = json.dumps(rule["terms"], sort_keys=True)  # parts with the same terms share them
        if rule_key not in terms_by_rule:
            terms_by_rule[rule_key] = [
                engine.Term(
                    kind={TermKind.EQUAL: engine.EQUAL, TermKind.INDICATOR: engine.INDICATOR}.get(
                        t["kind"], engine.PER_CAPITA),
                    weight=Decimal(t["weight"]), label=t["label"],
                    values=series(t["indicator"], t["period"]) or {},
                    factors=series(t["factor_indicator"], t["period"]),
                )
                for t in rule["terms"]
            ]
        results[part_key] = engine.allocate(
            engine.Part(
                amount=amount,
                regions=codes,
                terms=terms_by_rule[rule_key],
                base=Decimal(rule["base_amount"]),
                floors={b["region"]: Decimal(b["floor"]) for b in rule["bounds"] if b["floor"] is not None},
                caps={b["region"]: Decimal(b["cap"]) for b in rule["bounds"] if b["cap"] is not None},
                missing=rule["missing"],
            ),
            cache=cache,
        )
    return results


def compute(budget: Budget, rules: dict | None = None) -> Computation:
    """Allocate every part with a non-zero amount. ``rules``: part → rule to use
    instead of the stored ones (what-if). Raises engine.AllocationError with a
    German message when the inputs do not allow it."""
    rules = rules_by_part(budget) if rules is None else rules
    snapshot = rule_snapshot(budget, rules)
    inputs = read_inputs(budget, rules)
    part_amounts = budget.part_amounts()
    parts = compute_from_snapshot(part_amounts, snapshot["rules"], inputs)
    return Computation(budget=budget, parts=parts, part_amounts=part_amounts, inputs=inputs)


# --- Runs ---------------------------------------------------------------------------

def rule_snapshot(budget: Budget, by_part: dict | None = None) -> dict:
    """Everything about the budget and its rules that decides the allocation
    (the inputs are added by the run)."""
    rules = []
    for part, rule in sorted((by_part if by_part is not None else rules_by_part(budget)).items()):
        rules.append({
            "part": part,
            "rule": rule.part,
            "base_amount": str(rule.base_amount),
            "missing": rule.missing,
            "terms": term_specs(rule),
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


LOCK_NAMESPACE = 7401  # pg_advisory_lock(namespace, budget id): one run per budget at a time
MAX_ATTEMPTS = 3  # a run whose worker died this often is given up (failed), not started again


def _hash(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


class _BudgetLock:
    """A session-level advisory lock on the budget, held across the run's
    transactions (so that the "running" state can be committed and seen) and
    released by PostgreSQL if the worker dies."""

    def __init__(self, budget_id: int):
        self.budget_id = budget_id

    def __enter__(self):
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, self.budget_id])

    def __exit__(self, *exc):
        try:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, self.budget_id])
        except Exception:  # pragma: no cover - a broken connection: closing it releases the lock
            connection.close()
        return False


def _claim(budget_id: int, trigger: str, user_id: int | None) -> tuple[AllocationRun, bool]:
    """The run record this execution fills: the budget's queued run, or one
    left "running" by a worker that died (the lock is ours, so nobody else is
    running it), else a new one. Marked running and committed, so the UI can
    show it. Returns the record and whether it had been interrupted."""
    with transaction.atomic():
        run = (
            AllocationRun.objects.select_for_update()
            .filter(budget_id=budget_id, status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
            .order_by("created_at", "pk")
            .first()
        )
        if run is None:
            run = AllocationRun(budget_id=budget_id, trigger=trigger, triggered_by_id=user_id)
        interrupted = run.status == RunStatus.RUNNING
        run.status = RunStatus.RUNNING
        run.attempts += 1
        run.started_at = timezone.now()
        run.save()
        # a queued record besides it (a trigger that came in meanwhile) is covered by this execution
        covered = list(AllocationRun.objects.filter(budget_id=budget_id, status=RunStatus.QUEUED)
                       .exclude(pk=run.pk).values_list("pk", flat=True))
        if covered:  # (deleting only when there is something: a delete also touches the allocations table)
            AllocationRun.objects.filter(pk__in=covered).delete()
    return run, interrupted


def _requeue(run: AllocationRun) -> None:
    """Put a run back in the queue after a transient error (its task retries);
    if that fails too, the record stays "running" and the retry takes it over."""
    try:
        with transaction.atomic():
            if AllocationRun.objects.filter(budget_id=run.budget_id, status=RunStatus.QUEUED).exists():
                AllocationRun.objects.filter(pk=run.pk).delete()
            else:
                AllocationRun.objects.filter(pk=run.pk).update(status=RunStatus.QUEUED)
    except DatabaseError:
        pass


def run_allocation(budget_id: int, trigger: str = Trigger.MANUAL, user_id: int | None = None,
                   last_attempt: bool = True) -> AllocationRun:
    """Compute and store a run of the budget, unless a finished run with the same
    inputs exists (then that one is returned and no run is added).

    At most one execution per budget at a time (an advisory lock). The run
    record is marked running in its own transaction; the result — allocations,
    snapshot and status — is written in one transaction, so a worker killed
    midway leaves a "running" record and no allocations, and the next execution
    takes that record over and completes it (after MAX_ATTEMPTS it is marked
    failed). A transient database error puts the record back in the queue
    (the task retries) unless ``last_attempt``; then it is recorded as failed."""
    with _BudgetLock(budget_id):
        run, interrupted = _claim(budget_id, trigger, user_id)
        if interrupted and run.attempts > MAX_ATTEMPTS:
            return _finish_failed(
                run, f"Abgebrochen: die Berechnung wurde {MAX_ATTEMPTS}-mal begonnen und jedes Mal unterbrochen.", {}
            )
        try:
            return _execute(run)
        except Exception as e:
            if last_attempt:
                _finish_failed(run, f"Technischer Fehler: {type(e).__name__}: {e}", {})
            else:
                _requeue(run)
            raise


def _finish_failed(run: AllocationRun, error: str, snapshot: dict) -> AllocationRun:
    """Record a failed run — unless the newest finished run failed with the same
    inputs and error: then this record is dropped and that one returned."""
    snapshot = {**snapshot, "error": error}
    input_hash = _hash(snapshot)
    with transaction.atomic():
        latest = (
            AllocationRun.objects.filter(budget_id=run.budget_id, status__in=[RunStatus.SUCCEEDED, RunStatus.FAILED])
            .order_by("-created_at", "-pk").first()
        )
        if latest is not None and latest.status == RunStatus.FAILED and latest.input_hash == input_hash:
            AllocationRun.objects.filter(pk=run.pk).delete()
            return latest
        run.status, run.error, run.snapshot, run.input_hash = RunStatus.FAILED, error, snapshot, input_hash
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "snapshot", "input_hash", "finished_at"])
    return run


def _execute(run: AllocationRun) -> AllocationRun:
    with transaction.atomic():
        budget = Budget.objects.select_related("scope_region", "target_level").get(pk=run.budget_id)
        rules = rules_by_part(budget)  # read once for the snapshot and the computation
        snapshot = rule_snapshot(budget, rules)
        try:
            inputs = read_inputs(budget, rules)
            snapshot["inputs"] = inputs
            parts = compute_from_snapshot(budget.part_amounts(), snapshot["rules"], inputs)
        except engine.AllocationError as e:
            error = str(e)
        else:
            error = None
    if error is not None:
        return _finish_failed(run, error, snapshot)

    input_hash = _hash(snapshot)
    with transaction.atomic():
        existing = AllocationRun.objects.filter(
            budget_id=run.budget_id, status=RunStatus.SUCCEEDED, input_hash=input_hash
        ).first()
        if existing is not None:
            AllocationRun.objects.filter(pk=run.pk).delete()
            return existing
        # the allocations by COPY (tens of thousands of rows at national scale)
        region_ids = dict(budget.target_regions().values_list("code", "pk"))
        buf = io.StringIO()
        for part, result in parts.items():
            for a in result.amounts:
                amount = f"{a.cents // 100}.{a.cents % 100:02d}" if a.cents >= 0 else str(a.amount)
                buf.write(f"{run.pk}\t{region_ids[a.code]}\t{part}\t{amount}\t{a.bound or ''}\n")
        buf.seek(0)
        with connection.cursor() as cur:
            cur.copy_expert("COPY budgets_allocation (run_id, region_id, part, amount, bound) FROM STDIN", buf)
        run.status, run.snapshot, run.input_hash, run.error = RunStatus.SUCCEEDED, snapshot, input_hash, ""
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "snapshot", "input_hash", "error", "finished_at"])
    return run


_REPLAYS: OrderedDict = OrderedDict()  # (run id, input hash) → results; finished runs never change
_REPLAYS_LOCK = threading.Lock()
REPLAY_CACHE_SIZE = 4


def replay(run: AllocationRun) -> dict[str, engine.Result]:
    """Part → the engine's result, computed again from the run's snapshot alone
    (rule and inputs as stored): the source of every breakdown and share shown
    for a stored run. Gives the stored cents (tests and ``verify`` check it).
    The last few replays are kept in memory."""
    if run.status != RunStatus.SUCCEEDED:
        raise engine.AllocationError("Nur eine fertige Berechnung kann nachgerechnet werden.")
    key = (run.pk, run.input_hash)
    with _REPLAYS_LOCK:
        if key in _REPLAYS:
            _REPLAYS.move_to_end(key)
            return _REPLAYS[key]
    snapshot = run.snapshot
    parts = {k: Decimal(v) for k, v in snapshot["budget"]["parts"].items()}
    results = compute_from_snapshot(parts, snapshot["rules"], snapshot["inputs"])
    with _REPLAYS_LOCK:
        _REPLAYS[key] = results
        while len(_REPLAYS) > REPLAY_CACHE_SIZE:
            _REPLAYS.popitem(last=False)
    return results


def verify(run: AllocationRun) -> list[str]:
    """Compare the stored allocations of a run with its replay; returns the
    differences (empty: every stored cent is what the snapshot gives)."""
    results = replay(run)
    expected = {(part, a.code): a.amount for part, r in results.items() for a in r.amounts}
    stored = {(part, code): amount for part, code, amount in run.allocations.values_list("part", "region__code", "amount")}
    out = []
    for key in sorted(set(expected) | set(stored)):
        if expected.get(key) != stored.get(key):
            out.append(f"{key[1]} {Part(key[0]).label}: gespeichert {stored.get(key)}, nachgerechnet {expected.get(key)}")
    return out


def request_recompute(budget_ids, trigger: str, user=None) -> None:
    """Ask for a recompute once the current transaction commits: a queued run
    record (one per budget; a trigger arriving while one waits joins it) and a
    task, delayed by RECOMPUTE_DELAY so that a burst of changes settles into one
    run. Runs with the same inputs as a finished run are dropped again."""
    user_id = getattr(user, "pk", None)
    for budget_id in sorted(set(budget_ids)):
        transaction.on_commit(lambda b=budget_id: enqueue(b, trigger, user_id))


RECOMPUTE_DELAY = 2  # seconds: lets a burst of changes settle into one run


def enqueue(budget_id: int, trigger: str, user_id: int | None = None) -> AllocationRun | None:
    """Queue a run of the budget now (see request_recompute). Returns the queued
    record, or None when one was already waiting (the change joins it).

    The record is the request: if the broker cannot be reached (Redis down), the
    task is not sent (core.queueing.send logs it) and the queued record stays —
    ``resend_stranded_runs`` sends it once Redis is back. The change that asked
    for the recompute has been committed already and is not failed."""
    from core.queueing import send

    from .tasks import recompute_budget

    try:
        with transaction.atomic():
            run = AllocationRun.objects.create(budget_id=budget_id, status=RunStatus.QUEUED, trigger=trigger,
                                               triggered_by_id=user_id)
    except IntegrityError:
        return None  # one is waiting already (one queued run per budget); it will read this change
    send(recompute_budget, budget_id, trigger, user_id, countdown=RECOMPUTE_DELAY)
    return run


def _lock_held(budget_id: int) -> bool:
    """Whether an execution holds the budget's run lock (see _BudgetLock) right now."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = %s AND objid = %s AND objsubid = 2)",
            [LOCK_NAMESPACE, budget_id],
        )
        return cur.fetchone()[0]


def resend_stranded_runs(older_than: float | None = None) -> list[int]:
    """A sweeper (settings.TASK_RESEND_SWEEPERS; core.queueing): send the
    recompute task again for runs that have waited ``older_than`` seconds
    (default: settings.TASK_RESEND_AFTER): queued runs whose task never reached
    a worker (the broker was down when it was sent, or Redis lost its queue in
    a restart) and "running" runs that no execution holds (their worker died;
    the unacknowledged message would come back only after the visibility
    timeout). Run by Celery beat every minute and once at worker start;
    returns the ids of the budgets sent.

    Harmless when the original message still arrives: an execution claims the
    queued or interrupted record (services.run_allocation), and a second one
    finds the same inputs and adds no run. A run is sent again at most once per
    ``older_than`` seconds (core.queueing.send_again), so a busy queue is not
    flooded."""
    import datetime

    from django.conf import settings
    from django.db.models import Q

    from core.queueing import send_again

    from .tasks import recompute_budget

    older_than = settings.TASK_RESEND_AFTER if older_than is None else older_than
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than)
    runs = (
        AllocationRun.objects.filter(Q(status=RunStatus.QUEUED, created_at__lt=cutoff)
                                     | Q(status=RunStatus.RUNNING, started_at__lt=cutoff))
        .order_by("budget_id", "created_at", "pk")
        .values_list("pk", "budget_id", "status", "trigger", "triggered_by_id", "attempts")
    )
    sent: list[int] = []
    for pk, budget_id, status, trigger, user_id, attempts in runs:
        if budget_id in sent:
            continue  # one task covers every waiting record of the budget
        if status == RunStatus.RUNNING and _lock_held(budget_id):
            continue  # being computed right now
        if send_again(recompute_budget, budget_id, trigger, user_id, key=f"budget-run:{pk}:{attempts}",
                      every=older_than):
            sent.append(budget_id)
    return sent


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
