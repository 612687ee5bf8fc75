from celery import shared_task
from django.db import InterfaceError, OperationalError

from .models import Budget
from .services import run_allocation

# Budget runs whose task never reached a worker are sent again by
# services.resend_stranded_runs, one of the sweepers core.tasks.resend_stranded_work runs.

MAX_RETRIES = 5


@shared_task(bind=True, acks_late=True, name="budgets.recompute_budget", max_retries=MAX_RETRIES)
def recompute_budget(self, budget_id: int, trigger: str, user_id: int | None = None) -> int | None:
    """Compute the budget's allocation (idempotent: same inputs → the existing
    run). ``acks_late``: a worker that dies midway leaves the message to be
    delivered again, and the next execution completes the interrupted run
    (services.run_allocation). Transient database errors are retried with
    exponential backoff (2, 4, 8, … s, at most 60 s); the last attempt records
    the run as failed."""
    if not Budget.objects.filter(pk=budget_id).exists():
        return None  # deleted meanwhile
    last_attempt = self.request.retries >= MAX_RETRIES
    try:
        return run_allocation(budget_id, trigger=trigger, user_id=user_id, last_attempt=last_attempt).pk
    except (OperationalError, InterfaceError) as exc:
        if last_attempt:
            raise
        raise self.retry(exc=exc, countdown=min(60, 2 ** (self.request.retries + 1))) from exc


@shared_task(bind=True, acks_late=True, name="budgets.recompute_providers", max_retries=MAX_RETRIES)
def recompute_providers(self, budget_id: int) -> dict:
    """Recompute a budget's Trägerbudgets (idempotent; a re-delivered message
    after a worker died recomputes the same rows). Transient database errors
    are retried with backoff."""
    from .providers import recompute

    try:
        return recompute(budget_id)
    except (OperationalError, InterfaceError) as exc:
        if self.request.retries >= MAX_RETRIES:
            raise
        raise self.retry(exc=exc, countdown=min(60, 2 ** (self.request.retries + 1))) from exc
