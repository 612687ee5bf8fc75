"""Integration tokens: how a system outside (a provider's client software, a
statistics office's ETL, a reporting tool) reaches the REST API.

A token is a random secret shown once when it is made; only its SHA-256 digest
is stored (the secret has 256 bits of entropy, so a fast hash is enough — the
same reasoning as django-rest-knox). It acts for its owner, with a scope:

* **read**: every unsafe method (POST, PUT, PATCH, DELETE) is refused with 403;
* **write**: what the token's rights allow.

Its rights: without an organisation, the owner's own (planners only may make
such tokens); with an organisation, those of an editor of that organisation and
its branches — and nothing else: no staff role, even if the owner holds one.
Such a token only works while its owner is still a planner or an editor of that
organisation. Tokens expire (optional date), can be revoked, and record when and
from where they were last used. They live here, beside Membership, because a
provider's token is the organisation's access.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.access import ScopedQuerySet
from core.audit import audited

from .. import access
from .organizations import Organization

PREFIX = "szr_"
SHOWN_CHARS = 8  # of the secret after the prefix, kept to tell tokens apart
LAST_USED_EVERY = 60  # seconds: last use is written at most once a minute per token


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class TokenScope(models.TextChoices):
    READ = "read", _("Nur lesen")
    WRITE = "write", _("Lesen und schreiben")


class IntegrationTokenQuerySet(ScopedQuerySet):
    """Planners see and revoke every token; everyone else their own and those
    made for organisations they edit."""

    def user_scope(self, user, action):
        if access.is_planner(user):
            return self
        return self.filter(Q(owner=user) | Q(organization_id__in=access.organization_ids(user, editor=True)))

    def can_add(self, user):
        return access.is_planner(user) or bool(access.organization_ids(user, editor=True))


@audited(exclude=["last_used_at", "last_used_ip"])
class IntegrationToken(models.Model):
    name = models.CharField(_("Bezeichnung"), max_length=100,
                            help_text=_("Wofür der Zugang ist, z. B. „Fachsoftware Kita-Verwaltung“."))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("angelegt von"), on_delete=models.CASCADE,
                              related_name="integration_tokens")
    organization = models.ForeignKey(
        Organization, verbose_name=_("Organisation"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="integration_tokens",
        help_text=_("Der Zugang handelt als Bearbeiter dieser Organisation (und ihrer Zweigstellen), sonst mit den "
                    "Rechten der Person, die ihn angelegt hat."))
    scope = models.CharField(_("Umfang"), max_length=5, choices=TokenScope.choices, default=TokenScope.READ)
    prefix = models.CharField(_("Kennung"), max_length=len(PREFIX) + SHOWN_CHARS, editable=False)
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("angelegt am"), auto_now_add=True)
    expires_at = models.DateTimeField(_("gültig bis"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("widerrufen am"), null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("widerrufen von"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    last_used_at = models.DateTimeField(_("zuletzt benutzt"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(_("zuletzt benutzt von"), null=True, blank=True)

    objects = IntegrationTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API-Zugang")
        verbose_name_plural = _("API-Zugänge")
        constraints = [
            models.CheckConstraint(condition=Q(scope__in=["read", "write"]), name="integrationtoken_scope_valid",
                                   violation_error_message=_("Umfang ist „read“ oder „write“.")),
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, *, owner, name: str, scope: str, organization=None, expires_at=None) -> tuple["IntegrationToken", str]:
        """Make a token; returns it and its secret, which is not stored anywhere."""
        key = PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(owner=owner, name=name, scope=scope, organization=organization,
                                   expires_at=expires_at, prefix=key[: len(PREFIX) + SHOWN_CHARS],
                                   key_digest=digest(key))
        return token, key

    @property
    def read_only(self) -> bool:
        return self.scope != TokenScope.WRITE

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    def get_status_display(self) -> str:
        return {"revoked": _("widerrufen"), "expired": _("abgelaufen"), "active": _("aktiv")}[self.status]

    def revoke(self, by) -> None:
        if self.revoked_at is None:
            self.revoked_at, self.revoked_by = timezone.now(), by
            self.save(update_fields=["revoked_at", "revoked_by"])

    def touch(self, ip: str | None) -> None:
        """Record a use, at most once a minute (one conditional UPDATE, no read)."""
        now = timezone.now()
        type(self).objects.filter(pk=self.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(seconds=LAST_USED_EVERY))
        ).update(last_used_at=now, last_used_ip=ip)
