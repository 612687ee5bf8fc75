"""Attainment of outcome goals (Wirkungsziele), computed from the indicator
values of the goal's region.

    baseline  the value in the baseline period (default: the oldest value)
    current   the value of the latest period
    progress  (current − baseline) / (target − baseline), in per cent
    status    achieved   current has reached the target: at or above it when higher is
                         better, at or below it when higher is worse (the indicator's
                         direction); for neutral indicators in the direction from the
                         baseline to the target
              missed     not achieved and the target date has passed
              on_track   moved towards the target
              off_track  no movement towards it (or away from it)
              no_data    no value for the indicator in the region
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from regions.choices import Direction
from regions.models import IndicatorValue

from .choices import GoalStatus
from .models import Goal


@dataclass(frozen=True)
class Attainment:
    baseline_period: str | None
    baseline: Decimal | None
    current_period: str | None
    current: Decimal | None
    target: Decimal
    progress: Decimal | None  # per cent, one decimal
    status: str

    @property
    def status_label(self) -> str:
        return GoalStatus(self.status).label

    @property
    def bar(self) -> int:
        """Progress clamped to 0…100 for a bar."""
        return 0 if self.progress is None else int(max(0, min(100, self.progress)))


def evaluate(goal: Goal, series: dict[str, Decimal], today: datetime.date | None = None) -> Attainment:
    """The attainment of ``goal`` given its region's values ``{period: value}``."""
    today = today or timezone.localdate()
    target = goal.target_value
    if not series:
        return Attainment(None, None, None, None, target, None, GoalStatus.NO_DATA)
    periods = sorted(series)
    base_period = goal.baseline_period if goal.baseline_period in series else periods[0]
    current_period = periods[-1]
    baseline, current = series[base_period], series[current_period]
    direction = goal.indicator.direction
    rising = target >= baseline if direction == Direction.NEUTRAL else direction == Direction.HIGHER_BETTER
    achieved = current >= target if rising else current <= target
    progress = None
    if target != baseline:
        progress = ((current - baseline) / (target - baseline) * 100).quantize(Decimal("0.1"))
    if achieved and (progress is None or progress < 100):
        progress = Decimal("100.0")  # reached (e.g. already at the start): complete
    if achieved:
        status = GoalStatus.ACHIEVED
    elif goal.target_date < today:
        status = GoalStatus.MISSED
    elif progress is not None and progress > 0:
        status = GoalStatus.ON_TRACK
    else:
        status = GoalStatus.OFF_TRACK
    return Attainment(base_period, baseline, current_period, current, target, progress, status)


def attainments(goals, today: datetime.date | None = None) -> dict[int, Attainment]:
    """The attainment of each goal, by goal id, from one query for all values."""
    goals = list(goals)  # with select_related("indicator") to avoid a query per goal
    pairs = {(g.indicator_id, g.region_id) for g in goals}
    if not pairs:
        return {}
    q = Q()
    for indicator_id, region_id in pairs:
        q |= Q(indicator_id=indicator_id, region_id=region_id)
    values = defaultdict(dict)
    for indicator_id, region_id, period, value in IndicatorValue.objects.filter(q).values_list(
            "indicator_id", "region_id", "period", "value"):
        values[indicator_id, region_id][period] = value
    return {g.pk: evaluate(g, values.get((g.indicator_id, g.region_id), {}), today) for g in goals}
