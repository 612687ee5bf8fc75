"""Celery tasks of the regions app (thin: the work is in ``regions.indices``)."""

import pghistory
from celery import shared_task

from .models import CompositeIndex


@shared_task(acks_late=True, name="regions.compute_index", soft_time_limit=10 * 60, time_limit=11 * 60)
def compute_index(index_id: int, period: str) -> dict:
    """Compute an index for one period. Idempotent (a re-run with the same
    inputs changes nothing); an index deleted in the meantime is skipped."""
    from .indices import compute

    if not CompositeIndex.objects.filter(pk=index_id).exists():
        return {"status": "skipped", "index_id": index_id, "period": period}
    with pghistory.context(command=f"compute_index {index_id} {period}"):
        return compute(index_id, period)
