"""Personal data of staff accounts (DSGVO Art. 15, 17, 20) and the retention of
the change history.

The application holds no data of clients (people receiving help); the personal
data it holds belong to staff: the account (``auth.User``) and whatever refers
to it. Nothing here names those models. Every relation to the user model is
found through ``_meta`` (a foreign key, one-to-one or many-to-many on any
installed model), so a model added later is exported and erased without a
change here. A relation is classified by what deleting the account would do
to its rows:

``own``
    the rows belong to the account (``on_delete=CASCADE``: role assignments,
    memberships, notifications, API tokens, second-factor devices, personal
    settings) — exported in full, deleted on erasure; a many-to-many link to
    the user is exported and unlinked.
``reference``
    the account is named as author or person responsible in the
    municipality's records (``SET_NULL``/``PROTECT``: ``created_by``,
    ``Region.lead``, ``AllocationRun.triggered_by`` …) — exported as ids; kept
    on erasure, where they then show the pseudonym.
``history``
    audit records (the pghistory event tables, ``admin.LogEntry``) — kept
    unchanged on erasure; the rows of an own relation's history are exported.

Erasure keeps the ``User`` row (its id is what the audit history refers to)
and pseudonymises it: the user name becomes ``geloescht-<random>``, names and
e-mail are emptied, the password unusable, the account inactive, sessions are
ended. The change history stays complete and shows the pseudonym as actor.
pghistory's context (``pghistory_context.metadata``) stores the acting user's
*id* (and the URL or command), not the name; any string in it equal to the old
user name or containing the e-mail address is rewritten all the same.

``purge_audit_history`` deletes history events older than
``AUDIT_RETENTION_DAYS`` (and the contexts no event refers to any more).
"""

import datetime
import decimal
import json
import logging
import secrets
import uuid
from dataclasses import dataclass, field

import pghistory
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.db.models.deletion import ProtectedError, RestrictedError
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.translation import gettext as _
from pghistory.models import Context, Event, MiddlewareEvents

from . import security
from .access import Role, has_unscoped_role
from .accounts import end_sessions, session_keys

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "sozialraum-personal-data/1"
PSEUDONYM_PREFIX = "geloescht-"

OWN, REFERENCE, HISTORY = "own", "reference", "history"

#: Audit records outside pghistory: kept on erasure although their user
#: foreign key cascades (Django's admin log is who-did-what, like the history).
AUDIT_MODELS = {"admin.LogEntry"}

#: Field names never exported: credentials and their digests are no
#: information about the person and must not leave the system.
SECRET_FIELDS = {"password", "key", "key_digest", "secret", "token", "bin_key", "session_key", "session_data"}

#: security log events written here
ACCOUNT_ERASED = "account_erased"
PERSONAL_DATA_EXPORTED = "personal_data_exported"


class ErasureRefused(Exception):
    """The erasure is not allowed (self, last planner, not a planner, …); the
    message says why, in German, for the page and the command."""


# --- relations to the user model ------------------------------------------------


@dataclass(frozen=True)
class Relation:
    """A field on ``model`` pointing at the user model."""

    model: type
    field: models.Field
    kind: str  # OWN, REFERENCE or HISTORY

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field.name}"

    @property
    def many(self) -> bool:
        return self.field.many_to_many

    def rows(self, user) -> models.QuerySet:
        manager = self.model._base_manager
        if self.many:
            return manager.filter(**{self.field.name: user})
        return manager.filter(**{self.field.attname: user.pk})


def is_event_model(model) -> bool:
    return issubclass(model, Event) and model._meta.managed and not model._meta.proxy and not model._meta.abstract


def event_models() -> list[type]:
    """The concrete pghistory event tables (one per tracked model and tracker set)."""
    return [m for m in apps.get_models() if is_event_model(m)]


def _classify(model, field) -> str:
    if is_event_model(model) or model._meta.label in AUDIT_MODELS:
        return HISTORY
    if field.many_to_many:
        return OWN
    return OWN if field.remote_field.on_delete is models.CASCADE else REFERENCE


def user_relations() -> list[Relation]:
    """Every FK, one-to-one and many-to-many on an installed model that points
    at the user model (the user model's own self-references excluded), in a
    stable order."""
    user_model = get_user_model()
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for f in list(model._meta.concrete_fields) + list(model._meta.many_to_many):
            if not f.is_relation or f.remote_field is None or f.related_model is not user_model:
                continue
            if model is user_model:
                continue
            if is_event_model(model) and f.name in ("pgh_obj", "pgh_context"):
                continue
            found.append(Relation(model, f, _classify(model, f)))
    return sorted(found, key=lambda r: r.label)


def _tracked_kind(relation: Relation) -> str | None:
    """For a relation on an event table: the kind of the same field on the
    tracked model (``own`` for the history of role assignments …)."""
    tracked = getattr(relation.model, "pgh_tracked_model", None)
    if tracked is None:
        return None
    try:
        tracked_field = tracked._meta.get_field(relation.field.name)
    except Exception:  # noqa: BLE001 - a history column the model no longer has
        return None
    return _classify(tracked, tracked_field)


def username_models() -> list[type]:
    """Models keyed to an account by its user *name* instead of a foreign key
    (e.g. a lockout or access log): a text field called ``username``."""
    user_model = get_user_model()
    out = []
    for model in apps.get_models():
        if model is user_model or model._meta.proxy or not model._meta.managed:
            continue
        try:
            f = model._meta.get_field("username")
        except Exception:  # noqa: BLE001 - FieldDoesNotExist
            continue
        if isinstance(f, models.CharField) and not f.is_relation:
            out.append(model)
    return out


# --- JSON values -----------------------------------------------------------------------


def _jsonable(value):
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, FieldFile):
        return value.name or None
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (bytes, memoryview)):
        return None
    return str(value)


def _row(obj, skip=()) -> dict:
    """The object's concrete fields (foreign keys as ids), secrets left out."""
    out = {}
    for f in obj._meta.concrete_fields:
        if f.name in SECRET_FIELDS or f.name in skip:
            continue
        out[f.name] = _jsonable(getattr(obj, f.attname) if f.is_relation else f.value_from_object(obj))
    return out


# --- export (Art. 15 / 20) ----------------------------------------------------------------


ACCOUNT_FIELDS = ("id", "username", "first_name", "last_name", "email", "is_active", "is_staff", "is_superuser",
                  "date_joined", "last_login")


def _account(user) -> dict:
    user_model = type(user)
    out = {}
    for name in ACCOUNT_FIELDS:
        try:
            user_model._meta.get_field(name)
        except Exception:  # noqa: BLE001 - a custom user model without it
            continue
        out[name] = _jsonable(getattr(user, name))
    out["has_usable_password"] = user.has_usable_password()
    for f in user_model._meta.many_to_many:  # groups, user_permissions
        out[f.name] = sorted(str(o) for o in getattr(user, f.name).all())
    return out


def _section(relation: Relation, count: int) -> dict:
    meta = relation.model._meta
    return {"model": meta.label, "field": relation.field.name, "title": str(meta.verbose_name_plural),
            "kind": relation.kind, "count": count}


def _audit_events(user) -> list[dict]:
    """Every change in the history whose context names ``user`` as actor."""
    events = MiddlewareEvents.objects.filter(user=user.pk).order_by("pgh_created_at", "pgh_model", "pgh_id")
    out = []
    for e in events.iterator():
        ctx = e.pgh_context or {}
        changed = sorted((e.pgh_diff or {}).keys()) if e.pgh_label != "insert" else sorted((e.pgh_data or {}).keys())
        out.append({
            "at": _jsonable(e.pgh_created_at),
            "action": e.pgh_label,
            "history_table": e.pgh_model,
            "object": f"{e.pgh_obj_model}:{e.pgh_obj_id}",
            "source": ctx.get("url") or ctx.get("command") or "",
            "fields": [name for name in changed if not name.startswith("pgh_")],
        })
    return out


def export_user(user) -> dict:
    """Everything the application holds about a staff account, JSON-serialisable:
    the account, every row that belongs to it (in full), the records naming it
    as author (ids), the history of its own rows, the changes it made (from
    the audit history), records kept under its user name, and its sessions."""
    records, references, history = [], [], []
    for relation in user_relations():
        qs = relation.rows(user)
        if relation.kind == OWN:
            objs = list(qs.order_by("pk"))
            section = _section(relation, len(objs))
            section["rows"] = [{"_label": str(o), **_row(o)} for o in objs]
            records.append(section)
        elif relation.kind == REFERENCE:
            ids = list(qs.order_by("pk").values_list("pk", flat=True))
            if ids:
                section = _section(relation, len(ids))
                section["ids"] = [_jsonable(i) for i in ids]
                references.append(section)
        else:
            if _tracked_kind(relation) == OWN or relation.model._meta.label in AUDIT_MODELS:
                ordering = "pgh_id" if is_event_model(relation.model) else "pk"
                objs = list(qs.order_by(ordering))
                if objs:
                    section = _section(relation, len(objs))
                    section["rows"] = [_row(o) for o in objs]
                    history.append(section)
            else:
                count = qs.count()
                if count:
                    history.append(_section(relation, count))
    by_name = []
    for model in username_models():
        objs = list(model._base_manager.filter(username=user.get_username()).order_by("pk"))
        if objs:
            by_name.append({"model": model._meta.label, "title": str(model._meta.verbose_name_plural),
                            "count": len(objs), "rows": [_row(o) for o in objs]})
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _jsonable(timezone.now()),
        "account": _account(user),
        "records": records,
        "references": references,
        "history": history,
        "changes_made": _audit_events(user),
        "records_by_user_name": by_name,
        "sessions": {"active": len(session_keys(user))},
    }


def export_json(user) -> str:
    return json.dumps(export_user(user), ensure_ascii=False, indent=2)


def log_export(user, by=None, request=None) -> None:
    security.log(PERSONAL_DATA_EXPORTED, request, user=by, subject_id=user.pk)


# --- erasure (Art. 17) -------------------------------------------------------------------


def is_erased(user) -> bool:
    return user.get_username().startswith(PSEUDONYM_PREFIX) and not user.is_active


def _is_planner(user) -> bool:
    """Holds the planner role without a region limit (a superuser, who may do
    anything without a role, is not counted: such accounts are usually the
    operators' technical ones)."""
    return user.is_active and not user.is_superuser and has_unscoped_role(user, Role.PLANNER)


def _other_planner_exists(user, by) -> bool:
    """Whether an active account other than ``user`` holds the planner role
    without a region limit (so someone can still manage roles and accounts)."""
    if by is not None and by.pk != user.pk and _is_planner(by):
        return True
    others = get_user_model()._default_manager.filter(is_active=True, is_superuser=False).exclude(pk=user.pk)
    return any(_is_planner(other) for other in others.order_by("pk").iterator())


def may_manage_accounts(user) -> bool:
    """Exporting and erasing staff data is for planners without a region limit
    (like assigning roles): a region lead, a viewer, provider staff and a
    planner limited to a district may not."""
    return has_unscoped_role(user, Role.PLANNER)


def refusal(user, by) -> str | None:
    """Why ``by`` may not erase ``user`` (None: allowed)."""
    if by is None or not may_manage_accounts(by):
        return _("Nur die Planung ohne Raumbeschränkung darf Benutzerkonten löschen.")
    if by.pk == user.pk:
        return _("Das eigene Konto kann niemand selbst löschen; bitten Sie eine andere Person aus der Planung.")
    if is_erased(user):
        return _("Dieses Konto ist bereits gelöscht (pseudonymisiert).")
    if user.is_superuser and not by.is_superuser:
        return _("Ein Administratorkonto kann nur ein Administrator löschen.")
    if _is_planner(user) and not _other_planner_exists(user, by):
        return _("Das ist das letzte aktive Konto der Planung; es kann nicht gelöscht werden.")
    return None


@dataclass
class ErasurePlan:
    """What erasing an account does: rows deleted, links removed, records kept
    (with the pseudonym), per model — for the confirmation page and the command."""

    delete: list = field(default_factory=list)  # (title, count)
    unlink: list = field(default_factory=list)
    keep: list = field(default_factory=list)
    history: int = 0  # events and audit records kept
    sessions: int = 0


def plan_erasure(user) -> ErasurePlan:
    plan = ErasurePlan()
    for relation in user_relations():
        count = relation.rows(user).count()
        if not count:
            continue
        title = str(relation.model._meta.verbose_name_plural)
        if relation.kind == HISTORY:
            plan.history += count
        elif relation.kind == REFERENCE:
            plan.keep.append((f"{title} ({relation.field.verbose_name})", count))
        elif relation.many:
            plan.unlink.append((f"{title} ({relation.field.verbose_name})", count))
        else:
            plan.delete.append((title, count))
    for f in type(user)._meta.many_to_many:
        count = getattr(user, f.name).count()
        if count:
            plan.unlink.append((str(f.verbose_name), count))
    for model in username_models():  # kept, under the pseudonym
        count = model._base_manager.filter(username=user.get_username()).count()
        if count:
            plan.keep.append((f"{model._meta.verbose_name_plural} ({_('Benutzername')})", count))
    plan.sessions = len(session_keys(user))
    return plan


@dataclass
class Erasure:
    pseudonym: str
    deleted: dict  # model label → rows deleted (cascades included)
    unlinked: dict
    renamed: dict  # model label → rows whose user name was replaced
    contexts: int  # history contexts rewritten
    sessions: int


def _pseudonym(user_model) -> str:
    while True:
        candidate = PSEUDONYM_PREFIX + secrets.token_hex(4)
        if not user_model._base_manager.filter(username=candidate).exists():
            return candidate


def _scrub_contexts(old_username: str, email: str, pseudonym: str) -> int:
    """Rewrite history context values equal to the old user name or containing
    the e-mail address. pghistory's middleware stores the user *id*, so this
    finds nothing unless a context was given a name (a command line …)."""
    patterns = [f'%{json.dumps(old_username)[1:-1]}%']
    if email:
        patterns.append(f"%{json.dumps(email)[1:-1]}%")
    table = connection.ops.quote_name(Context._meta.db_table)
    where = " OR ".join(["metadata::text LIKE %s"] * len(patterns))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} WHERE {where}", patterns)  # noqa: S608 - table name from _meta
        ids = [row[0] for row in cursor.fetchall()]

    def clean(value):
        if isinstance(value, str):
            if value == old_username:
                return pseudonym
            return value.replace(email, pseudonym) if email else value
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    changed = 0
    for context in Context.objects.filter(pk__in=ids):
        metadata = clean(context.metadata)
        if metadata != context.metadata:
            Context.objects.filter(pk=context.pk).update(metadata=metadata)
            changed += 1
    return changed


def _record(user, by, pseudonym: str, request=None) -> None:
    """The security/audit record of the erasure: who erased whom (the
    pseudonym only) — Django's admin log (kept with the history) and the
    security log."""
    if apps.is_installed("django.contrib.admin"):
        from django.contrib.admin.models import CHANGE, LogEntry

        LogEntry.objects.log_actions(
            by.pk, get_user_model().objects.filter(pk=user.pk), CHANGE,
            change_message=json.dumps([{"erased": {"pseudonym": pseudonym, "basis": "DSGVO Art. 17"}}]),
            single_object=True,
        )
    security.log(ACCOUNT_ERASED, request, user=by, subject=pseudonym, subject_id=user.pk, level=logging.WARNING)


def erase_user(user, by, *, request=None) -> Erasure:
    """Erase the personal data of ``user`` on behalf of the planner ``by``, in
    one transaction: the account pseudonymised and deactivated, its own rows
    deleted, its links removed, its sessions ended; every record naming it
    (and the whole change history) kept, now showing the pseudonym. Raises
    :class:`ErasureRefused` when not allowed."""
    user_model = get_user_model()
    with transaction.atomic():
        user = user_model._base_manager.select_for_update().get(pk=user.pk)
        reason = refusal(user, by)
        if reason:
            raise ErasureRefused(reason)
        pseudonym = _pseudonym(user_model)
        old_username, email = user.get_username(), (user.email or "").strip()
        deleted, unlinked, renamed = {}, {}, {}
        with pghistory.context(user=by.pk, command="erase_user", erased=pseudonym):
            try:
                for relation in user_relations():
                    if relation.kind != OWN:
                        continue
                    if relation.many:
                        through = relation.field.remote_field.through
                        column = relation.field.m2m_reverse_field_name()
                        count, _detail = through._base_manager.filter(**{column: user.pk}).delete()
                        if count:
                            unlinked[relation.label] = count
                    else:
                        _total, detail = relation.rows(user).delete()
                        for label, count in detail.items():
                            if count:
                                deleted[label] = deleted.get(label, 0) + count
            except (ProtectedError, RestrictedError) as e:
                blocking = getattr(e, "protected_objects", None) or getattr(e, "restricted_objects", None) or []
                names = ", ".join(sorted({str(o._meta.verbose_name_plural) for o in blocking})) or "?"
                raise ErasureRefused(_("Das Konto kann nicht gelöscht werden: %(names)s verweisen noch darauf.")
                                     % {"names": names}) from e
            for f in user_model._meta.many_to_many:
                count = getattr(user, f.name).count()
                if count:
                    getattr(user, f.name).clear()
                    unlinked[f"{user_model._meta.label}.{f.name}"] = count
            for model in username_models():
                count = model._base_manager.filter(username=old_username).update(username=pseudonym)
                if count:
                    renamed[model._meta.label] = count
            contexts = _scrub_contexts(old_username, email, pseudonym)
            sessions = end_sessions(user)

            setattr(user, user_model.USERNAME_FIELD, pseudonym)
            for name in ("first_name", "last_name", "email"):
                if hasattr(user, name):
                    setattr(user, name, "")
            user.set_unusable_password()
            user.is_active = False
            user.is_staff = False
            user.is_superuser = False
            user.last_login = None
            user.save()
            _record(user, by, pseudonym, request)
    logger.info("account %s erased by %s", user.pk, by.pk)
    return Erasure(pseudonym=pseudonym, deleted=deleted, unlinked=unlinked, renamed=renamed, contexts=contexts,
                   sessions=sessions)


# --- retention of the change history --------------------------------------------------------


def retention_cutoff(days: int | None = None, now=None):
    """The moment before which history is deleted; None: kept for ever."""
    days = settings.AUDIT_RETENTION_DAYS if days is None else days
    if not days:
        return None
    return (now or timezone.now()) - datetime.timedelta(days=days)


def purge_audit_history(days: int | None = None, batch_size: int = 5000, now=None, dry_run: bool = False) -> dict:
    """Delete change-history events older than the retention (``days``,
    default ``AUDIT_RETENTION_DAYS``; 0 keeps everything) in batches of
    ``batch_size`` rows, one transaction each, and then the contexts no
    remaining event refers to. Returns the counts per event table
    (``app.Model``) and ``"pghistory.Context"``; idempotent."""
    cutoff = retention_cutoff(days, now)
    counts: dict[str, int] = {}
    if cutoff is None:
        return counts
    tables = event_models()
    for model in tables:
        old = model._base_manager.filter(pgh_created_at__lt=cutoff)
        if dry_run:
            total = old.count()
        else:
            total = 0
            while True:
                with transaction.atomic():
                    ids = list(old.order_by("pgh_id").values_list("pgh_id", flat=True)[:batch_size])
                    if not ids:
                        break
                    model._base_manager.filter(pgh_id__in=ids).delete()
                total += len(ids)
        if total:
            counts[model._meta.label] = total
    # contexts of no event that stays (in a dry run the old events still exist)
    orphans = Context.objects.filter(updated_at__lt=cutoff)
    for model in tables:
        if any(f.name == "pgh_context" and f.is_relation for f in model._meta.concrete_fields):
            staying = model._base_manager.filter(pgh_context_id=models.OuterRef("pk"), pgh_created_at__gte=cutoff)
            orphans = orphans.filter(~models.Exists(staying))
    if dry_run:
        total = orphans.count()
    else:
        total = 0
        while True:
            with transaction.atomic():
                ids = list(orphans.order_by("pk").values_list("pk", flat=True)[:batch_size])
                if not ids:
                    break
                Context.objects.filter(pk__in=ids).delete()
            total += len(ids)
    if total:
        counts[Context._meta.label] = total
    return counts
