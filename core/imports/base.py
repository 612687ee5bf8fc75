"""The import machinery every import uses: one code path for management
commands, the upload page and the API.

An import runs in one transaction. Every bad line is collected with its line
number and reason; if there is any, nothing is written. A dry run does all the
work and rolls back, reporting what would change.
"""

import logging
import os
from dataclasses import dataclass, field
from datetime import timedelta

import pghistory
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import ImportRun
from . import registry
from .uploads import check_import_file

log = logging.getLogger(__name__)

MAX_STORED_ERRORS = 10_000


@dataclass
class RowError:
    line: int | None
    message: str
    column: str | None = None

    def as_dict(self):
        return {"line": self.line, "column": self.column, "message": self.message}

    def __str__(self):
        where = f"Zeile {self.line}" if self.line is not None else "Datei"
        if self.column:
            where += f", Spalte „{self.column}“"
        return f"{where}: {self.message}"


@dataclass
class Errors:
    items: list[RowError] = field(default_factory=list)
    total: int = 0

    def add(self, line, message, column=None):
        self.total += 1
        if len(self.items) < MAX_STORED_ERRORS:
            self.items.append(RowError(line, message, column))

    def __bool__(self):
        return self.total > 0


class ImportRejected(Exception):
    """The file has errors; nothing was written."""

    def __init__(self, errors: Errors):
        self.errors = errors
        super().__init__(f"{errors.total} Fehler")


class _DryRunRollback(Exception):
    pass


class Importer:
    """Base class. Subclasses set ``kind`` and ``label`` and implement ``run``,
    which reads ``source`` (a file path, or rows given by the API) and returns a
    summary dict (counts of created/updated/unchanged…). They raise
    ``ImportRejected`` with every bad line."""

    kind: str = ""
    label: str = ""
    #: options the importer understands, with their German help text
    option_help: dict[str, str] = {}

    def __init__(self, *, user=None, options: dict | None = None, import_run: ImportRun | None = None):
        self.user = user
        self.options = options or {}
        self.import_run = import_run
        self.errors = Errors()

    def run(self, source) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def reject_if_errors(self):
        if self.errors:
            raise ImportRejected(self.errors)


def execute(run: ImportRun, source=None) -> ImportRun:
    """Run an import described by ``run`` (its file, or ``source``) and record
    the outcome on ``run``. Atomic; a dry run rolls back."""
    if source is None:
        source = run.file.path
    run.status = ImportRun.Status.RUNNING
    run.started_at = timezone.now()
    run.save(update_fields=["status", "started_at", "updated_at"])
    summary = None
    try:
        if isinstance(source, (str, os.PathLike)):
            # by its content: CSV/GeoJSON text or XLSX, else refused (a ValueError, recorded below)
            check_import_file(source, name=run.original_name or None)
        # The history of everything the import writes names the run and its author.
        with pghistory.context(user=run.created_by_id, import_run=run.pk), transaction.atomic():
            importer = registry.get(run.kind)(user=run.created_by, options=run.options, import_run=run)
            summary = importer.run(source)
            if run.dry_run:
                raise _DryRunRollback()
    except _DryRunRollback:
        pass
    except ImportRejected as rejected:
        run.status = ImportRun.Status.FAILED
        run.errors = [e.as_dict() for e in rejected.errors.items]
        run.error_count = rejected.errors.total
    except (KeyError, ValueError) as exc:  # unknown kind or profile, bad options
        run.status = ImportRun.Status.FAILED
        run.errors = [RowError(None, str(exc).strip("'\"")).as_dict()]
        run.error_count = 1
    except Exception as exc:  # an unexpected failure still ends the run visibly
        log.exception("import %s failed", run.pk)
        run.status = ImportRun.Status.FAILED
        run.errors = [RowError(None, f"Interner Fehler beim Import: {exc.__class__.__name__}: {exc}").as_dict()]
        run.error_count = 1
    if summary is not None:
        run.status = ImportRun.Status.SUCCEEDED
        run.summary = summary
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "summary", "errors", "error_count", "finished_at", "updated_at"])
    return run


def import_now(kind: str, source, *, user=None, options=None, dry_run=False, original_name="") -> ImportRun:
    """Record and run an import synchronously (management commands, API bulk)."""
    run = ImportRun(kind=kind, options=options or {}, dry_run=dry_run, original_name=str(original_name)[:255])
    run.stamp(user)
    run.save()
    return execute(run, source=source)


def dead_before():
    """A run still *running* that started before this moment has lost its worker:
    the hard time limit (CELERY_TASK_TIME_LIMIT) would have ended it long ago.
    Imports write in one transaction, so such a run left nothing behind and may
    simply run again."""
    from django.conf import settings

    return timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)


def claimable() -> Q:
    return Q(status=ImportRun.Status.PENDING) | Q(status=ImportRun.Status.RUNNING, started_at__lt=dead_before())


def claim(run_id: int) -> ImportRun | None:
    """Claim a pending run — or one whose worker died — for a worker
    (conditional UPDATE: a redelivered task finds nothing to do)."""
    claimed = ImportRun.objects.filter(claimable(), pk=run_id).update(
        status=ImportRun.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    return ImportRun.objects.select_related("created_by").get(pk=run_id)
