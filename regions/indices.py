"""Composite indices (Sozialindex, Status- and Dynamikindex): definition
workflows and the computation.

The method (Berlin's "Monitoring Soziale Stadtentwicklung", MSS, generalised),
for one index and one period over the regions in its scope (one level,
optionally below one ancestor):

1. Read every component's value and the exclusion indicator's value for every
   region in scope, in one query (roll-ups included: an index over districts
   uses their aggregated values).
2. Exclusion: a region whose exclusion value (e.g. residents) is below the
   threshold is left out and listed as ``excluded`` (with the value); a region
   without an exclusion value is ``missing`` that indicator.
3. A region lacking any component value is ``missing`` (the components are
   listed): it gets no value and is never counted as zero.
4. The remaining regions are the *computed* set. Each component is taken as is
   or z-standardised over the computed set: z = (x − mean) / sd with the
   **population** standard deviation (ddof = 0, divide by n); ``invert``
   turns the sign (for indicators where higher means less need).
5. Weighted sum S = Σ weight × score (weights are not normalised; with equal
   weights 1 this is the MSS sum of z-values).
6. Optionally S is z-standardised again over the computed set (the MSS does).
7. The value, rounded to 6 decimals, is classed by the index's classes with
   their explicit inclusive/exclusive bounds (the first class containing it).

Results are stored as ``IndexResult`` rows (every region in scope: value and
class, or status and reason) and as values of the index's result indicator (so
maps and allocation rules can use them); values of regions no longer computable
are removed. When the stored values change, ``indicator_values_changed`` is sent
on commit for the result indicator.

Floats are fine here: index values are statistics, not money; they are stored
rounded to 6 decimals, and classes compare the stored Decimal, so a value of
exactly −1.000000 falls into the class whose bound includes −1.
"""

import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .choices import IndexResultStatus
from .models import (
    INDEX_DECIMALS,
    PERIOD_REGEX,
    CompositeIndex,
    IndexClass,
    IndexComponent,
    IndexResult,
    Indicator,
    IndicatorValue,
    Region,
)
from .signals import indicator_values_changed

QUANTUM = Decimal(1).scaleb(-INDEX_DECIMALS)
IV = IndicatorValue._meta.db_table
REG = Region._meta.db_table


class DefinitionError(ValueError):
    """An index definition that cannot be saved; ``errors`` maps fields to messages."""

    def __init__(self, errors: dict):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


# --- Validation (shared by the API serializer, the forms and the command) ------------


def _lower_of_intersection(a, b):
    """The larger of two lower bounds (None = −∞) and whether it is included."""
    if a[0] is None:
        return b
    if b[0] is None:
        return a
    if a[0] == b[0]:
        return a[0], a[1] and b[1]
    return a if a[0] > b[0] else b


def _upper_of_intersection(a, b):
    if a[0] is None:
        return b
    if b[0] is None:
        return a
    if a[0] == b[0]:
        return a[0], a[1] and b[1]
    return a if a[0] < b[0] else b


def classes_overlap(a: dict, b: dict) -> bool:
    """Whether two classes ({lower, lower_inclusive, upper, upper_inclusive})
    share at least one value."""
    lo, lo_inc = _lower_of_intersection((a.get("lower"), a.get("lower_inclusive", True)),
                                        (b.get("lower"), b.get("lower_inclusive", True)))
    hi, hi_inc = _upper_of_intersection((a.get("upper"), a.get("upper_inclusive", False)),
                                        (b.get("upper"), b.get("upper_inclusive", False)))
    if lo is None or hi is None:
        return True
    return lo < hi or (lo == hi and lo_inc and hi_inc)


def class_problems(classes: list[dict]) -> list[str]:
    """Messages for classes that are empty, repeat a label or overlap."""
    problems = []
    labels = set()
    for c in classes:
        label = (c.get("label") or "").strip()
        if not label:
            problems.append(_("Jede Klasse braucht eine Bezeichnung."))
        elif label in labels:
            problems.append(_("Die Bezeichnung „%(label)s“ kommt mehrfach vor.") % {"label": label})
        labels.add(label)
        lower, upper = c.get("lower"), c.get("upper")
        if lower is not None and upper is not None and (
            lower > upper or (lower == upper and not (c.get("lower_inclusive", True) and c.get("upper_inclusive")))
        ):
            problems.append(_("Klasse „%(label)s“: die Untergrenze muss unter der Obergrenze liegen.") % {"label": label})
    for i, a in enumerate(classes):
        for b in classes[i + 1:]:
            if classes_overlap(a, b):
                problems.append(
                    _("Die Klassen „%(a)s“ und „%(b)s“ überschneiden sich.") % {"a": a.get("label"), "b": b.get("label")}
                )
    return problems


def component_problems(index: CompositeIndex | None, indicators: list[Indicator]) -> list[str]:
    """Messages for a component list: empty, an indicator twice, the index's own
    result, or a cycle through other indices' results (A uses B's result and B,
    directly or not, uses A's)."""
    if not indicators:
        return [_("Ein Index braucht mindestens eine Komponente.")]
    problems = []
    seen = set()
    for ind in indicators:
        if ind.pk in seen:
            problems.append(_("Der Indikator „%(key)s“ kommt mehrfach vor.") % {"key": ind.key})
        seen.add(ind.pk)
    own = index.result_indicator_id if index is not None and index.pk else None
    if own is not None and own in seen:
        problems.append(_("Der Ergebnis-Indikator des Index kann nicht seine eigene Komponente sein."))
    elif own is not None:
        # result indicator id → the indicator ids its index reads
        graph: dict[int, set[int]] = {}
        for result_id, comp_id in IndexComponent.objects.exclude(index_id=index.pk).values_list(
            "index__result_indicator_id", "indicator_id"
        ):
            graph.setdefault(result_id, set()).add(comp_id)
        for result_id, ex_id in CompositeIndex.objects.exclude(pk=index.pk).exclude(
            exclude_indicator=None
        ).values_list("result_indicator_id", "exclude_indicator_id"):
            graph.setdefault(result_id, set()).add(ex_id)
        stack, visited = [i for i in seen if i in graph], set()
        while stack:
            current = stack.pop()
            if current in visited:
                continue
            visited.add(current)
            reads = graph.get(current, set())
            if own in reads:
                problems.append(_("Zirkelbezug: ein verwendeter Index hängt selbst vom Ergebnis dieses Index ab."))
                break
            stack.extend(r for r in reads if r in graph)
    return problems


# --- Definition workflows ---------------------------------------------------------------


@transaction.atomic
def save_definition(index: CompositeIndex | None, fields: dict, components: list[dict] | None = None,
                    classes: list[dict] | None = None, user=None) -> CompositeIndex:
    """Create or update an index with its components (matched by indicator) and
    classes (matched by label); ``None`` leaves a list as it is. Fields, lists
    and references must be validated (serializer, form or command). Periods that
    already have results are recomputed after commit."""
    creating = index is None
    index = index or CompositeIndex()
    for name, value in fields.items():
        setattr(index, name, value)
    index.stamp(user)
    index.save()
    if components is not None:
        existing = {c.indicator_id: c for c in index.components.all()}
        for position, spec in enumerate(components):
            comp = existing.pop(spec["indicator"].pk, None)
            if comp is None:
                comp = IndexComponent(index=index, indicator=spec["indicator"])
            values = {
                "weight": Decimal(str(spec.get("weight", 1))), "standardise": spec.get("standardise", True),
                "invert": spec.get("invert", False), "order": spec.get("order", position),
            }
            if comp._state.adding or any(getattr(comp, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(comp, k, v)
                comp.stamp(user)
                comp.save()
        for comp in existing.values():
            comp.delete()
    if classes is not None:
        wanted = {c["label"].strip(): c for c in classes}
        existing = {c.label: c for c in index.classes.all()}
        for label, cls in existing.items():
            if label not in wanted:
                cls.delete()
        for position, (label, spec) in enumerate(wanted.items()):
            cls = existing.get(label) or IndexClass(index=index, label=label)
            values = {
                "lower": spec.get("lower"), "lower_inclusive": spec.get("lower_inclusive", True),
                "upper": spec.get("upper"), "upper_inclusive": spec.get("upper_inclusive", False),
                "order": spec.get("order", position),
            }
            if cls._state.adding or any(getattr(cls, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(cls, k, v)
                cls.stamp(user)
                cls.save()
    if not creating:
        definition_changed(index)
    return index


def definition_changed(index: CompositeIndex) -> None:
    """Recompute (after commit) every period that already has results."""
    enqueue_compute(index.pk, index.result_periods())


@transaction.atomic
def delete_index(index: CompositeIndex) -> None:
    """Delete the index, its results and its result indicator (with its values).
    Raises ProtectedError if the result indicator is still used elsewhere."""
    indicator = index.result_indicator
    index.delete()
    indicator.delete()


def definition_as_dict(index: CompositeIndex) -> dict:
    """The JSON definition (the management command's and the API's format)."""

    def num(value):
        return None if value is None else str(value.normalize() if value != value.to_integral() else value.quantize(1))

    return {
        "key": index.key,
        "name": index.name,
        "description": index.description,
        "kind": index.kind,
        "scope_level": index.scope_level.key,
        "scope_ancestor": index.scope_ancestor.code if index.scope_ancestor_id else None,
        "exclude_indicator": index.exclude_indicator.key if index.exclude_indicator_id else None,
        "exclude_below": num(index.exclude_below),
        "restandardise": index.restandardise,
        "components": [
            {"indicator": c.indicator.key, "weight": num(c.weight), "standardise": c.standardise, "invert": c.invert}
            for c in index.components.select_related("indicator")
        ],
        "classes": [
            {"label": c.label, "lower": num(c.lower), "lower_inclusive": c.lower_inclusive, "upper": num(c.upper),
             "upper_inclusive": c.upper_inclusive}
            for c in index.classes.all()
        ],
    }


# --- Enqueueing and triggers ----------------------------------------------------------


def enqueue_compute(index_id: int, periods) -> list:
    """Compute the index for these periods in the worker, after commit (eagerly
    in-process without Redis). Returns a ``core.queueing.Sending`` per period:
    while the broker is unreachable the task is not sent (logged with index and
    period; the change that asked for it is not failed) and ``sent`` is False."""
    from core.queueing import send_on_commit

    from .tasks import compute_index

    return [send_on_commit(compute_index, index_id, period, record=True) for period in sorted(set(periods))]


def indices_using(indicator_ids) -> list[int]:
    """Indices that read any of these indicators (as component or exclusion
    indicator). A change of an index's own result indicator never triggers that
    index (no loops; definitions refuse cycles between indices)."""
    ids = set(indicator_ids)
    if not ids:
        return []
    found = set()
    for index_id, indicator_id, own in IndexComponent.objects.filter(indicator_id__in=ids).values_list(
        "index_id", "indicator_id", "index__result_indicator_id"
    ):
        if indicator_id != own:
            found.add(index_id)
    for index_id, indicator_id, own in CompositeIndex.objects.filter(exclude_indicator_id__in=ids).values_list(
        "pk", "exclude_indicator_id", "result_indicator_id"
    ):
        if indicator_id != own:
            found.add(index_id)
    return sorted(found)


# --- Computation --------------------------------------------------------------------------


@dataclass
class RegionOutcome:
    region_id: int
    code: str
    status: str
    value: Decimal | None = None
    weighted_sum: Decimal | None = None
    class_label: str = ""
    reason: str = ""
    missing: list = field(default_factory=list)
    inputs: dict = field(default_factory=dict)


def zscores(values: list[float]) -> tuple[list[float], float, float]:
    """z = (x − mean) / sd with the population standard deviation (ddof = 0).
    A constant list (sd = 0) gives zeros. Returns (z, mean, sd)."""
    n = len(values)
    if n == 0:
        return [], 0.0, 0.0
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / n)
    if sd == 0:
        return [0.0] * n, mean, 0.0
    return [(v - mean) / sd for v in values], mean, sd


def to_decimal(x: float) -> Decimal:
    d = Decimal(x).quantize(QUANTUM, rounding=ROUND_HALF_EVEN)
    return abs(d) if d.is_zero() else d


def classify(value: Decimal | None, classes) -> str:
    for cls in classes:
        if cls.contains(value):
            return cls.label
    return ""


def number(value: Decimal) -> str:
    return format(value.normalize() if value != value.to_integral() else value.quantize(1), "f")


def evaluate(index: CompositeIndex, components, classes, rows) -> tuple[list[RegionOutcome], list[str]]:
    """The pure computation: ``rows`` are (region_id, code, {indicator_id: Decimal})
    for every region in scope. Returns the outcome per region and warnings."""
    warnings = []
    outcomes, computed = [], []
    ex = index.exclude_indicator if index.exclude_indicator_id else None
    for region_id, code, values in rows:
        out = RegionOutcome(region_id, code, IndexResultStatus.OK)
        out.inputs = {c.indicator.key: {"value": number(values[c.indicator_id])}
                      for c in components if c.indicator_id in values}
        if ex is not None:
            ex_value = values.get(ex.pk)
            if ex_value is None:
                out.status, out.missing = IndexResultStatus.MISSING, [ex.key]
                out.reason = _("Wert für den Ausschluss-Indikator %(key)s fehlt") % {"key": ex.key}
            elif ex_value < index.exclude_below:
                out.status = IndexResultStatus.EXCLUDED
                out.reason = _("%(key)s = %(value)s unter der Schwelle %(below)s") % {
                    "key": ex.key, "value": number(ex_value), "below": number(index.exclude_below)
                }
        if out.status == IndexResultStatus.OK:
            missing = [c.indicator.key for c in components if c.indicator_id not in values]
            if missing:
                out.status, out.missing = IndexResultStatus.MISSING, missing
                out.reason = _("fehlende Werte: %(keys)s") % {"keys": ", ".join(missing)}
            else:
                computed.append((out, values))
        outcomes.append(out)

    sums = [0.0] * len(computed)
    for comp in components:
        sign = -1.0 if comp.invert else 1.0
        xs = [sign * float(values[comp.indicator_id]) for _out, values in computed]
        if comp.standardise:
            scores, _mean, sd = zscores(xs)
            if computed and sd == 0:
                warnings.append(_("%(key)s hat in allen berechneten Räumen denselben Wert (z = 0).")
                                % {"key": comp.indicator.key})
        else:
            scores = xs
        weight = float(comp.weight)
        for i, (out, _values) in enumerate(computed):
            out.inputs[comp.indicator.key]["score"] = round(scores[i], INDEX_DECIMALS)
            sums[i] += weight * scores[i]
    finals = sums
    if index.restandardise:
        finals, _mean, sd = zscores(sums)
        if len(computed) > 1 and sd == 0:
            warnings.append(_("Die gewichtete Summe ist in allen berechneten Räumen gleich (z = 0)."))
    for i, (out, _values) in enumerate(computed):
        out.weighted_sum = to_decimal(sums[i])
        out.value = to_decimal(finals[i])
        out.class_label = classify(out.value, classes)
    if computed and classes and any(not out.class_label for out, _v in computed):
        warnings.append(_("Einige Werte liegen in keiner Klasse."))
    return outcomes, warnings


def load_rows(index: CompositeIndex, components, period: str) -> list[tuple[int, str, dict]]:
    """Every region in scope with its values of the components and the exclusion
    indicator in ``period``: one query."""
    ids = [c.indicator_id for c in components]
    if index.exclude_indicator_id:
        ids.append(index.exclude_indicator_id)
    params = {"ids": ids, "period": period, "level": index.scope_level_id}
    where = "r.level_id = %(level)s"
    if index.scope_ancestor_id is not None:
        where += " AND r.path LIKE %(prefix)s"
        ancestor_path = Region.objects.filter(pk=index.scope_ancestor_id).values_list("path", flat=True).first()
        params["prefix"] = ancestor_path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    sql = f"""
        SELECT r.id, r.code, v.indicator_id, v.value
        FROM {REG} r
        LEFT JOIN {IV} v ON v.region_id = r.id AND v.period = %(period)s AND v.indicator_id = ANY(%(ids)s)
        WHERE {where}
        ORDER BY r.code, r.id
    """
    rows: dict[int, tuple[int, str, dict]] = {}
    with connection.cursor() as cur:
        cur.execute(sql, params)
        for region_id, code, indicator_id, value in cur.fetchall():
            row = rows.get(region_id)
            if row is None:
                row = rows[region_id] = (region_id, code, {})
            if indicator_id is not None:
                row[2][indicator_id] = value
    return list(rows.values())


UPSERT_SQL = f"""
    WITH data AS (
        SELECT * FROM unnest(%(regions)s::bigint[], %(values)s::numeric[]) AS d(region_id, value)
    ),
    ins AS (
        INSERT INTO {IV} (indicator_id, region_id, period, value, is_rollup, created_at, updated_at,
                          created_by_id, updated_by_id)
        SELECT %(ind)s, region_id, %(period)s, value, false, now(), now(), %(user)s, %(user)s FROM data
        ON CONFLICT (indicator_id, region_id, period) DO UPDATE
            SET value = EXCLUDED.value, is_rollup = false, rollup_weight = NULL, import_run_id = NULL,
                updated_at = now(), updated_by_id = EXCLUDED.updated_by_id
            WHERE {IV}.value IS DISTINCT FROM EXCLUDED.value OR {IV}.is_rollup
        RETURNING region_id, (xmax = 0) AS inserted
    ),
    del AS (
        DELETE FROM {IV} old
        WHERE old.indicator_id = %(ind)s AND old.period = %(period)s
          AND NOT EXISTS (SELECT 1 FROM data WHERE data.region_id = old.region_id)
        RETURNING old.region_id
    )
    SELECT (SELECT count(*) FROM ins WHERE inserted), (SELECT count(*) FROM ins WHERE NOT inserted),
           (SELECT count(*) FROM del),
           ARRAY(SELECT region_id FROM ins UNION SELECT region_id FROM del ORDER BY 1)
"""


def _store_values(index: CompositeIndex, period: str, outcomes, user) -> dict:
    ok = [o for o in outcomes if o.status == IndexResultStatus.OK]
    with connection.cursor() as cur:
        cur.execute(UPSERT_SQL, {
            "regions": [o.region_id for o in ok], "values": [o.value for o in ok],
            "ind": index.result_indicator_id, "period": period, "user": getattr(user, "pk", None),
        })
        created, updated, removed, changed = cur.fetchone()
    return {"values_created": created, "values_updated": updated, "values_removed": removed,
            "changed_regions": list(changed or [])}


def _store_results(index: CompositeIndex, period: str, outcomes) -> None:
    now = timezone.now()
    IndexResult.objects.bulk_create(
        [
            IndexResult(
                index=index, region_id=o.region_id, period=period, status=o.status, value=o.value,
                weighted_sum=o.weighted_sum, class_label=o.class_label, reason=o.reason[:500], missing=o.missing,
                inputs=o.inputs, computed_at=now,
            )
            for o in outcomes
        ],
        update_conflicts=True,
        unique_fields=["index", "region", "period"],
        update_fields=["status", "value", "weighted_sum", "class_label", "reason", "missing", "inputs", "computed_at"],
        batch_size=2000,
    )
    # regions that left the scope
    IndexResult.objects.filter(index=index, period=period).exclude(computed_at=now).delete()


def compute(index_id: int, period: str, *, user=None) -> dict:
    """Compute one index for one period and store the results (atomic; the
    index row is locked, so two computations of one index never interleave).
    Idempotent: unchanged results write no indicator values and send no signal."""
    if not re.match(PERIOD_REGEX, period or ""):
        raise ValueError(_("Zeitraum muss JJJJ, JJJJ-MM oder JJJJ-MM-TT sein."))
    with transaction.atomic():
        index = (
            CompositeIndex.objects.select_for_update(of=("self",))
            .select_related("exclude_indicator", "scope_level")
            .get(pk=index_id)
        )
        components = list(index.components.select_related("indicator"))
        classes = list(index.classes.all())
        rows = load_rows(index, components, period)
        component_ids = {c.indicator_id for c in components}
        has_data = any(component_ids & set(values) for _id, _code, values in rows)
        if not has_data:
            outcomes, warnings = [], [_("Im Zeitraum %(period)s gibt es keine Werte der Komponenten.") % {"period": period}]
        else:
            outcomes, warnings = evaluate(index, components, classes, rows)
        _store_results(index, period, outcomes)
        stored = _store_values(index, period, outcomes, user)
        changed = stored.pop("changed_regions")
        if changed:
            indicator_id = index.result_indicator_id
            transaction.on_commit(
                lambda: indicator_values_changed.send(
                    sender=IndicatorValue, indicator_ids=[indicator_id], periods=[period], region_ids=changed
                )
            )
    counts = {s.value: 0 for s in IndexResultStatus}
    for o in outcomes:
        counts[o.status] += 1
    return {"index": index.key, "period": period, "regions": len(outcomes), **counts, **stored, "warnings": warnings}
