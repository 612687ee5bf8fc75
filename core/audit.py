"""Change history for every domain model (django-pghistory).

PostgreSQL triggers record inserts, updates (only when a tracked field changed)
and deletes with the full row; the request's user and URL are attached by
``pghistory.middleware.HistoryMiddleware``, management commands attach theirs
with ``pghistory.context``. Because triggers do the work, ``bulk_update`` and
``QuerySet.update()`` are recorded too.
"""

import pghistory
from django.contrib.auth import get_user_model
from pghistory.models import MiddlewareEvents

EXCLUDE = ["updated_at"]


def audited(*trackers, exclude=(), **kwargs):
    """Class decorator: track inserts, updates and deletes of a model."""
    trackers = trackers or (pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
    return pghistory.track(*trackers, exclude=EXCLUDE + list(exclude), **kwargs)


def history(obj, limit: int = 50) -> list[dict]:
    """The object's change history, newest first: who, when, what changed
    (field name, old, new; an insert lists its values as new). Two queries at
    most (events, then their users). ``core.views.history_rows`` prepares it
    for display."""
    events = list(MiddlewareEvents.objects.tracks(obj).order_by("-pgh_created_at")[:limit])
    user_ids = {(e.pgh_context or {}).get("user") for e in events} - {None}
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=user_ids)} if user_ids else {}
    out = []
    for e in events:
        ctx = e.pgh_context or {}
        if e.pgh_label == "insert":
            changes = [(k, None, v) for k, v in sorted((e.pgh_data or {}).items())]
        else:
            changes = [(k, old, new) for k, (old, new) in sorted((e.pgh_diff or {}).items())]
        out.append(
            {
                "when": e.pgh_created_at,
                "label": e.pgh_label,  # insert, update, delete
                "user": users.get(ctx.get("user")),
                "source": ctx.get("url") or ctx.get("command") or "",
                "changes": [c for c in changes if not c[0].startswith("pgh_")],
            }
        )
    return out
