"""Budget recompute: wall time per budget through the real path
(``budgets.services.run_allocation``: lock, mark the run running, read the
inputs, allocate exactly with integers, store the snapshot and allocations) against a baseline in the same
run that reads the same inputs with one SQL query, computes with numpy (float64)
and writes with COPY.

Two scales on the synthetic tree of gen.py:
- "Berlin": the leaves below one district (about 500 regions), 20 indicators,
  10 budgets;
- "national": all leaves (8,979 at full size), 20 indicators, one budget.

Targets (issue 3): ≤ 0.5 s per budget at Berlin scale, ≤ 10 s at national scale,
≤ 2× the baseline.
"""

from __future__ import annotations

import io
import statistics
import time
from decimal import Decimal

import common

N_INDICATORS = 20


def _ensure_indicators(leaf_ids: list[int], period: str) -> list[int]:
    """20 indicators with a value for every leaf in ``period``: the generated ones
    plus copies (scaled) of them, inserted with one SQL statement each."""
    from django.db import connection

    from regions.models import Indicator, IndicatorValue

    negative = IndicatorValue.objects.filter(value__lt=0).values("indicator_id")
    base = list(Indicator.objects.exclude(key__startswith="bench_extra_").exclude(pk__in=negative).order_by("key"))
    ids = []
    for i in range(N_INDICATORS):
        source = base[i % len(base)]
        if i < len(base):
            ind = source
        else:
            ind, _ = Indicator.objects.get_or_create(key=f"bench_extra_{i}", defaults={"name": f"Extra {i}"})
            with connection.cursor() as cur:
                cur.execute(
                    """
                    INSERT INTO regions_indicatorvalue (indicator_id, region_id, period, value, is_rollup,
                                                        created_at, updated_at)
                    SELECT %s, region_id, period, value * (1 + (region_id %% 7) / 10.0), false, now(), now()
                    FROM regions_indicatorvalue WHERE indicator_id = %s AND period = %s AND region_id = ANY(%s)
                    ON CONFLICT DO NOTHING
                    """,
                    [ind.pk, source.pk, period, leaf_ids],
                )
        ids.append(ind.pk)
    return ids


def _make_budget(name: str, scope, level, indicator_ids: list[int]):
    from budgets.choices import RulePart, SplitMode, TermKind
    from budgets.models import AllocationRule, Budget, RuleTerm
    from core.models import FieldOfAction

    field, _ = FieldOfAction.objects.get_or_create(key="bench-feld", defaults={"name": "Benchmark"})
    budget = Budget.objects.create(
        name=name, fiscal_year=2027, field=field, scope_region=scope, target_level=level,
        total=Decimal("10000000.00"), split_mode=SplitMode.PERCENT, case_specific=Decimal(60),
        case_overarching=Decimal(25), preventive=Decimal(15),
    )
    rule = AllocationRule.objects.create(budget=budget, part=RulePart.ALL)
    weight = Decimal(1) / len(indicator_ids)
    RuleTerm.objects.bulk_create(
        [RuleTerm(rule=rule, kind=TermKind.INDICATOR, weight=weight, indicator_id=i, order=n)
         for n, i in enumerate(indicator_ids)]
    )
    return budget


def _timed_run(budget) -> float:
    """One real recompute: nudge the total so the inputs differ, then run."""
    from budgets.models import Budget
    from budgets.services import run_allocation

    Budget.objects.filter(pk=budget.pk).update(total=budget.total + Decimal("0.01"))
    budget.total += Decimal("0.01")
    t0 = time.perf_counter()
    run = run_allocation(budget.pk)
    elapsed = time.perf_counter() - t0
    assert run.status == "succeeded", run.error
    return elapsed


def _baseline(budget, indicator_ids: list[int], period: str) -> float:
    """Same inputs with one query, numpy float64, largest remainder, COPY out."""
    import numpy as np
    from django.db import connection, transaction

    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            SELECT r.id, v.indicator_id, v.value::float8
            FROM regions_region r JOIN regions_indicatorvalue v ON v.region_id = r.id
            WHERE r.path LIKE %s AND r.level_id = %s AND v.indicator_id = ANY(%s) AND v.period = %s
            """,
            [budget.scope_region.path + "%", budget.target_level_id, indicator_ids, period],
        )
        rows = np.array(cur.fetchall(), dtype=np.float64)
        region_ids, region_index = np.unique(rows[:, 0], return_inverse=True)
        ind_index = np.searchsorted(np.array(sorted(indicator_ids), dtype=np.float64), rows[:, 1])
        matrix = np.zeros((len(region_ids), len(indicator_ids)))
        matrix[region_index, ind_index] = rows[:, 2]
        shares = (matrix / matrix.sum(axis=0)).mean(axis=1)
        out = []
        for part_total in (6_000_000, 2_500_000, 1_500_000):
            exact = shares * part_total * 100
            cents = np.floor(exact).astype(np.int64)
            leftover = int(round(part_total * 100 - cents.sum()))
            cents[np.argsort(-(exact - cents), kind="stable")[:leftover]] += 1
            out.append(cents)
        cur.execute("CREATE TEMP TABLE bench_alloc (region_id bigint, part int, cents bigint) ON COMMIT DROP")
        buf = io.StringIO()
        for part, cents in enumerate(out):
            for rid, c in zip(region_ids.astype(np.int64), cents, strict=True):
                buf.write(f"{rid}\t{part}\t{c}\n")
        buf.seek(0)
        cur.copy_expert("COPY bench_alloc FROM STDIN", buf)
    return time.perf_counter() - t0


def run(size, runs: int = 5) -> dict:
    from regions.models import Region

    leaf_level_rank = Region.objects.order_by("-depth").values_list("level__rank", flat=True).first()
    leaves = Region.objects.filter(level__rank=leaf_level_rank)
    leaf_level = leaves.first().level
    root = Region.objects.get(depth=0)
    district = Region.objects.filter(depth=1).order_by("code").first()
    period = max(size.periods)
    indicator_ids = _ensure_indicators(list(leaves.values_list("pk", flat=True)), period)

    results = {}
    rows = []
    for scale, scope, budgets_n in (("berlin", district, 10), ("national", root, 1)):
        budgets = [_make_budget(f"bench {scale} {i}", scope, leaf_level, indicator_ids) for i in range(budgets_n)]
        regions_n = budgets[0].target_regions().count()
        times = [_timed_run(b) for b in budgets for _ in range(max(1, runs // budgets_n if budgets_n > 1 else runs))]
        base = [_baseline(budgets[0], indicator_ids, period) for _ in range(runs)]
        median, base_median = statistics.median(times), statistics.median(base)
        results[scale] = {
            "regions": regions_n, "indicators": len(indicator_ids), "budgets": budgets_n,
            "median_seconds_per_budget": round(median, 4), "baseline_median_seconds": round(base_median, 4),
            "ratio_to_baseline": round(median / base_median, 2),
        }
        rows.append((f"{scale}: {regions_n:,} regions × {len(indicator_ids)} indicators, {budgets_n} budget(s)",
                     common.fmt_s(median), common.fmt_s(base_median), f"{median / base_median:.1f}×"))
    common.print_table("Budget recompute (median per budget)", rows,
                       headers=("scale", "run_allocation", "baseline (1 query + numpy + COPY)", "ratio"))
    common.save_results("recompute", results)
    return results
