"""Reactions of the regions app to its own signals: indices are recomputed when
a value they read changes, and when the region tree changes (connected in
``RegionsConfig.ready``)."""

from .indices import enqueue_compute, indices_using


def recompute_indices_for_values(sender, indicator_ids=None, periods=None, **kwargs):
    """Enqueue a recomputation of every index that reads one of the changed
    indicators, for the changed periods. An index's own result indicator never
    triggers it (see ``indices_using``)."""
    if not indicator_ids or not periods:
        return
    for index_id in indices_using(indicator_ids):
        enqueue_compute(index_id, periods)


def recompute_indices_for_regions(sender, **kwargs):
    """The tree changed (regions created, moved): the scopes may have changed, so
    every period that has results is recomputed."""
    from .models import IndexResult

    pairs = IndexResult.objects.values_list("index_id", "period").distinct()
    by_index: dict[int, set] = {}
    for index_id, period in pairs:
        by_index.setdefault(index_id, set()).add(period)
    for index_id, periods in by_index.items():
        enqueue_compute(index_id, periods)
