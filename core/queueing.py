"""Handing tasks to the broker (Redis) without failing the request that sends them.

Every task of the apps is published through ``send`` (or ``send_on_commit``,
the usual way: after the change that asks for it is committed). While the
broker cannot be reached, ``send`` logs a warning and returns False instead of
raising: the change has been committed already, so the user gets their page or
API answer, not a 500.

What was not sent is not lost where the work is recorded in the database —
a pending ``ImportRun``, a queued ``AllocationRun``: each app has a *sweeper*
that finds its work waiting too long and sends the task again
(``send_again``). The sweepers are listed in ``settings.TASK_RESEND_SWEEPERS``
(dotted paths, so core imports no app above it); ``resend_stranded_work`` runs
them, from Celery beat (the ``stranded-work-resend`` entry, every
``TASK_RESEND_SWEEP_SECONDS``) and once when a worker starts
(``core.tasks``). A task sent twice does its work once: each claims its record
(a conditional UPDATE or a row lock) or finds nothing changed.

After a failed publish the broker is not tried again for ``RETRY_AFTER``
seconds in this process (a publish waits about a second before it gives up;
a request that sends many tasks would otherwise wait that long for each).

Without ``REDIS_URL`` tasks run eagerly in-process: ``send`` runs them and lets
their errors through, as ``delay`` does.
"""

import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

#: seconds after a failed publish in which this process does not try the broker again
RETRY_AFTER = 5.0

#: broker URL → monotonic time until which publishing is not tried (process-wide)
_DOWN_UNTIL: dict[str, float] = {}
_STATE_LOCK = threading.Lock()


def _call(task, args, kwargs) -> str:
    shown = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{task.name}({', '.join(shown)})"


def send(task, *args, countdown: float | None = None, **kwargs) -> bool:
    """Publish ``task`` with these arguments (Celery's publish retry policy,
    CELERY_TASK_PUBLISH_RETRY_POLICY, applies). Returns True when the broker
    took the message; False, with a warning in the log, when it could not be
    reached — never raises for that. ``countdown``: run no earlier than so many
    seconds from now."""
    app = task.app
    if app.conf.task_always_eager:
        task.apply_async(args=args, kwargs=kwargs, countdown=countdown)  # in-process; its errors are the caller's
        return True
    broker = str(app.conf.broker_url)
    until = _DOWN_UNTIL.get(broker)
    if until is not None and time.monotonic() < until:
        logger.warning("%s not sent: the message broker was unreachable a moment ago", _call(task, args, kwargs))
        return False
    try:
        task.apply_async(args=args, kwargs=kwargs, countdown=countdown)
    except (BrokerError, OSError) as exc:
        with _STATE_LOCK:
            _DOWN_UNTIL[broker] = time.monotonic() + RETRY_AFTER
        logger.warning("%s not sent: the message broker is unreachable (%s)", _call(task, args, kwargs), exc)
        return False
    if until is not None:
        with _STATE_LOCK:
            _DOWN_UNTIL.pop(broker, None)
        logger.info("the message broker is reachable again")
    return True


class Sending:
    """A send scheduled by ``send_on_commit``: ``sent`` is None until the
    transaction commits (and stays None if it rolls back), then what ``send``
    answered."""

    __slots__ = ("sent",)

    def __init__(self):
        self.sent: bool | None = None

    def __repr__(self):
        return f"<Sending sent={self.sent}>"


def send_on_commit(task, *args, countdown: float | None = None, record: bool = False, **kwargs) -> Sending:
    """``send`` once the current transaction commits (at once outside a
    transaction). The returned ``Sending`` tells the caller afterwards whether
    the task went out, e.g. to tell the user that the work starts only when
    the background service is back. ``record``: for work that is recorded
    nowhere else — a task that could not be sent is kept as a ``PendingTask``
    and sent again by ``resend_recorded_tasks``."""
    sending = Sending()

    def publish():
        sending.sent = send(task, *args, countdown=countdown, **kwargs)
        if sending.sent is False and record:
            keep(task, args, kwargs)

    transaction.on_commit(publish)
    return sending


def send_again(task, *args, key: str, every: float, **kwargs) -> bool:
    """For a sweeper: send the task for a piece of recorded work that waits too
    long, at most once per ``every`` seconds per ``key`` (a marker in the cache;
    with the cache down — Redis, i.e. the broker too — nothing is sent).
    Returns whether it was sent."""
    marker = f"queueing:resent:{key}"
    if not cache.add(marker, 1, max(1, int(every))):
        return False
    if send(task, *args, **kwargs):
        return True
    cache.delete(marker)  # not sent: the next sweep tries again
    return False


def keep(task, args, kwargs) -> None:
    """Record a task the broker did not take (the same call twice is one row)."""
    import hashlib
    import json

    from django.db import DatabaseError

    from .models import PendingTask

    args = list(args)
    key = hashlib.sha256(json.dumps([task.name, args, kwargs], sort_keys=True, default=str).encode()).hexdigest()
    try:
        PendingTask.objects.get_or_create(key=key, defaults={"task": task.name, "args": args, "kwargs": kwargs})
    except DatabaseError:  # the database gone too: nothing more to do here than say so
        logger.exception("%s could not be recorded for a later send", _call(task, args, kwargs))
        return
    logger.info("%s recorded; it is sent again once the message broker is back", _call(task, args, kwargs))


def resend_recorded_tasks(limit: int = 500) -> list[str]:
    """A sweeper: send the recorded tasks again, oldest first, and delete each
    one the broker took; stops at the first the broker refuses (it is still
    down). Returns the calls sent."""
    from celery import current_app

    from .models import PendingTask

    sent = []
    for pending in PendingTask.objects.order_by("created_at", "pk")[:limit]:
        task = current_app.tasks.get(pending.task)
        if task is None:  # a task renamed or removed by an update: nothing can run it
            logger.error("recorded task %s is unknown; dropped", pending)
            pending.delete()
            continue
        if not send(task, *pending.args, **pending.kwargs):
            PendingTask.objects.filter(pk=pending.pk).update(attempts=models.F("attempts") + 1)
            break
        pending.delete()
        sent.append(_call(task, pending.args, pending.kwargs))
    return sent


def resend_stranded_work() -> dict[str, list]:
    """Run every sweeper of ``settings.TASK_RESEND_SWEEPERS``; returns what each
    sent again (its path → its answer). A failing sweeper is logged and does
    not keep the others from running."""
    out: dict[str, list] = {}
    for path in settings.TASK_RESEND_SWEEPERS:
        try:
            out[path] = list(import_string(path)())
        except Exception:  # noqa: BLE001 - e.g. the database briefly unreachable: the next sweep tries again
            logger.exception("the sweeper %s failed", path)
    return out
