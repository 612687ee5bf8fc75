"""Workflows on regions and indicators that span several objects (atomic)."""

from django.db import transaction
from django.db.models import Q

from .models import Indicator, IndicatorValue
from .signals import indicator_values_changed


class CatalogueError(ValueError):
    pass


@transaction.atomic
def upsert_indicators(definitions: list[dict], user=None) -> dict:
    """Create or update indicator definitions by key (a catalogue, e.g.
    ``regions/catalogues/berlin.json``). Weight indicators are resolved by key
    after all definitions exist. Returns counts."""
    created = updated = unchanged = 0
    fields = ("name", "unit", "description", "source", "direction", "rollup", "decimals")
    by_key = {}
    errors = []
    for n, d in enumerate(definitions, start=1):
        if not d.get("key") or not d.get("name"):
            errors.append(f"Eintrag {n}: key und name sind Pflicht")
            continue
        obj = Indicator.objects.filter(key=d["key"]).first()
        values = {f: d[f] for f in fields if f in d}
        if obj is None:
            obj = Indicator(key=d["key"], **values)
            obj.stamp(user)
            # weighted means get their weight below; save as 'none' first
            pending_rollup = obj.rollup
            obj.rollup = "none" if pending_rollup == "weighted_mean" else pending_rollup
            obj.full_clean(exclude=["weight_indicator"], validate_constraints=False)
            obj.save()
            obj.rollup = pending_rollup
            created += 1
        else:
            changed = any(getattr(obj, f) != v for f, v in values.items())
            for f, v in values.items():
                setattr(obj, f, v)
            if changed:
                obj.stamp(user)
                updated += 1
            else:
                unchanged += 1
        by_key[d["key"]] = (obj, d.get("weight"))
    for key, (obj, weight_key) in by_key.items():
        if weight_key:
            weight = by_key.get(weight_key, (None,))[0] or Indicator.objects.filter(key=weight_key).first()
            if weight is None:
                errors.append(f"{key}: Gewichtungs-Indikator {weight_key!r} unbekannt")
                continue
            obj.weight_indicator = weight
        obj.save()
    if errors:
        raise CatalogueError("; ".join(errors))
    return {"created": created, "updated": updated, "unchanged": unchanged}


def _recompute_and_signal(indicator_ids, periods) -> dict:
    from . import rollup

    indicator_ids, periods = sorted(set(indicator_ids)), sorted(set(periods))
    if not indicator_ids:
        return {"rollups_written": 0, "rollups_removed": 0}
    result = rollup.recompute(indicator_ids, periods)
    transaction.on_commit(
        lambda: indicator_values_changed.send(
            sender=IndicatorValue, indicator_ids=indicator_ids, periods=periods, region_ids=None
        )
    )
    return result


@transaction.atomic
def recompute_rollups_below(paths) -> dict:
    """After regions moved: recompute the roll-ups of every indicator and period
    with values in these subtrees (old and new ancestors alike)."""
    q = Q()
    for p in paths:
        q |= Q(region__path__startswith=p)
    if not q:
        return {"rollups_written": 0, "rollups_removed": 0}
    pairs = set(IndicatorValue.objects.filter(q, is_rollup=False).values_list("indicator_id", "period").distinct())
    return _recompute_and_signal([i for i, _ in pairs], [p for _, p in pairs])


@transaction.atomic
def delete_values(values) -> int:
    """Delete indicator values and bring the roll-ups above them up to date."""
    pairs = set(values.values_list("indicator_id", "period").distinct())
    deleted, _ = values.delete()
    _recompute_and_signal([i for i, _ in pairs], [p for _, p in pairs])
    return deleted
