"""Workflows of the core app."""

from django.db import transaction

from .imports import registry
from .models import ImportRun


def submit_import(*, user, kind: str, uploaded_file, options: dict | None = None, dry_run: bool = False) -> ImportRun:
    """Store an uploaded file as a pending import run and hand it to the worker
    once the run is committed (eagerly in-process when no Redis is configured).
    Used by the upload page and the API."""
    from .tasks import run_import

    registry.get(kind)  # unknown kinds fail here, before anything is stored
    with transaction.atomic():
        run = ImportRun(kind=kind, options=options or {}, dry_run=dry_run,
                        original_name=getattr(uploaded_file, "name", "")[:255])
        run.stamp(user)
        run.file.save(run.original_name or "upload", uploaded_file, save=False)
        run.save()
        transaction.on_commit(lambda: run_import.delay(run.pk))
    return run
