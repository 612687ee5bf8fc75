import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import connections

from . import privacy, queueing
from .imports.base import claim, execute

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, name="core.run_import")
def run_import(run_id: int) -> str:
    """Run a pending import (an uploaded file). Idempotent: a run already claimed
    or finished is left alone."""
    run = claim(run_id)
    if run is None:
        return "skipped"
    return execute(run).status


@shared_task(acks_late=True, name="core.purge_audit_history")
def purge_audit_history() -> dict:
    """The daily retention job (CELERY_BEAT_SCHEDULE, 03:30): change history
    older than AUDIT_RETENTION_DAYS is deleted in batches; returns the rows
    deleted per table. Idempotent — a second run finds nothing — so
    ``acks_late`` is harmless."""
    return privacy.purge_audit_history()


@shared_task(acks_late=True, name="core.resend_stranded_work", ignore_result=True)
def resend_stranded_work() -> dict:
    """Celery beat, every TASK_RESEND_SWEEP_SECONDS (default a minute): the
    sweepers of TASK_RESEND_SWEEPERS send again the recorded work whose task
    never reached a worker (Redis was down or lost its queue) or whose worker
    died (core.queueing). Idempotent; a piece of work is sent again at most
    once per TASK_RESEND_AFTER."""
    return queueing.resend_stranded_work()


@worker_ready.connect(dispatch_uid="core.resend_stranded_work_at_start")
def resend_stranded_work_at_start(sender=None, **kwargs) -> None:
    """A starting worker sends again what waited while no worker (or no broker)
    was there, without waiting for beat. Never stops the worker from starting
    (a failing sweeper is logged by resend_stranded_work)."""
    try:
        for path, sent in queueing.resend_stranded_work().items():
            if sent:
                logger.info("sent again at worker start by %s: %s", path, sent)
    finally:
        connections.close_all()  # the worker's main process keeps no connection (prefork children fork from it)
