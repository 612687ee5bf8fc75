"""The figures behind the planner overview: key figures of a fiscal year, the
values of a choropleth map, coverage of regions × fields of action.

The map's values are served to the browser by ``/api/v1/map-data/``
(``sozialraum.api_dashboard``) and to the page's table by the same function
here, so map, table and integrations show the same numbers. Everything is
scoped by ``for_user``; every function runs a fixed number of queries.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Max, Q, Sum
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from budgets.comparison_views import DELTA_CLASSES, delta_class, remembered_variant, signed_money, signed_percent
from budgets.models import Allocation, AllocationRun, Budget, Expenditure
from budgets.per_resident import path_prefixes, per_resident
from budgets.services import compare, run_totals
from cooperation.choices import AgreementStatus, ServiceStatus
from cooperation.models import Agreement, Service
from core.access import Action
from core.models import FieldOfAction
from regions.models import CompositeIndex, IndexClass, IndexResult, Indicator, IndicatorValue, Region, RegionLevel

# ColorBrewer "YlGnBu" (Cynthia Brewer, colorbrewer2.org, Apache-2.0 licensed colour values): sequential,
# colour-blind safe and monotonic in lightness, so it reads in greyscale too. Dark classes get white text.
PALETTES = {
    1: ["#41b6c4"],
    2: ["#a1dab4", "#225ea8"],
    3: ["#edf8b1", "#7fcdbb", "#2c7fb8"],
    4: ["#ffffcc", "#a1dab4", "#41b6c4", "#225ea8"],
    5: ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"],
    6: ["#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494"],
    7: ["#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84"],
}
MAX_CLASSES = 5


# --- fiscal year and key figures ----------------------------------------------------------


def fiscal_years(user) -> list[int]:
    """The fiscal years of the budgets the user sees, newest first."""
    return list(Budget.objects.for_user(user, Action.VIEW).order_by("-fiscal_year")
                .values_list("fiscal_year", flat=True).distinct())


def choose_year(years: list[int], requested: str | None) -> int:
    today = datetime.date.today().year
    if requested and requested.isdigit() and int(requested) in years:
        return int(requested)
    if today in years:
        return today
    future = sorted(y for y in years if y > today)
    return future[0] if future else (years[0] if years else today)


def year_budgets(user, year: int) -> list[Budget]:
    return list(Budget.objects.for_user(user, Action.VIEW).filter(fiscal_year=year).with_adopted_run()
                .select_related("field", "target_level", "scope_region").order_by("name", "pk"))


@dataclass
class KeyFigures:
    year: int
    regions: int
    active_services: int
    active_agreements: int
    budgets: int
    allocated: Decimal
    spent: Decimal
    unadopted: int  # budgets of the year without an adopted run

    @property
    def remaining(self) -> Decimal:
        return self.allocated - self.spent

    @property
    def percent_spent(self) -> Decimal | None:
        if not self.allocated:
            return None
        return (self.spent * 100 / self.allocated).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def key_figures(user, year: int, budgets: list[Budget]) -> KeyFigures:
    """Regions, offerings active now, agreements active in the year, and the
    year's budgets: allocated by their adopted runs, spent, remaining."""
    start, end = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    run_ids = [b.adopted_run_id for b in budgets if b.adopted_run_id]
    allocated = (Allocation.objects.filter(run_id__in=run_ids).aggregate(s=Sum("amount"))["s"]
                 if run_ids else None) or Decimal("0.00")
    spent = (Expenditure.objects.filter(budget__in=[b.pk for b in budgets]).aggregate(s=Sum("amount"))["s"]
             if budgets else None) or Decimal("0.00")
    agreements = Agreement.objects.for_user(user, Action.VIEW).filter(status=AgreementStatus.ACTIVE).filter(
        valid_from__lte=end).filter(Q(valid_until__isnull=True) | Q(valid_until__gte=start))
    return KeyFigures(
        year=year,
        regions=Region.objects.for_user(user, Action.VIEW).count(),
        active_services=Service.objects.for_user(user, Action.VIEW).filter(status=ServiceStatus.ACTIVE).count(),
        active_agreements=agreements.count(),
        budgets=len(budgets), allocated=allocated, spent=spent,
        unadopted=sum(1 for b in budgets if not b.adopted_run_id),
    )


# --- map metrics --------------------------------------------------------------------------


def map_levels() -> list[RegionLevel]:
    """The levels that have boundaries (only those can be drawn)."""
    return list(RegionLevel.objects.filter(regions__boundary__isnull=False).distinct().order_by("rank", "key"))


@dataclass
class Metric:
    key: str  # "indicator:<key>", "index:<key>", "budget:<id>"
    label: str
    group: str


def metrics(user, budgets: list[Budget]) -> list[Metric]:
    out = [Metric(f"indicator:{i.key}", i.name, _("Indikatoren"))
           for i in Indicator.objects.for_user(user, Action.VIEW).filter(values__isnull=False).distinct()
           .order_by("name").only("key", "name")]
    out += [Metric(f"index:{i.key}", _("%(name)s (Indexklasse)") % {"name": i.name}, _("Indizes"))
            for i in CompositeIndex.objects.for_user(user, Action.VIEW).filter(results__isnull=False).distinct()
            .order_by("name").only("key", "name")]
    out += [Metric(f"budget:{b.pk}", _("%(name)s: Zuweisung je Einwohner") % {"name": b.name}, _("Budgets"))
            for b in budgets if b.adopted_run_id]
    return out


@dataclass
class MapClass:
    label: str
    color: str
    count: int = 0
    dark: bool = False
    hatched: bool = False  # drawn with hatching too (a direction not told by colour alone)


@dataclass
class MapRegion:
    code: str
    name: str
    url: str
    value: Decimal | None
    text: str  # the value in German format with unit, or why there is none
    klass: int | None  # index into MapData.classes


@dataclass
class MapData:
    metric: str
    title: str
    unit: str
    period: str
    level: str
    classes: list[MapClass] = field(default_factory=list)
    regions: list[MapRegion] = field(default_factory=list)
    note: str = ""

    def as_json(self) -> dict:
        return {
            "metric": self.metric, "title": self.title, "unit": self.unit, "period": self.period,
            "level": self.level, "note": self.note,
            "classes": [{"label": c.label, "color": c.color, "count": c.count, "dark": c.dark, "hatched": c.hatched}
                        for c in self.classes],
            "regions": [{"code": r.code, "name": r.name, "url": r.url,
                         "value": None if r.value is None else str(r.value), "text": r.text, "class_index": r.klass}
                        for r in self.regions],
        }


class MetricError(ValueError):
    pass


def _fmt(value: Decimal, decimals: int, unit: str = "") -> str:
    text = number_format(value, decimal_pos=decimals, force_grouping=True)
    return f"{text}\u00a0{unit}" if unit else text


def quantile_classes(values: list[Decimal], decimals: int, unit: str) -> tuple[list[Decimal], list[MapClass]]:
    """Up to five classes of (about) equal counts; the breaks are upper bounds."""
    distinct = sorted(set(values))
    if not distinct:
        return [], []
    n = min(MAX_CLASSES, len(distinct))
    ordered = sorted(values)
    breaks = []
    for i in range(1, n + 1):
        b = ordered[min(len(ordered) - 1, (i * len(ordered)) // n - 1 if i < n else len(ordered) - 1)]
        if not breaks or b > breaks[-1]:
            breaks.append(b)
    palette = PALETTES[len(breaks)]
    classes, lower = [], distinct[0]
    for i, upper in enumerate(breaks):
        label = (_("%(low)s bis %(high)s") % {"low": _fmt(lower, decimals), "high": _fmt(upper, decimals, unit)}
                 if lower != upper else _fmt(upper, decimals, unit))
        classes.append(MapClass(label=label, color=palette[i], dark=i >= len(palette) - 2 and len(palette) >= 4))
        lower = next((v for v in distinct if v > upper), upper)
    return breaks, classes


def _classify(value: Decimal, breaks: list[Decimal]) -> int:
    for i, upper in enumerate(breaks):
        if value <= upper:
            return i
    return len(breaks) - 1


def _region_url(code: str) -> str:
    return reverse("region-detail", args=[code])


def map_data(user, level_key: str, metric: str, period: str | None = None) -> MapData:
    """The values of ``metric`` for the regions of ``level_key`` the user sees,
    classified for a map. Raises MetricError (German) for an unknown level,
    metric or period."""
    level = RegionLevel.objects.filter(key=level_key).first()
    if level is None:
        raise MetricError(_("Unbekannte Raumebene „%(key)s“.") % {"key": level_key})
    regions = list(Region.objects.for_user(user, Action.VIEW).filter(level=level).order_by("code")
                   .values_list("pk", "code", "name"))
    kind, _sep, key = metric.partition(":")
    if kind == "indicator":
        return _indicator_map(user, level, regions, key, period)
    if kind == "index":
        return _index_map(user, level, regions, key, period)
    if kind == "budget":
        return _budget_map(user, level, regions, key)
    if kind == "delta":
        return _delta_map(user, level, regions, key)
    if kind == "whatif":
        return _whatif_map(user, level, regions, key)
    raise MetricError(_("Unbekannte Kennzahl „%(metric)s“ (indicator:…, index:…, budget:…, delta:… oder whatif:…).") % {
        "metric": metric})


def _indicator_map(user, level, regions, key, period) -> MapData:
    indicator = Indicator.objects.for_user(user, Action.VIEW).filter(key=key).first()
    if indicator is None:
        raise MetricError(_("Unbekannter Indikator „%(key)s“.") % {"key": key})
    values = IndicatorValue.objects.for_user(user, Action.VIEW).filter(indicator=indicator, region__level=level)
    if not period:
        period = values.aggregate(p=Max("period"))["p"] or ""
    by_region = dict(values.filter(period=period).values_list("region_id", "value")) if period else {}
    data = MapData(metric=f"indicator:{key}", title=indicator.name, unit=indicator.unit, period=period,
                   level=level.key)
    return _classified(data, regions, by_region, indicator.decimals, indicator.unit)


def _classified(data: MapData, regions, by_region: dict, decimals: int, unit: str) -> MapData:
    breaks, data.classes = quantile_classes([v for v in by_region.values() if v is not None], decimals, unit)
    for pk, code, name in regions:
        value = by_region.get(pk)
        if value is None:
            data.regions.append(MapRegion(code, name, _region_url(code), None, _("kein Wert"), None))
            continue
        klass = _classify(value, breaks)
        data.classes[klass].count += 1
        data.regions.append(MapRegion(code, name, _region_url(code), value, _fmt(value, decimals, unit), klass))
    return data


def _index_map(user, level, regions, key, period) -> MapData:
    index = CompositeIndex.objects.for_user(user, Action.VIEW).filter(key=key).first()
    if index is None:
        raise MetricError(_("Unbekannter Index „%(key)s“.") % {"key": key})
    results = IndexResult.objects.for_user(user, Action.VIEW).filter(index=index, region__level=level)
    if not period:
        period = results.aggregate(p=Max("period"))["p"] or ""
    labels = list(IndexClass.objects.filter(index=index).order_by("order", "pk").values_list("label", flat=True))
    if not labels:  # an index without classes is shown like an indicator: by quantiles of its values
        by_value = dict(results.filter(period=period, value__isnull=False).values_list("region_id", "value")) \
            if period else {}
        data = MapData(metric=f"index:{key}", title=index.name, unit="", period=period, level=level.key,
                       note=_("Der Index hat keine Klassen; die Karte teilt seine Werte in gleich große Gruppen."))
        return _classified(data, regions, by_value, 2, "")
    palette = PALETTES[min(max(len(labels), 1), 7)] if labels else []
    data = MapData(metric=f"index:{key}", title=index.name, unit="", period=period, level=level.key,
                   classes=[MapClass(label=label, color=palette[min(i, len(palette) - 1)],
                                     dark=len(palette) >= 4 and i >= len(palette) - 2)
                            for i, label in enumerate(labels)])
    by_region = {r[0]: r[1:] for r in results.filter(period=period).values_list(
        "region_id", "value", "class_label", "status", "reason")} if period else {}
    position = {label: i for i, label in enumerate(labels)}
    for pk, code, name in regions:
        row = by_region.get(pk)
        if row is None or row[0] is None:
            why = (row[3] if row else "") or _("kein Ergebnis")
            data.regions.append(MapRegion(code, name, _region_url(code), None, why, None))
            continue
        value, label = row[0], row[1]
        klass = position.get(label)
        if klass is not None:
            data.classes[klass].count += 1
        text = f"{label} ({_fmt(value, 2)})" if label else _fmt(value, 2)
        data.regions.append(MapRegion(code, name, _region_url(code), value, text, klass))
    return data


def _budget_map(user, level, regions, key) -> MapData:
    budget = (Budget.objects.for_user(user, Action.VIEW).filter(pk=int(key) if key.isdigit() else None)
              .with_adopted_run().first())
    if budget is None or not budget.adopted_run_id:
        raise MetricError(_("Unbekanntes Budget „%(key)s“ oder keine beschlossene Berechnung.") % {"key": key})
    paths = dict(Region.objects.filter(pk__in=[pk for pk, _c, _n in regions]).values_list("path", "pk"))
    result = per_resident(budget.adopted_run_id, paths)
    data = MapData(metric=f"budget:{budget.pk}", title=_("%(name)s %(year)s: Zuweisung je Einwohner") % {
        "name": budget.name, "year": budget.fiscal_year}, unit="€", period="", level=level.key,
        note=_("Zuweisung der beschlossenen Berechnung geteilt durch die Einwohnerzahl "
               "(Indikator „%(key)s“, Stand %(period)s).") % {"key": result.population_key,
                                                               "period": result.period or "–"})
    return _classified(data, regions, result.per_resident, 2, "€")


def _delta_map(user, level, regions, key) -> MapData:
    """``delta:<run a>:<run b>``: the change of each region's amount from run A
    to run B of one budget, in the comparison page's five classes."""
    a_text, _sep, b_text = key.partition(":")
    runs = {r.pk: r for r in AllocationRun.objects.for_user(user, Action.VIEW).filter(
        pk__in=[int(t) for t in (a_text, b_text) if t.isdigit()]).select_related("budget")}
    a, b = runs.get(int(a_text)) if a_text.isdigit() else None, runs.get(int(b_text)) if b_text.isdigit() else None
    if a is None or b is None or a.budget_id != b.budget_id:
        raise MetricError(_("Unbekannte Berechnungen „%(key)s“ (zwei Berechnungen desselben Budgets).") % {"key": key})
    data = MapData(metric=f"delta:{a.pk}:{b.pk}", level=level.key, unit="€", period="",
                   title=_("Veränderung von Berechnung #%(a)s zu #%(b)s") % {"a": a.pk, "b": b.pk})
    return _delta_classified(data, regions, compare(run_totals(a), run_totals(b)))


def _whatif_map(user, level, regions, token) -> MapData:
    """``whatif:<token>``: a what-if variant just computed on the budget's
    what-if page (kept in the cache for an hour, for the same user) against the
    run it was compared with."""
    entry = remembered_variant(user, token)
    if entry is None or not Budget.objects.for_user(user, Action.VIEW).filter(pk=entry["budget"]).exists():
        raise MetricError(_("Diese Variante ist nicht (mehr) vorhanden; bitte neu berechnen."))
    data = MapData(metric=f"whatif:{token}", level=level.key, unit="€", period="",
                   title=_("Veränderung der Variante gegenüber Berechnung #%(run)s") % {"run": entry["base_run"]})
    return _delta_classified(data, regions, entry["rows"])


def _delta_classified(data: MapData, regions, rows: list[dict]) -> MapData:
    """Each region's difference (``services.compare`` rows) in the five classes
    of the comparison page (decreases also hatched)."""
    by_code = {r["region"]: r for r in rows}
    keys = list(DELTA_CLASSES)
    data.classes = [MapClass(label=str(label), color=fill, hatched=hatched, dark=k.endswith("strong"))
                    for k, (label, fill, hatched) in DELTA_CLASSES.items()]
    for _pk, code, name in regions:
        row = by_code.get(code)
        if row is None:
            data.regions.append(MapRegion(code, name, _region_url(code), None, _("nicht in der Verteilung"), None))
            continue
        klass = keys.index(delta_class(row["delta"], row["delta_percent"]))
        data.classes[klass].count += 1
        text = signed_money(row["delta"]) + (f" ({signed_percent(row['delta_percent'])})"
                                              if row["delta_percent"] is not None else "")
        data.regions.append(MapRegion(code, name, _region_url(code), row["delta"], text, klass))
    return data


# --- coverage -----------------------------------------------------------------------------


def coverage_levels() -> list[RegionLevel]:
    """Levels below the top one (a whole city in one row says little)."""
    return list(RegionLevel.objects.filter(rank__gt=RegionLevel.objects.order_by("rank").values("rank")[:1])
                .order_by("rank", "key"))


def index_choices(user) -> list[CompositeIndex]:
    return list(CompositeIndex.objects.for_user(user, Action.VIEW).filter(results__isnull=False).distinct()
                .select_related("scope_level").order_by("name").only("key", "name", "scope_level__key"))


@dataclass
class CoverageCell:
    services: int
    places: int
    population: Decimal | None
    per_thousand: Decimal | None


@dataclass
class CoverageRow:
    code: str
    name: str
    index_class: str
    cells: list[CoverageCell]


def age_bands() -> list[tuple[str, int, int | None]]:
    """(indicator key, age from, age to exclusive or None) of the residents' age bands."""
    return [(key, int(lo), None if hi in (None, "") else int(hi)) for key, lo, hi in settings.SOZIALRAUM_AGE_BANDS]


def _band_keys(age_min: int | None, age_max: int | None, bands) -> tuple[str, ...]:
    lo = 0 if age_min is None else age_min
    hi = None if age_max is None else age_max + 1  # age_max is inclusive
    return tuple(key for key, b_lo, b_hi in bands
                 if (hi is None or b_lo < hi) and (b_hi is None or b_hi > lo))


def coverage(user, level_key: str, index_key: str | None = None) -> tuple[list[FieldOfAction], list[CoverageRow]]:
    """Regions of a level × top-level fields of action: active offerings serving
    the region (directly, a region inside it, or a region containing it; city-wide
    offerings everywhere), their places, and places per 1,000 residents of the
    offerings' target ages (from the age-band indicators); beside the region's
    index class."""
    fields = list(FieldOfAction.objects.filter(parent__isnull=True, active=True).order_by("order", "name"))
    level = RegionLevel.objects.filter(key=level_key).first()
    if level is None:
        return fields, []
    regions = list(Region.objects.for_user(user, Action.VIEW).filter(level=level).order_by("code")
                   .values_list("pk", "code", "name", "path"))
    field_of = {}  # any field id → its top-level field id
    for pk, path in FieldOfAction.objects.values_list("pk", "path"):
        field_of[pk] = int(path.split("/", 1)[0]) if path else pk
    services = list(Service.objects.for_user(user, Action.VIEW).filter(status=ServiceStatus.ACTIVE)
                    .values_list("pk", "age_min", "age_max", "capacity", "city_wide"))
    service_fields: dict[int, set[int]] = {}
    active = Service.objects.for_user(user, Action.VIEW).filter(status=ServiceStatus.ACTIVE).values("pk")
    for sid, fid in Service.fields.through.objects.filter(service_id__in=active).values_list(
            "service_id", "fieldofaction_id"):
        service_fields.setdefault(sid, set()).add(field_of.get(fid, fid))
    service_paths: dict[int, list[str]] = {}
    for sid, path in Service.regions.through.objects.filter(service_id__in=active).values_list(
            "service_id", "region__path"):
        service_paths.setdefault(sid, []).append(path)
    bands = age_bands()
    band_values: dict[tuple[int, str], Decimal] = {}
    band_keys = [b[0] for b in bands]
    latest = dict(IndicatorValue.objects.filter(indicator__key__in=band_keys, region__level=level)
                  .values("indicator__key").annotate(p=Max("period")).values_list("indicator__key", "p"))
    for region_id, key, period, value in IndicatorValue.objects.filter(
            indicator__key__in=band_keys, region__level=level).values_list(
            "region_id", "indicator__key", "period", "value"):
        if latest.get(key) == period:
            band_values[(region_id, key)] = value
    classes = {}
    if index_key:
        results = IndexResult.objects.for_user(user, Action.VIEW).filter(index__key=index_key, region__level=level)
        period = results.aggregate(p=Max("period"))["p"]
        classes = dict(results.filter(period=period).values_list("region_id", "class_label")) if period else {}
    field_index = {f.pk: i for i, f in enumerate(fields)}
    # which offerings serve each region of the level: a region inside it or the region itself (``own``),
    # or a region containing it (``above``: the same for all the level's regions below that region)
    by_path = {path: pk for pk, _c, _n, path in regions}
    depth = regions[0][3].count("/") if regions else 0
    own: dict[int, set[int]] = {pk: set() for pk, _c, _n, _p in regions}
    above: dict[str, set[int]] = {}
    for sid, paths in service_paths.items():
        for p in paths:
            if p.count("/") >= depth:
                pk = by_path.get("".join(f"{part}/" for part in p.split("/")[:depth]))
                if pk is not None:
                    own[pk].add(sid)
            else:
                above.setdefault(p, set()).add(sid)
    details = {s[0]: (s[3] or 0, _band_keys(s[1], s[2], bands)) for s in services}
    city_wide = {s[0] for s in services if s[4]}

    def add(acc, sids):
        for sid in sids:
            capacity, keys = details[sid]
            for fid in service_fields.get(sid, ()):
                i = field_index.get(fid)
                if i is not None:
                    acc[i]["services"] += 1
                    acc[i]["places"] += capacity
                    acc[i]["bands"].update(keys)

    def copy(acc):
        return [{"services": a["services"], "places": a["places"], "bands": set(a["bands"])} for a in acc]

    # the offerings of the regions above (and the city-wide ones): built once per region above the
    # level, each from its parent's (so the city-wide offerings are counted once, not per region)
    chains: dict[str, tuple[set[int], list[dict]]] = {}

    def chain(above_path: str) -> tuple[set[int], list[dict]]:
        """Offerings for every region inside ``above_path`` ("" is the whole city)."""
        if above_path not in chains:
            if above_path:
                outer = path_prefixes(above_path)[1] if above_path.count("/") > 1 else ""
                sids, acc = chain(outer)
                new = above.get(above_path, set()) - sids
                sids, acc = sids | new, copy(acc)
            else:
                new = sids = set(city_wide)
                acc = [{"services": 0, "places": 0, "bands": set()} for _f in fields]
            add(acc, new)
            chains[above_path] = (sids, acc)
        return chains[above_path]

    rows = []
    for pk, code, name, path in regions:
        inherited, base = chain(path_prefixes(path)[1] if path.count("/") > 1 else "")
        acc = copy(base)
        add(acc, own[pk] - inherited)
        cells, populations = [], {}
        for a in acc:
            bands_key = frozenset(a["bands"])
            if bands_key not in populations:  # the fields of a region often address the same ages
                values = [band_values.get((pk, key)) for key in bands_key]
                populations[bands_key] = (sum(values, Decimal(0)) if values and None not in values else None)
            population = populations[bands_key]
            per_thousand = ((Decimal(a["places"]) * 1000 / population).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
                            if population and a["places"] else None)
            cells.append(CoverageCell(a["services"], a["places"], population, per_thousand))
        rows.append(CoverageRow(code, name, classes.get(pk, ""), cells))
    return fields, rows

