"""The notification centre's writing side: create notifications once per user
and due event, and e-mail each of them once.

Exactly once, also when the job runs twice or two runs overlap:

* ``notify`` inserts with ``bulk_create(ignore_conflicts=True)``; the unique
  constraint (user, event_key) turns a second insert of the same event into a
  no-op in the database, whoever comes second.
* ``deliver_emails`` claims one unsent notification at a time with
  ``SELECT … FOR UPDATE SKIP LOCKED`` and marks ``emailed_at`` in the same
  transaction as the send: a concurrent run skips the claimed row, a failed send
  rolls nothing forward (``emailed_at`` stays empty) and the next run retries it.
  If the process dies between the SMTP hand-over and the commit, the e-mail is
  sent again by the next run (at least once, never silently dropped).

Core knows nothing about the objects a notification is about: callers pass the
kind, an event key naming the due event (with its date or version, e.g.
``agreement-review:42:2026-12-01``), German texts and a link.
"""

import datetime
import logging
from collections import Counter
from collections.abc import Iterable

from django.conf import settings
from django.core import mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Notification

logger = logging.getLogger(__name__)

#: Longest texts the fields take (longer ones are shortened, never refused).
TITLE_MAX = Notification._meta.get_field("title").max_length
KEY_MAX = Notification._meta.get_field("event_key").max_length


def _user_ids(users: Iterable) -> list[int]:
    """Ids of ``users`` (instances or ids), each once; instances of
    deactivated users are left out (callers pass active users)."""
    ids: dict[int, None] = {}
    for user in users:
        if isinstance(user, int):
            ids[user] = None
        elif getattr(user, "is_active", True):
            ids[user.pk] = None
    return list(ids)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def notify(users: Iterable, kind: str, event_key: str, title: str, text: str = "", url: str = "") -> list[Notification]:
    """Notify each of ``users`` of the event ``event_key`` — unless they already
    were. Returns the notifications created by this call (not those that
    existed, nor those a concurrent call created first)."""
    if len(event_key) > KEY_MAX:
        raise ValueError(f"event key longer than {KEY_MAX} characters: {event_key!r}")
    # sorted: concurrent runs insert (and wait on) the same rows in the same order — no deadlock
    user_ids = sorted(_user_ids(users))
    if not user_ids:
        return []
    # One timestamp for this call's rows: what this call inserted is what carries
    # it afterwards (a concurrent call's rows, inserted first, carry their own).
    now = timezone.now()
    title = _shorten(title, TITLE_MAX)
    Notification.objects.bulk_create(
        [Notification(user_id=uid, kind=kind, event_key=event_key, title=title, text=text, url=url, created_at=now)
         for uid in user_ids],
        ignore_conflicts=True,
    )
    return list(Notification.objects.filter(event_key=event_key, user_id__in=user_ids, created_at=now).order_by("pk"))


def absolute_url(url: str) -> str:
    """A notification's link as an address that works in an e-mail."""
    if not url or "://" in url:
        return url
    return settings.REMINDER_BASE_URL.rstrip("/") + url


def email_message(notification: Notification, connection=None) -> mail.EmailMessage:
    user = notification.user
    name = user.get_full_name() or user.get_username()
    lines = [_("Guten Tag %(name)s,") % {"name": name}, "", notification.text or notification.title]
    if notification.url:
        lines += ["", _("Zum Vorgang: %(url)s") % {"url": absolute_url(notification.url)}]
    lines += [
        "",
        _("Alle Ihre Benachrichtigungen: %(url)s") % {"url": absolute_url("/benachrichtigungen/")},
        "",
        "-- ",
        _("Diese Nachricht wurde automatisch von Sozialraum versandt."),
    ]
    subject = " ".join(f"{_('[Sozialraum]')} {notification.title}".split())  # no line breaks in a subject
    return mail.EmailMessage(subject=subject, body="\n".join(lines), to=[user.email], connection=connection)


#: Notifications older than this are not e-mailed any more (a user who adds an
#: address later is not sent months of old reminders; a send failing for this
#: long is given up — the notification stays in the centre).
EMAIL_MAX_AGE = datetime.timedelta(days=7)


def pending_emails(now=None):
    """Notifications still to be e-mailed: not sent yet, recent, to active users with an address."""
    now = now or timezone.now()
    return Notification.objects.filter(
        emailed_at__isnull=True, created_at__gte=now - EMAIL_MAX_AGE, user__is_active=True,
    ).exclude(user__email="")


def deliver_emails(limit: int | None = None) -> dict:
    """E-mail every notification not e-mailed yet (oldest first), each in its
    own transaction: claim the row (skipping rows another run holds), send, set
    ``emailed_at``. A send that fails is logged and left for the next run.
    Returns {"sent": n, "failed": n, "sent_by_kind": {kind: n}}."""
    now = timezone.now()
    candidates = pending_emails(now).order_by("pk").values_list("pk", flat=True)
    if limit is not None:
        candidates = candidates[:limit]
    sent_by_kind: Counter = Counter()
    failed = 0
    connection = mail.get_connection(fail_silently=False)
    try:
        for pk in list(candidates):
            with transaction.atomic():
                notification = (
                    pending_emails(now).select_for_update(skip_locked=True, of=("self",)).select_related("user")
                    .filter(pk=pk).first()
                )
                if notification is None:
                    continue  # sent or being sent by a concurrent run
                try:
                    connection.send_messages([email_message(notification, connection)])
                except Exception:  # noqa: BLE001 - any failure of the mail server: retried next run
                    logger.exception("e-mail for notification %s to user %s failed", pk, notification.user_id)
                    failed += 1
                    _close(connection)  # a broken connection is opened afresh for the next message
                    continue
                Notification.objects.filter(pk=pk).update(emailed_at=timezone.now())
                sent_by_kind[notification.kind] += 1
    finally:
        _close(connection)
    return {"sent": sum(sent_by_kind.values()), "failed": failed, "sent_by_kind": dict(sent_by_kind)}


def _close(connection) -> None:
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - closing a broken connection must not hide the counts
        logger.warning("closing the e-mail connection failed", exc_info=True)
