from celery import shared_task

from . import privacy
from .imports.base import claim, execute


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
