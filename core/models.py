"""Base models used by every app, and the import run record."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import connection, models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .access import Action, Role, ScopedQuerySet, has_role, has_unscoped_role
from .audit import audited


class TimeStampedModel(models.Model):
    """Created/updated at and by. The change history itself is kept by
    django-pghistory triggers on each concrete model (see ``core.audit``)."""

    created_at = models.DateTimeField(_("angelegt am"), auto_now_add=True)
    updated_at = models.DateTimeField(_("geändert am"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("angelegt von"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # not queried by author; keeps bulk tables lean (history has the authors)
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("geändert von"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        abstract = True

    def stamp(self, user):
        """Record ``user`` as the author of the pending save."""
        if user is not None and getattr(user, "is_authenticated", False):
            if self._state.adding and self.created_by_id is None:
                self.created_by = user
            self.updated_by = user


class ImportRunQuerySet(ScopedQuerySet):
    def user_scope(self, user, action):
        # Import runs are their author's; planners without a region limit see all
        # of them (a run's errors may name regions outside a limited scope).
        if action == Action.VIEW and has_unscoped_role(user, Role.PLANNER):
            return self
        return self.filter(created_by=user)

    def can_add(self, user):
        return has_role(user, Role.PLANNER)


class ImportRun(TimeStampedModel):
    """One import of a file (or an API bulk payload): what, by whom, the outcome."""

    class Status(models.TextChoices):
        PENDING = "pending", _("wartet")
        RUNNING = "running", _("läuft")
        SUCCEEDED = "succeeded", _("erfolgreich")
        FAILED = "failed", _("abgelehnt")

    kind = models.CharField(_("Art"), max_length=40)
    status = models.CharField(_("Status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    file = models.FileField(_("Datei"), upload_to="imports/%Y/%m/", blank=True)
    original_name = models.CharField(_("Dateiname"), max_length=255, blank=True)
    options = models.JSONField(_("Optionen"), default=dict, blank=True)
    dry_run = models.BooleanField(_("Probelauf"), default=False)
    started_at = models.DateTimeField(_("begonnen"), null=True, blank=True)
    finished_at = models.DateTimeField(_("beendet"), null=True, blank=True)
    summary = models.JSONField(_("Ergebnis"), default=dict, blank=True)
    errors = models.JSONField(_("Fehler"), default=list, blank=True)
    error_count = models.PositiveIntegerField(_("Anzahl Fehler"), default=0)

    objects = ImportRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("Importlauf")
        verbose_name_plural = _("Importläufe")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "running", "succeeded", "failed"]),
                name="importrun_status_valid",
                violation_error_message=_("Unbekannter Status."),
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.original_name} ({self.get_status_display()})"


# --- Fields of action (Handlungsfelder) -------------------------------------------

#: Levels of the taxonomy (field › sub-field › sub-sub-field). Keeps the tree
#: readable and lets one query sort it (see ``FieldOfActionQuerySet.tree_order``).
FIELD_OF_ACTION_MAX_LEVELS = 3
#: Keys that would collide with page addresses under /handlungsfelder/.
FIELD_OF_ACTION_RESERVED_KEYS = {"neu"}
FIELD_OF_ACTION_KEY_REGEX = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class FieldOfActionQuerySet(ScopedQuerySet):
    """A city-wide catalogue: everyone signed in reads it; planners without a
    region limit change it (like region levels and indicators)."""

    def user_scope(self, user, action):
        if action == Action.VIEW or has_unscoped_role(user, Role.PLANNER):
            return self
        return self.none()

    def can_add(self, user):
        return has_unscoped_role(user, Role.PLANNER)

    def subtree(self, field, include_self=True):
        """The field and all its sub-fields at any depth, in one query.

        ``field`` is a FieldOfAction or its key; a key is resolved inside the
        same query (a subquery), an unknown key gives no rows."""
        if isinstance(field, FieldOfAction):
            qs = self.filter(path__startswith=field.path)
            return qs if include_self else qs.exclude(pk=field.pk)
        path = FieldOfAction.objects.filter(key=field).order_by().values("path")[:1]
        qs = self.filter(path__startswith=models.Subquery(path))
        return qs if include_self else qs.exclude(key=field)

    def ancestors(self, field, include_self=False):
        ids = field.ancestor_ids + ([field.pk] if include_self else [])
        return self.filter(pk__in=ids).order_by("depth")

    def tree_order(self):
        """Parents before their sub-fields, siblings by order, name (and id), in
        SQL: one LEFT JOIN per level above, however the rows are filtered."""
        keys = []
        for level in range(FIELD_OF_ACTION_MAX_LEVELS):
            for attr in ("order", "name", "id"):
                # the ancestor at ``level`` of a row at ``depth`` is ``parent__`` × (depth − level)
                whens = [
                    models.When(depth=depth, then=models.F("parent__" * (depth - level) + attr))
                    for depth in range(level, FIELD_OF_ACTION_MAX_LEVELS)
                ]
                keys.append(models.Case(*whens, default=None).asc(nulls_first=True))
        return self.order_by(*keys)


@audited(exclude=["path", "depth"])
class FieldOfAction(TimeStampedModel):
    """A field of action (Handlungsfeld) in a small taxonomy: Kinder- und
    Jugendhilfe › Hilfen zur Erziehung › … Budgets refer to it, service
    offerings will. Fields in use are deactivated, not deleted."""

    key = models.SlugField(
        _("Schlüssel"), max_length=60, db_index=False,  # the unique constraint indexes it
        validators=[
            RegexValidator(
                FIELD_OF_ACTION_KEY_REGEX,
                _("Nur Kleinbuchstaben (a–z), Ziffern und einzelne Bindestriche, z. B. kjh-hze."),
                code="invalid_key",
            )
        ],
        help_text=_("Dauerhafte Kennung für Schnittstellen und Importe, z. B. kjh-hze; nach dem Anlegen unveränderlich."),
    )
    name = models.CharField(_("Name"), max_length=200)
    parent = models.ForeignKey(
        "self", verbose_name=_("übergeordnetes Handlungsfeld"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="children",
    )
    # Materialised path of primary keys, e.g. "1/14/" (ancestors first, self last).
    path = models.CharField(max_length=255, editable=False, default="")
    depth = models.PositiveSmallIntegerField(editable=False, default=0)
    description = models.TextField(_("Beschreibung"), blank=True)
    legal_basis = models.CharField(
        _("Rechtsgrundlage"), max_length=200, blank=True, help_text=_("z. B. SGB VIII §§ 27 ff.")
    )
    order = models.PositiveSmallIntegerField(
        _("Reihenfolge"), default=0, help_text=_("Sortierung unter Geschwistern (kleinere Zahl zuerst).")
    )
    active = models.BooleanField(
        _("aktiv"), default=True,
        help_text=_(
            "Nicht mehr genutzte Handlungsfelder werden deaktiviert statt gelöscht; das gilt auch für ihre Unterbereiche."
        ),
    )

    objects = FieldOfActionQuerySet.as_manager()

    class Meta:
        ordering = ["path"]
        verbose_name = _("Handlungsfeld")
        verbose_name_plural = _("Handlungsfelder")
        constraints = [
            models.UniqueConstraint(
                fields=["key"], name="fieldofaction_key_unique",
                violation_error_message=_("Ein Handlungsfeld mit diesem Schlüssel existiert bereits."),
                violation_error_code="unique",
            ),
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("pk")), name="fieldofaction_not_own_parent",
                violation_error_message=_("Ein Handlungsfeld kann nicht sein eigenes übergeordnetes Handlungsfeld sein."),
            ),
            models.CheckConstraint(
                condition=models.Q(key__regex=FIELD_OF_ACTION_KEY_REGEX), name="fieldofaction_key_format",
                violation_error_message=_("Nur Kleinbuchstaben (a–z), Ziffern und einzelne Bindestriche, z. B. kjh-hze."),
            ),
        ]
        indexes = [
            models.Index(fields=["path"], name="fieldofaction_path_idx", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        """Validates the tree, keeps the materialised paths of the whole subtree
        consistent (a move rewrites all descendants in one UPDATE) and passes a
        deactivation on to the sub-fields."""
        self.clean()
        with transaction.atomic():
            old_path = self.path
            super().save(*args, **kwargs)
            parent_path = self.parent.path if self.parent_id else ""
            new_path = f"{parent_path}{self.pk}/"
            table = FieldOfAction._meta.db_table
            if new_path != old_path:
                new_depth = new_path.count("/") - 1
                with connection.cursor() as cur:
                    if old_path:
                        cur.execute(
                            f"UPDATE {table} SET path = %s || substr(path, %s), depth = depth + %s WHERE path LIKE %s",
                            [new_path, len(old_path) + 1, new_depth - self.depth, _like_prefix(old_path)],
                        )
                    else:
                        cur.execute(f"UPDATE {table} SET path = %s, depth = %s WHERE id = %s",
                                    [new_path, new_depth, self.pk])
                self.path, self.depth = new_path, new_depth
            deactivated = not self.active and self._changed("active")
            self._loaded = {"parent_id": self.parent_id, "active": self.active}
            if deactivated:
                # one UPDATE; the audit triggers record each sub-field's change
                FieldOfAction.objects.subtree(self, include_self=False).filter(active=True).update(
                    active=False, updated_by=self.updated_by, updated_at=timezone.now()
                )

    def get_absolute_url(self):
        return reverse("field-of-action-detail", args=[self.key])

    # -- tree ----------------------------------------------------------------

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(p) for p in self.path.strip("/").split("/")[:-1] if p]

    def ancestors(self, include_self=False):
        return FieldOfAction.objects.ancestors(self, include_self=include_self)

    def descendants(self, include_self=False):
        return FieldOfAction.objects.subtree(self, include_self=include_self)

    @classmethod
    def from_db(cls, db, field_names, values):
        obj = super().from_db(db, field_names, values)
        # what was loaded, so that save() and clean() do tree work only on a change
        obj._loaded = {"parent_id": obj.__dict__.get("parent_id"), "active": obj.__dict__.get("active")}
        return obj

    def _changed(self, attname: str) -> bool:
        loaded = getattr(self, "_loaded", None)
        return loaded is None or loaded.get(attname) != getattr(self, attname)

    def clean(self):
        super().clean()
        errors = {}
        if self.key in FIELD_OF_ACTION_RESERVED_KEYS:
            errors["key"] = _("Dieser Schlüssel ist reserviert.")
        if self.parent_id is not None:
            parent = self.parent
            if self._changed("parent_id"):
                if not self._state.adding and (
                    parent.pk == self.pk or (self.path and parent.path.startswith(self.path))
                ):
                    errors["parent"] = _("Zyklus: %(parent)s liegt unterhalb von %(field)s.") % {
                        "parent": parent, "field": self,
                    }
                else:
                    # this field's own levels (1 for a leaf) must fit below the parent
                    height = 1
                    if not self._state.adding and self.path:
                        deepest = FieldOfAction.objects.subtree(self).aggregate(m=models.Max("depth"))["m"]
                        height = (deepest if deepest is not None else self.depth) - self.depth + 1
                    if parent.depth + 1 + height > FIELD_OF_ACTION_MAX_LEVELS:
                        errors["parent"] = _(
                            "Zu tief verschachtelt: Handlungsfelder haben höchstens %(max)d Ebenen."
                        ) % {"max": FIELD_OF_ACTION_MAX_LEVELS}
            if "parent" not in errors and self.active and not parent.active:
                errors["active"] = _(
                    "Das übergeordnete Handlungsfeld %(parent)s ist inaktiv; ein Unterbereich kann dort nicht aktiv sein."
                ) % {"parent": parent}
        if errors:
            raise ValidationError(errors)

def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# --- Notifications (the in-app notification centre) ----------------------------------


class NotificationQuerySet(ScopedQuerySet):
    """Everyone sees and marks only their own notifications (superusers too)."""

    def for_user(self, user, action: str = Action.VIEW):
        if user is not None and user.is_authenticated and user.is_active and user.is_superuser:
            return self.user_scope(user, action)
        return super().for_user(user, action)

    def user_scope(self, user, action):
        if action == Action.DELETE:
            return self.none()
        return self.filter(user=user)

    def can_add(self, user):
        return False  # written by the reminder job

    def unread(self):
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """A message for one user (a reminder of something due). ``event_key``
    names the due event (e.g. ``agreement-review:42:2026-12-01``): one
    notification per user and event, so a job that runs twice sends nothing
    twice. ``emailed_at`` records the e-mail sent for it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("für"), on_delete=models.CASCADE,
                             related_name="notifications")
    kind = models.CharField(_("Art"), max_length=40)
    event_key = models.CharField(_("Anlass"), max_length=200)
    title = models.CharField(_("Betreff"), max_length=300)
    text = models.TextField(_("Text"), blank=True)
    url = models.CharField(_("Link"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("erstellt am"), default=timezone.now)
    read_at = models.DateTimeField(_("gelesen am"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("per E-Mail am"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("Benachrichtigung")
        verbose_name_plural = _("Benachrichtigungen")
        constraints = [
            models.UniqueConstraint(fields=["user", "event_key"], name="notification_once_per_event",
                                    violation_error_message=_("Diese Benachrichtigung gibt es schon.")),
        ]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]

    def __str__(self):
        return self.title


class PendingTask(models.Model):
    """A task the message broker could not take (Redis down) whose work is not
    recorded anywhere else (index computations, Trägerbudget recomputes): kept
    here and sent again by the sweeper ``core.queueing.resend_recorded_tasks``
    once the broker is back. The same call twice is one row (``key``)."""

    task = models.CharField(_("Aufgabe"), max_length=200)  # Celery task name
    args = models.JSONField(_("Argumente"), default=list)
    kwargs = models.JSONField(_("Schlüsselwortargumente"), default=dict)
    key = models.CharField(max_length=64, unique=True)  # sha256 of task and canonical JSON of the arguments
    created_at = models.DateTimeField(_("angelegt am"), auto_now_add=True)
    attempts = models.PositiveIntegerField(_("Versuche"), default=0)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("wartende Aufgabe")
        verbose_name_plural = _("wartende Aufgaben")

    def __str__(self):
        return f"{self.task}{tuple(self.args)}"
