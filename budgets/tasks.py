from celery import shared_task
from django.db import OperationalError

from .services import run_allocation


@shared_task(
    bind=True, acks_late=True, name="budgets.recompute_budget", autoretry_for=(OperationalError,),
    retry_backoff=2, retry_backoff_max=60, max_retries=5,
)
def recompute_budget(self, budget_id: int, trigger: str, user_id: int | None = None) -> int:
    """Compute the budget's allocation (idempotent: same inputs → the existing run)."""
    return run_allocation(budget_id, trigger=trigger, user_id=user_id).pk
