"""Signals regions sends for the apps above it (budgets subscribe, regions
never imports them)."""

from django.dispatch import Signal

# Sent after commit when indicator values changed.
# kwargs: indicator_ids (list[int]), periods (list[str]), region_ids (list[int] or None = many)
indicator_values_changed = Signal()

# Sent after commit when the region tree changed (regions created, moved, deleted).
regions_changed = Signal()
