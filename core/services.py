"""Workflows of the core app."""

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .imports import registry
from .models import ImportRun
from .queueing import send_again, send_on_commit


def submit_import(*, user, kind: str, uploaded_file, options: dict | None = None, dry_run: bool = False) -> ImportRun:
    """Store an uploaded file as a pending import run and hand it to the worker
    once the run is committed (eagerly in-process when no Redis is configured).
    Used by the upload page and the API.

    The pending run is the request: if the broker cannot be reached (Redis
    down), the run stays pending and ``resend_pending_imports`` sends it once
    Redis is back; ``run.sending.sent`` is then False (None while the caller's
    own transaction has not committed yet), so a page can say that the import
    starts later."""
    from .tasks import run_import

    registry.get(kind)  # unknown kinds fail here, before anything is stored
    with transaction.atomic():
        run = ImportRun(kind=kind, options=options or {}, dry_run=dry_run,
                        original_name=getattr(uploaded_file, "name", "")[:255])
        run.stamp(user)
        run.file.save(run.original_name or "upload", uploaded_file, save=False)
        run.save()
        run.sending = send_on_commit(run_import, run.pk)
    return run


def resend_pending_imports(older_than: float | None = None) -> list[int]:
    """A sweeper (settings.TASK_RESEND_SWEEPERS): send the import task again
    for uploaded runs still pending after ``older_than`` seconds (default
    settings.TASK_RESEND_AFTER) — their task never reached a worker (Redis was
    down when it was sent, or lost its queue) — and for runs whose worker died
    (running for longer than the task time limit). Harmless when the first message
    still arrives: the worker claims a run with a conditional UPDATE from
    pending to running, so a second message finds nothing to do. Returns the
    ids of the runs sent."""
    from .tasks import run_import

    older_than = settings.TASK_RESEND_AFTER if older_than is None else older_than
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than)
    from .imports.base import dead_before

    stranded = (Q(status=ImportRun.Status.PENDING, created_at__lt=cutoff)
                | Q(status=ImportRun.Status.RUNNING, started_at__lt=dead_before()))  # its worker died
    pending = (ImportRun.objects.filter(stranded).exclude(file="")
               .order_by("created_at", "pk").values_list("pk", flat=True))
    return [pk for pk in pending if send_again(run_import, pk, key=f"import:{pk}", every=older_than)]
