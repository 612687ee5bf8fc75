"""Roll-ups of indicator values to every parent level, in SQL.

Counts (``sum``) add up only when every child region has a value (a missing
child is never counted as zero). Shares (``weighted_mean``) are averaged over
the children that have both a value and a weight (e.g. residents) in the same
period; a rolled-up mean carries the weight actually behind it
(``rollup_weight``: the weights of the children with a value), so a mean two
levels up equals the weighted mean over the lowest level's values. A value
measured at a parent level is kept; roll-ups never overwrite it. Levels are
processed bottom-up, sums before means.
"""

from django.db import connection

from .choices import Rollup
from .models import Indicator, IndicatorValue, Region

IV = IndicatorValue._meta.db_table
REG = Region._meta.db_table


def _upsert_sql(agg_sql: str) -> str:
    return f"""
        WITH agg AS ({agg_sql}),
        ins AS (
            INSERT INTO {IV} (indicator_id, region_id, period, value, rollup_weight, is_rollup,
                              created_at, updated_at)
            SELECT %(ind)s, region_id, period, value, weight, true, now(), now() FROM agg
            ON CONFLICT (indicator_id, region_id, period) DO UPDATE
                SET value = EXCLUDED.value, rollup_weight = EXCLUDED.rollup_weight, updated_at = now()
                WHERE {IV}.is_rollup AND ({IV}.value IS DISTINCT FROM EXCLUDED.value
                                          OR {IV}.rollup_weight IS DISTINCT FROM EXCLUDED.rollup_weight)
            RETURNING 1
        ),
        del AS (
            DELETE FROM {IV} old
            WHERE old.is_rollup AND old.indicator_id = %(ind)s AND old.period = ANY(%(periods)s)
              AND old.region_id IN (SELECT id FROM {REG} WHERE depth = %(depth)s)
              AND NOT EXISTS (SELECT 1 FROM agg WHERE agg.region_id = old.region_id AND agg.period = old.period)
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM del)
    """


SUM_SQL = _upsert_sql(
    f"""
    SELECT p.id AS region_id, v.period, SUM(v.value) AS value, NULL::numeric AS weight
    FROM {REG} p
    JOIN {REG} c ON c.parent_id = p.id
    JOIN {IV} v ON v.region_id = c.id AND v.indicator_id = %(ind)s AND v.period = ANY(%(periods)s)
    WHERE p.depth = %(depth)s
    GROUP BY p.id, v.period
    HAVING COUNT(*) = (SELECT COUNT(*) FROM {REG} c2 WHERE c2.parent_id = p.id)
    """
)

# A child's weight: the weight behind its rolled-up mean, else its weight
# indicator value (a measured value stands for the whole child).
MEAN_SQL = _upsert_sql(
    f"""
    SELECT region_id, period,
           ROUND(SUM(value * weight) / SUM(weight), 6) AS value, SUM(weight) AS weight
    FROM (
        SELECT p.id AS region_id, v.period, v.value,
               CASE WHEN v.is_rollup THEN v.rollup_weight ELSE w.value END AS weight
        FROM {REG} p
        JOIN {REG} c ON c.parent_id = p.id
        JOIN {IV} v ON v.region_id = c.id AND v.indicator_id = %(ind)s AND v.period = ANY(%(periods)s)
        LEFT JOIN {IV} w ON w.region_id = c.id AND w.indicator_id = %(weight)s AND w.period = v.period
        WHERE p.depth = %(depth)s
    ) children
    WHERE weight IS NOT NULL
    GROUP BY region_id, period
    HAVING SUM(weight) > 0
    """
)


def recompute(indicator_ids, periods) -> dict:
    """Recompute roll-ups for these indicators (and the means weighted by them)
    in these periods. Returns counts of roll-up rows written and removed."""
    periods = sorted(set(periods))
    if not periods:
        return {"rollups_written": 0, "rollups_removed": 0}
    ids = set(indicator_ids)
    ids |= set(Indicator.objects.filter(weight_indicator_id__in=ids).values_list("pk", flat=True))
    indicators = list(Indicator.objects.filter(pk__in=ids).exclude(rollup=Rollup.NONE))
    sums = [i for i in indicators if i.rollup == Rollup.SUM]
    means = [i for i in indicators if i.rollup == Rollup.WEIGHTED_MEAN]
    written = removed = 0
    with connection.cursor() as cur:
        cur.execute(f"SELECT COALESCE(MAX(depth), 0) FROM {REG}")
        max_depth = cur.fetchone()[0]
        for depth in range(max_depth - 1, -1, -1):
            for ind in sums:
                cur.execute(SUM_SQL, {"ind": ind.pk, "periods": periods, "depth": depth})
                w, r = cur.fetchone()
                written, removed = written + w, removed + r
            for ind in means:
                cur.execute(
                    MEAN_SQL, {"ind": ind.pk, "weight": ind.weight_indicator_id, "periods": periods, "depth": depth}
                )
                w, r = cur.fetchone()
                written, removed = written + w, removed + r
    return {"rollups_written": written, "rollups_removed": removed}
