from celery import shared_task

from .imports.base import claim, execute


@shared_task(acks_late=True, name="core.run_import")
def run_import(run_id: int) -> str:
    """Run a pending import (an uploaded file). Idempotent: a run already claimed
    or finished is left alone."""
    run = claim(run_id)
    if run is None:
        return "skipped"
    return execute(run).status
