"""A budget's adopted allocation per resident, for the regions of one level:
allocations summed up to the level's regions (an allocation to a region above
the level cannot be split and is left out), divided by the residents (the
indicator ``SOZIALRAUM_POPULATION_INDICATOR``, newest period). Used by the
budget page's table and by the dashboards' map (/api/v1/map-data/)."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Sum

from regions.models import IndicatorValue

from .models import Allocation

CENT = Decimal("0.01")


@dataclass
class PerResident:
    population_key: str
    period: str  # of the population values
    allocated: dict[int, Decimal]  # region pk → sum of the adopted allocations in it
    population: dict[int, Decimal]
    per_resident: dict[int, Decimal]  # rounded half up to the cent


def path_prefixes(path: str) -> list[str]:
    """A region's own path and its ancestors' paths, deepest first (paths of
    primary keys like ``1/14/``)."""
    parts = path.split("/")[:-1]
    return ["".join(f"{p}/" for p in parts[:i]) for i in range(len(parts), 0, -1)]


def _population(region_ids) -> tuple[str, str, dict[int, Decimal]]:
    """(indicator key, newest period, region pk → residents) in one query."""
    key = settings.SOZIALRAUM_POPULATION_INDICATOR
    values = list(IndicatorValue.objects.filter(indicator__key=key, region_id__in=list(region_ids))
                  .values_list("region_id", "period", "value"))
    period = max((p for _r, p, _v in values), default="")
    return key, period, {r: v for r, p, v in values if p == period}


def _result(allocated: dict[int, Decimal]) -> PerResident:
    key, period, population = _population(allocated)
    return PerResident(
        population_key=key, period=period, allocated=allocated, population=population,
        per_resident={pk: (amount / population[pk]).quantize(CENT, rounding=ROUND_HALF_UP)
                      for pk, amount in allocated.items() if population.get(pk)},
    )


def per_resident(run_id: int, regions: dict[str, int]) -> PerResident:
    """``regions``: path → pk of the level's regions. Two queries."""
    allocated: dict[int, Decimal] = {}
    for path, amount in (Allocation.objects.filter(run_id=run_id).values("region__path")
                         .annotate(s=Sum("amount")).order_by().values_list("region__path", "s")):
        target = next((regions[p] for p in path_prefixes(path) if p in regions), None)
        if target is not None:
            allocated[target] = allocated.get(target, Decimal(0)) + amount
    return _result(allocated)


def per_resident_of_run(run_id: int) -> tuple[list[tuple[int, str, str]], PerResident]:
    """The run's own regions (pk, code, name by code) and their allocation per
    resident. Two queries."""
    rows = list(Allocation.objects.filter(run_id=run_id).values("region_id", "region__code", "region__name")
                .annotate(s=Sum("amount")).order_by("region__code")
                .values_list("region_id", "region__code", "region__name", "s"))
    return [(pk, code, name) for pk, code, name, _s in rows], _result({pk: s for pk, _c, _n, s in rows})
