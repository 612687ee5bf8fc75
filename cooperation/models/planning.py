"""Needs and joint planning: need reports (Bedarfsmeldungen) and their triage,
cooperative planning processes (mandate, phases, participants, SWOT, evidence,
decisions) and conflict cases under an agreement's or a network's procedure."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.access import Action, ScopedQuerySet
from core.audit import audited
from core.models import FieldOfAction, TimeStampedModel
from regions.models import CompositeIndex, Indicator, Region

from .. import access
from ..choices import ConflictStatus, DecisionKind, NeedStatus, PlanningPhase, PlanningRole, SwotQuadrant
from .agreements import Agreement, AgreementParty, EscalationStep
from .networks import Network, NetworkMember
from .organizations import Organization

# --- Need reports ------------------------------------------------------------------


class NeedReportQuerySet(ScopedQuerySet):
    """Staff read every need report and planners triage them; provider staff
    see their organisation's reports and edit or withdraw them while new."""

    def user_scope(self, user, action):
        if access.is_planner(user) or action == Action.VIEW and access.is_staff_reader(user):
            return self
        orgs = access.organization_ids(user, editor=action != Action.VIEW)
        scoped = self.filter(reporter_id__in=orgs)
        return scoped if action == Action.VIEW else scoped.filter(status=NeedStatus.NEW)

    def can_add(self, user):
        return access.is_planner(user) or bool(access.organization_ids(user, editor=True))

    def untriaged(self, days: int = 14, today=None):
        """New reports older than ``days`` days (the reminder's worklist)."""
        import datetime

        from django.utils import timezone

        today = today or timezone.localdate()
        return self.filter(status=NeedStatus.NEW, created_at__date__lte=today - datetime.timedelta(days=days))


@audited()
class NeedReport(TimeStampedModel):
    """A need an organisation sees in a region and field, with its evidence.
    Aggregate observations only — no personal data of clients."""

    history_workflow_fields = ("status", "decline_reason", "triaged_by")

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    reporter = models.ForeignKey(Organization, verbose_name=_("gemeldet von"), on_delete=models.PROTECT,
                                 related_name="need_reports")
    region = models.ForeignKey(Region, verbose_name=_("Raum"), on_delete=models.PROTECT, related_name="need_reports")
    field = models.ForeignKey(FieldOfAction, verbose_name=_("Handlungsfeld"), on_delete=models.PROTECT,
                              related_name="need_reports")
    title = models.CharField(_("Bedarf"), max_length=200)
    description = models.TextField(_("Beschreibung"),
                                   help_text=_("Was fehlt, für wen (Zielgruppe, nicht Personen), seit wann?"))
    evidence = models.TextField(_("Belege"), blank=True,
                                help_text=_("Zahlen, Beobachtungen, Wartelisten – zusammengefasst, ohne Personenbezug."))
    status = models.CharField(_("Status"), max_length=10, choices=NeedStatus.choices, default=NeedStatus.NEW,
                              editable=False)
    decline_reason = models.TextField(_("Begründung der Ablehnung"), blank=True, editable=False)
    triaged_at = models.DateTimeField(_("bearbeitet am"), null=True, blank=True, editable=False)
    triaged_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("bearbeitet von"), null=True,
                                   blank=True, on_delete=models.SET_NULL, related_name="+", editable=False)

    objects = NeedReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("Bedarfsmeldung")
        verbose_name_plural = _("Bedarfsmeldungen")
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="need_report_title_not_empty",
                                   violation_error_message=_("Der Bedarf braucht eine Bezeichnung.")),
            models.CheckConstraint(condition=~Q(status="declined") | ~Q(decline_reason=""),
                                   name="need_report_decline_has_reason",
                                   violation_error_message=_("Eine Ablehnung braucht eine Begründung.")),
        ]

    def __str__(self):
        return self.title


# --- Planning processes ----------------------------------------------------------------


class PlanningQuerySet(ScopedQuerySet):
    """Staff read every process, planners run them; participating provider
    staff see theirs (and add to the SWOT analysis)."""

    prefix = ""

    def user_scope(self, user, action):
        if access.is_planner(user) or action == Action.VIEW and access.is_staff_reader(user):
            return self
        if action != Action.VIEW:
            return self.none()
        return self.filter(**{f"{self.prefix}pk__in": PlanningParticipant.objects.filter(
            organization_id__in=access.organization_ids(user)).values("process_id")})

    def can_add(self, user):
        return access.is_planner(user)


@audited()
class PlanningProcess(TimeStampedModel):
    """Cooperative social planning: the municipality plans with the providers,
    who bring in their knowledge of the space."""

    history_workflow_fields = ("phase", "closed")

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(_("Titel"), max_length=200)
    regions = models.ManyToManyField(Region, verbose_name=_("Räume"), related_name="planning_processes")
    fields = models.ManyToManyField(FieldOfAction, verbose_name=_("Handlungsfelder"), related_name="planning_processes")
    phase = models.CharField(_("Phase"), max_length=16, choices=PlanningPhase.choices, default=PlanningPhase.MANDATE,
                             editable=False)
    closed = models.BooleanField(_("abgeschlossen"), default=False, editable=False)
    # the mandate, clarified up front
    mandate_goals = models.TextField(_("Was soll erreicht werden? (Themen und Ziele)"))
    mandate_actors = models.TextField(_("Welche Akteure sind beteiligt?"), blank=True)
    mandate_provider_ask = models.TextField(_("Was wird von den Trägern erwartet?"), blank=True)
    mandate_provider_join = models.TextField(_("Wann kommen die Träger dazu?"), blank=True)
    mandate_provider_coordination = models.TextField(_("Wie stimmen sich die Träger untereinander ab?"), blank=True)
    # evidence
    indicators = models.ManyToManyField(Indicator, verbose_name=_("Indikatoren"), blank=True, related_name="+")
    indices = models.ManyToManyField(CompositeIndex, verbose_name=_("Indizes (Indexklassen)"), blank=True,
                                     related_name="+")
    need_reports = models.ManyToManyField(NeedReport, verbose_name=_("Bedarfsmeldungen"), blank=True,
                                          related_name="planning_processes")

    objects = PlanningQuerySet.as_manager()

    class Meta:
        ordering = ["closed", "-created_at"]
        verbose_name = _("Planungsprozess")
        verbose_name_plural = _("Planungsprozesse")
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="planning_title_not_empty",
                                   violation_error_message=_("Der Titel fehlt.")),
        ]

    def __str__(self):
        return self.title


class PlanningPartQuerySet(PlanningQuerySet):
    prefix = "process__"

    def user_scope(self, user, action):
        if access.is_planner(user) or action == Action.VIEW and access.is_staff_reader(user):
            return self
        orgs = access.organization_ids(user)
        visible = self.filter(process__participants__organization_id__in=orgs).distinct()
        if action == Action.VIEW:
            return visible
        if self.model is SwotEntry:  # a participant edits its own contributions
            return visible.filter(organization_id__in=access.organization_ids(user, editor=True))
        return self.none()


@audited()
class PlanningParticipant(models.Model):
    process = models.ForeignKey(PlanningProcess, verbose_name=_("Planungsprozess"), on_delete=models.CASCADE,
                                related_name="participants")
    organization = models.ForeignKey(Organization, verbose_name=_("Organisation"), on_delete=models.CASCADE,
                                     related_name="planning_participations")
    role = models.CharField(_("Rolle"), max_length=12, choices=PlanningRole.choices, default=PlanningRole.PARTICIPANT)
    joins_in = models.CharField(_("beteiligt ab Phase"), max_length=16, choices=PlanningPhase.choices,
                                default=PlanningPhase.MANDATE)

    objects = PlanningPartQuerySet.as_manager()

    class Meta:
        ordering = ["process", "role", "organization__name"]
        verbose_name = _("Beteiligte Organisation")
        verbose_name_plural = _("Beteiligte Organisationen")
        constraints = [
            models.UniqueConstraint(fields=["process", "organization"], name="planning_participant_once",
                                    violation_error_message=_("Die Organisation ist schon beteiligt.")),
        ]

    def __str__(self):
        return f"{self.organization} ({self.get_role_display()})"


@audited()
class SwotEntry(TimeStampedModel):
    """One point of the SWOT analysis, contributed by a participant."""

    process = models.ForeignKey(PlanningProcess, verbose_name=_("Planungsprozess"), on_delete=models.CASCADE,
                                related_name="swot_entries")
    organization = models.ForeignKey(Organization, verbose_name=_("eingebracht von"), on_delete=models.CASCADE,
                                     related_name="+")
    quadrant = models.CharField(_("Feld"), max_length=12, choices=SwotQuadrant.choices)
    text = models.TextField(_("Inhalt"))

    objects = PlanningPartQuerySet.as_manager()

    class Meta:
        ordering = ["process", "quadrant", "created_at"]
        verbose_name = _("SWOT-Eintrag")
        verbose_name_plural = _("SWOT-Einträge")
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="swot_text_not_empty",
                                   violation_error_message=_("Der Eintrag ist leer.")),
        ]

    def __str__(self):
        return f"{self.get_quadrant_display()}: {self.text[:40]}"


@audited()
class PlanningDecision(TimeStampedModel):
    """A decision or measure resulting from the process; it can lead to an
    agreement or a budget change."""

    process = models.ForeignKey(PlanningProcess, verbose_name=_("Planungsprozess"), on_delete=models.CASCADE,
                                related_name="decisions")
    decided_on = models.DateField(_("beschlossen am"))
    kind = models.CharField(_("Art"), max_length=10, choices=DecisionKind.choices, default=DecisionKind.MEASURE)
    text = models.TextField(_("Beschluss / Maßnahme"))
    agreement = models.ForeignKey(Agreement, verbose_name=_("daraus entstandene Vereinbarung"), null=True,
                                  blank=True, on_delete=models.SET_NULL, related_name="planning_decisions")
    responsible = models.ForeignKey(Organization, verbose_name=_("verantwortlich"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")

    objects = PlanningPartQuerySet.as_manager()

    class Meta:
        ordering = ["process", "decided_on", "pk"]
        verbose_name = _("Beschluss")
        verbose_name_plural = _("Beschlüsse")
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="planning_decision_text_not_empty",
                                   violation_error_message=_("Der Beschluss ist leer.")),
        ]

    def __str__(self):
        return self.text[:60]


# --- Conflict cases ---------------------------------------------------------------------


class ConflictQuerySet(ScopedQuerySet):
    """Staff read every conflict case and planners handle them; provider staff
    see the cases under agreements their organisation is a party to and in
    networks it belongs to or coordinates (public visibility does not extend to
    conflicts); editors of the network's coordinator handle a network's cases."""

    def user_scope(self, user, action):
        if access.is_planner(user) or action == Action.VIEW and access.is_staff_reader(user):
            return self
        orgs = access.organization_ids(user, editor=action != Action.VIEW)
        coordinated = Q(network__coordinator_id__in=orgs)
        if action != Action.VIEW:
            return self.filter(coordinated, status=ConflictStatus.OPEN) if action == Action.CHANGE else self.none()
        return self.filter(
            coordinated
            | Q(agreement_id__in=AgreementParty.objects.filter(organization_id__in=orgs).values("agreement_id"))
            | Q(network_id__in=NetworkMember.objects.filter(organization_id__in=orgs).values("network_id"))
        )

    def can_add(self, user):
        return access.is_planner(user) or bool(access.organization_ids(user, editor=True))

    def overdue(self, today=None):
        from django.utils import timezone

        return self.filter(status=ConflictStatus.OPEN, step_due__lt=today or timezone.localdate())


@audited()
class ConflictCase(TimeStampedModel):
    """A conflict a party raises under an agreement or in a network. It moves
    through the escalation steps (each with a deadline) until it is resolved or
    mediated; the outcome is recorded (``cooperation.conflicts``)."""

    history_workflow_fields = ("status", "step", "step_due", "outcome")

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    agreement = models.ForeignKey(Agreement, verbose_name=_("Vereinbarung"), null=True, blank=True,
                                  on_delete=models.CASCADE, related_name="conflicts")
    network = models.ForeignKey(Network, verbose_name=_("Netzwerk"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="conflicts")
    raised_by = models.ForeignKey(Organization, verbose_name=_("eingebracht von"), on_delete=models.PROTECT,
                                  related_name="+")
    subject = models.CharField(_("Gegenstand"), max_length=200)
    description = models.TextField(_("Beschreibung"),
                                   help_text=_("Sachlich, ohne personenbezogene Daten von Klientinnen und Klienten."))
    status = models.CharField(_("Status"), max_length=10, choices=ConflictStatus.choices,
                              default=ConflictStatus.OPEN, editable=False)
    step = models.ForeignKey(EscalationStep, verbose_name=_("aktuelle Stufe"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+", editable=False)
    step_started = models.DateField(_("Stufe seit"), null=True, blank=True, editable=False)
    step_due = models.DateField(_("Frist der Stufe"), null=True, blank=True, editable=False)
    outcome = models.TextField(_("Ergebnis"), blank=True, editable=False)
    closed_at = models.DateTimeField(_("abgeschlossen am"), null=True, blank=True, editable=False)

    objects = ConflictQuerySet.as_manager()

    class Meta:
        ordering = ["status", "-created_at"]
        verbose_name = _("Konfliktfall")
        verbose_name_plural = _("Konfliktfälle")
        constraints = [
            models.CheckConstraint(condition=Q(agreement__isnull=True) ^ Q(network__isnull=True),
                                   name="conflict_under_one",
                                   violation_error_message=_("Ein Konflikt gehört zu einer Vereinbarung oder einem Netzwerk.")),
            models.CheckConstraint(condition=Q(status="open") | ~Q(outcome=""), name="conflict_closed_has_outcome",
                                   violation_error_message=_("Ein abgeschlossener Konflikt braucht ein Ergebnis.")),
        ]

    def __str__(self):
        return self.subject

    @property
    def owner(self):
        return self.agreement or self.network
