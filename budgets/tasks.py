import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import InterfaceError, OperationalError, connections

from . import services
from .models import Budget
from .services import run_allocation

logger = logging.getLogger(__name__)

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


@shared_task(acks_late=True, name="budgets.resend_stranded_runs", ignore_result=True)
def resend_stranded_runs() -> list[int]:
    """Celery beat, every minute (BUDGET_RUN_SWEEP_SECONDS): send again the runs
    whose task never reached a worker or whose worker died
    (services.resend_stranded_runs). Idempotent; a doubled run sends nothing
    twice within BUDGET_RUN_RESEND_AFTER."""
    return services.resend_stranded_runs()


@worker_ready.connect(dispatch_uid="budgets.resend_stranded_runs_at_start")
def resend_stranded_runs_at_start(sender=None, **kwargs) -> None:
    """A starting worker sends again what waited while no worker (or no broker)
    was there, without waiting for beat. Never stops the worker from starting."""
    try:
        sent = services.resend_stranded_runs()
        if sent:
            logger.info("budget runs sent again at worker start: budgets %s", sent)
    except Exception:  # noqa: BLE001 - e.g. the database is not reachable yet: beat sends them later
        logger.warning("sending stranded budget runs at worker start failed", exc_info=True)
    finally:
        connections.close_all()  # the worker's main process keeps no connection (prefork children fork from it)
