"""Base models used by every app, and the import run record."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .access import Action, Role, ScopedQuerySet, has_role, has_unscoped_role


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
