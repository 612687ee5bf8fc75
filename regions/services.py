"""Workflows on regions and indicators that span several objects (atomic)."""

from django.db import transaction

from .models import Indicator


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
