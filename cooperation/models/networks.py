"""Networks (Sozialraumteams, Stadtteilkonferenzen, Fachgremien, Fallkonferenzen,
…), their member organisations, meetings and the tasks agreed in them.

Case conferences keep only anonymous counts: there is no field for any
client's personal data, by design.
"""

import uuid

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.access import Action, ScopedQuerySet
from core.audit import audited
from core.models import FieldOfAction, TimeStampedModel
from regions.models import Region

from .. import access
from ..choices import Cadence, NetworkKind, NetworkRole
from .organizations import Organization


def network_q(user, prefix: str = "") -> Q | None:
    """Which networks a user sees (None: all): staff all; provider staff those
    their organisation coordinates or belongs to, and public ones."""
    if access.is_staff_reader(user) or access.is_planner(user):
        return None
    orgs = access.organization_ids(user)
    return (Q(**{f"{prefix}public": True}) | Q(**{f"{prefix}coordinator_id__in": orgs})
            | Q(**{f"{prefix}pk__in": NetworkMember.objects.filter(organization_id__in=orgs).values("network_id")}))


def network_editor_q(user, prefix: str = "") -> Q | None:
    """Which networks a user may run (None: all): planners all; editors of the
    coordinating organisation or of a member with the coordination role."""
    if access.is_planner(user):
        return None
    orgs = access.organization_ids(user, editor=True)
    return Q(**{f"{prefix}coordinator_id__in": orgs}) | Q(**{f"{prefix}pk__in": NetworkMember.objects.filter(
        organization_id__in=orgs, role=NetworkRole.COORDINATION).values("network_id")})


class NetworkScopedQuerySet(ScopedQuerySet):
    """Networks and what belongs to them (``prefix`` leads to the network)."""

    prefix = ""

    def user_scope(self, user, action):
        if action == Action.VIEW:
            q = network_q(user, self.prefix)
        elif action == Action.DELETE and not self.prefix:
            return self if access.is_planner(user) else self.none()
        else:
            q = network_editor_q(user, self.prefix)
        return self if q is None else self.filter(q).distinct()

    def can_add(self, user):
        return access.is_planner(user) or bool(access.organization_ids(user, editor=True))


class NetworkQuerySet(NetworkScopedQuerySet):
    def can_add(self, user):
        return access.is_planner(user)


@audited()
class Network(TimeStampedModel):
    """A coordination format in one or more social spaces."""

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("Name"), max_length=200)
    kind = models.CharField(_("Art"), max_length=20, choices=NetworkKind.choices, default=NetworkKind.NETWORK)
    description = models.TextField(_("Beschreibung"), blank=True)
    regions = models.ManyToManyField(Region, verbose_name=_("Räume"), blank=True, related_name="networks")
    fields = models.ManyToManyField(FieldOfAction, verbose_name=_("Handlungsfelder"), blank=True,
                                    related_name="networks")
    coordinator = models.ForeignKey(Organization, verbose_name=_("koordinierende Organisation"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="coordinated_networks")
    cadence = models.CharField(_("Sitzungsrhythmus"), max_length=12, choices=Cadence.choices,
                               default=Cadence.MONTHLY)
    contact = models.CharField(_("Kontakt"), max_length=200, blank=True,
                               help_text=_("Funktionale Adresse der Koordination"))
    public = models.BooleanField(_("für alle Träger sichtbar"), default=True)
    active = models.BooleanField(_("aktiv"), default=True)

    objects = NetworkQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("Netzwerk")
        verbose_name_plural = _("Netzwerke")
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="network_name_not_empty",
                                   violation_error_message=_("Der Name fehlt.")),
        ]

    def __str__(self):
        return self.name


class NetworkMemberQuerySet(NetworkScopedQuerySet):
    prefix = "network__"


@audited()
class NetworkMember(models.Model):
    network = models.ForeignKey(Network, verbose_name=_("Netzwerk"), on_delete=models.CASCADE, related_name="members")
    organization = models.ForeignKey(Organization, verbose_name=_("Organisation"), on_delete=models.CASCADE,
                                     related_name="network_memberships")
    role = models.CharField(_("Rolle"), max_length=12, choices=NetworkRole.choices, default=NetworkRole.MEMBER)
    responsibilities = models.TextField(_("Aufgaben im Netzwerk"), blank=True)

    objects = NetworkMemberQuerySet.as_manager()

    class Meta:
        ordering = ["network", "role", "organization__name"]
        verbose_name = _("Netzwerkmitglied")
        verbose_name_plural = _("Netzwerkmitglieder")
        constraints = [
            models.UniqueConstraint(fields=["network", "organization"], name="network_member_once",
                                    violation_error_message=_("Die Organisation ist schon Mitglied.")),
        ]

    def __str__(self):
        return f"{self.organization} ({self.get_role_display()})"


class MeetingQuerySet(NetworkScopedQuerySet):
    prefix = "network__"


@audited()
class Meeting(TimeStampedModel):
    """A meeting of a network. For case conferences only anonymous counts are
    kept (how many cases, in which fields) — never anything about a person."""

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    network = models.ForeignKey(Network, verbose_name=_("Netzwerk"), on_delete=models.CASCADE, related_name="meetings")
    starts_at = models.DateTimeField(_("Beginn"))
    place = models.CharField(_("Ort"), max_length=200, blank=True)
    agenda = models.TextField(_("Tagesordnung"), blank=True)
    decisions = models.TextField(_("Ergebnisse und Beschlüsse"), blank=True,
                                 help_text=_("Keine personenbezogenen Daten von Klientinnen und Klienten."))
    attendees = models.ManyToManyField(Organization, verbose_name=_("anwesende Organisationen"), blank=True,
                                       related_name="meetings_attended")
    cases_discussed = models.PositiveSmallIntegerField(
        _("beratene Fälle (Anzahl)"), null=True, blank=True, validators=[MaxValueValidator(999)],
        help_text=_("Nur bei Fallkonferenzen: die Anzahl, anonym."))
    case_fields = models.ManyToManyField(FieldOfAction, verbose_name=_("Handlungsfelder der Fälle"), blank=True,
                                         related_name="+")

    objects = MeetingQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("Sitzung")
        verbose_name_plural = _("Sitzungen")

    def __str__(self):
        return f"{self.network} {self.starts_at:%d.%m.%Y}"


class MeetingTaskQuerySet(NetworkScopedQuerySet):
    prefix = "meeting__network__"

    def user_scope(self, user, action):
        if action == Action.CHANGE and not access.is_planner(user):
            # the responsible organisation marks its task done
            q = network_editor_q(user, self.prefix) | Q(responsible_id__in=access.organization_ids(user, editor=True))
            return self.filter(q).distinct()
        return super().user_scope(user, action)


@audited()
class MeetingTask(TimeStampedModel):
    """A follow-up task agreed in a meeting, for one organisation, by a date."""

    meeting = models.ForeignKey(Meeting, verbose_name=_("Sitzung"), on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(_("Aufgabe"), max_length=300)
    responsible = models.ForeignKey(Organization, verbose_name=_("verantwortlich"), on_delete=models.PROTECT,
                                    related_name="meeting_tasks")
    due = models.DateField(_("fällig am"))
    done_at = models.DateTimeField(_("erledigt am"), null=True, blank=True)

    objects = MeetingTaskQuerySet.as_manager()

    class Meta:
        ordering = ["due", "pk"]
        verbose_name = _("Aufgabe")
        verbose_name_plural = _("Aufgaben")
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="meeting_task_title_not_empty",
                                   violation_error_message=_("Die Aufgabe braucht eine Bezeichnung.")),
        ]

    def __str__(self):
        return self.title
