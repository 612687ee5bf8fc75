"""Agreements (Kooperations- und Leistungsvereinbarungen): parties with roles,
shares of the Trägerbudget, conflict procedure, documents and outcome goals
(Wirkungsziele). The lifecycle is in ``cooperation.agreements``.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.access import Action, ScopedQuerySet
from core.audit import audited
from core.models import FieldOfAction, TimeStampedModel
from regions.models import Indicator, Region

from .. import access
from ..choices import AgreementKind, AgreementStatus, DocumentKind, PartyRole, WorkMode
from ..storage import private_storage
from .organizations import Organization, Service, choice_array

PERCENT = {"max_digits": 7, "decimal_places": 4,
           "validators": [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))]}


def agreement_q(user, prefix: str = "") -> Q | None:
    """Which agreements a user sees (None: all): staff with a role and planners
    all; provider staff those their organisation is a party to, and public ones."""
    if access.is_staff_reader(user) or access.is_planner(user):
        return None
    orgs = access.organization_ids(user)
    return Q(**{f"{prefix}public": True}) | Q(**{f"{prefix}pk__in": AgreementParty.objects.filter(
        organization_id__in=orgs).values("agreement_id")})


class AgreementQuerySet(ScopedQuerySet):
    """Staff with a role read every agreement, planners change them; provider
    staff see the agreements their organisation is a party to and public ones
    (and confirm them for it, see ``cooperation.agreements``)."""

    def user_scope(self, user, action):
        if access.is_planner(user):
            return self
        if action != Action.VIEW:
            return self.none()
        q = agreement_q(user)
        return self if q is None else self.filter(q)

    def can_add(self, user):
        return access.is_planner(user)


@audited()
class Agreement(TimeStampedModel):
    """A binding cooperation: parties with roles, regions, offerings covered,
    validity, shared goals, a conflict procedure and a review interval. Its
    status changes only through ``cooperation.agreements`` (transitions per
    role; active only when every party confirmed and the start is reached)."""

    history_workflow_fields = ("status",)

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(_("Titel"), max_length=200)
    kind = models.CharField(_("Art"), max_length=20, choices=AgreementKind.choices, default=AgreementKind.COOPERATION)
    status = models.CharField(_("Status"), max_length=12, choices=AgreementStatus.choices,
                              default=AgreementStatus.DRAFT, editable=False)
    regions = models.ManyToManyField(Region, verbose_name=_("Räume"), blank=True, related_name="agreements")
    fields = models.ManyToManyField(FieldOfAction, verbose_name=_("Handlungsfelder"), blank=True,
                                    related_name="agreements")
    services = models.ManyToManyField(Service, verbose_name=_("erfasste Angebote"), blank=True,
                                      related_name="agreements")
    valid_from = models.DateField(_("gültig ab"))
    valid_until = models.DateField(_("gültig bis"), null=True, blank=True)
    goals = models.TextField(_("gemeinsame Ziele"), blank=True)
    review_interval_months = models.PositiveSmallIntegerField(_("Überprüfung alle … Monate"), default=12)
    next_review = models.DateField(_("nächste Überprüfung"), null=True, blank=True)
    public = models.BooleanField(_("für alle Träger sichtbar"), default=False,
                                 help_text=_("Auch Träger, die nicht Partei sind, können die Vereinbarung lesen."))

    objects = AgreementQuerySet.as_manager()

    class Meta:
        ordering = ["-valid_from", "title"]
        verbose_name = _("Vereinbarung")
        verbose_name_plural = _("Vereinbarungen")
        constraints = [
            models.CheckConstraint(condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                                   name="agreement_valid_range",
                                   violation_error_message=_("„gültig bis“ liegt vor „gültig ab“.")),
            models.CheckConstraint(condition=~Q(title=""), name="agreement_title_not_empty",
                                   violation_error_message=_("Der Titel fehlt.")),
        ]

    def __str__(self):
        return self.title


class AgreementPartQuerySet(ScopedQuerySet):
    """Parts of an agreement (parties, steps, documents, goals) are seen with
    their agreement and changed by planners."""

    def user_scope(self, user, action):
        if access.is_planner(user):
            return self
        if action != Action.VIEW:
            return self.none()
        q = agreement_q(user, prefix="agreement__")
        return self if q is None else self.filter(q)

    def can_add(self, user):
        return access.is_planner(user)


class AgreementPartyQuerySet(AgreementPartQuerySet):
    """A party's own editors also keep its responsibilities and reachability
    current (not its role or share)."""

    def user_scope(self, user, action):
        if action == Action.CHANGE and not access.is_planner(user):
            return self.filter(organization_id__in=access.organization_ids(user, editor=True))
        return super().user_scope(user, action)


@audited()
class AgreementParty(models.Model):
    """An organisation's part in an agreement: its role, what it is responsible
    for, how it can be reached, its share of the Trägerbudget, and its
    confirmation (by a member of it)."""

    history_workflow_fields = ("confirmed_at", "confirmed_by")

    agreement = models.ForeignKey(Agreement, verbose_name=_("Vereinbarung"), on_delete=models.CASCADE,
                                  related_name="parties")
    organization = models.ForeignKey(Organization, verbose_name=_("Organisation"), on_delete=models.PROTECT,
                                     related_name="agreement_parties")
    role = models.CharField(_("Rolle"), max_length=10, choices=PartyRole.choices, default=PartyRole.PARTNER)
    responsibilities = models.TextField(_("Verantwortlich für"), blank=True)
    contact = models.CharField(_("Erreichbarkeit: Kontaktweg"), max_length=200, blank=True,
                               help_text=_("Funktionale Adresse, z. B. kooperation@traeger.example"))
    availability = models.CharField(_("Erreichbarkeit: Zeiten"), max_length=200, blank=True)
    budget_share = models.DecimalField(
        _("Anteil am Sozialraumbudget (%)"), null=True, blank=True, **PERCENT,
        help_text=_("Welcher Anteil des Betrags der Räume dieser Vereinbarung als Trägerbudget an diese "
                    "Organisation geht (leer: keiner)."))
    work_modes = choice_array(WorkMode, _("für die Budgetteile"),
                              help_text=_("Leer: für alle drei Teile."))
    confirmed_at = models.DateTimeField(_("bestätigt am"), null=True, blank=True, editable=False)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("bestätigt von"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+", editable=False)

    objects = AgreementPartyQuerySet.as_manager()

    class Meta:
        ordering = ["agreement", "role", "organization__name"]
        verbose_name = _("Vertragspartei")
        verbose_name_plural = _("Vertragsparteien")
        constraints = [
            models.UniqueConstraint(fields=["agreement", "organization"], name="agreement_party_once",
                                    violation_error_message=_("Die Organisation ist schon Partei dieser Vereinbarung.")),
            models.CheckConstraint(condition=Q(budget_share__isnull=True) | Q(budget_share__gte=0, budget_share__lte=100),
                                   name="agreement_party_share_percent",
                                   violation_error_message=_("Der Anteil liegt zwischen 0 und 100 %.")),
        ]

    def __str__(self):
        return f"{self.organization} ({self.get_role_display()})"


class EscalationStepQuerySet(ScopedQuerySet):
    """Steps belong to an agreement or a network and are seen with it."""

    def user_scope(self, user, action):
        if access.is_planner(user):
            return self
        if action != Action.VIEW:
            return self.none()
        from .networks import network_q

        aq, nq = agreement_q(user, prefix="agreement__"), network_q(user, prefix="network__")
        if aq is None or nq is None:
            return self
        return self.filter(aq & Q(agreement__isnull=False) | nq & Q(network__isnull=False))

    def can_add(self, user):
        return access.is_planner(user)


@audited()
class EscalationStep(models.Model):
    """One step of the conflict procedure of an agreement (or a network): who
    deals with it, within how many days, before the next step is reached."""

    agreement = models.ForeignKey(Agreement, verbose_name=_("Vereinbarung"), on_delete=models.CASCADE,
                                  related_name="escalation_steps", null=True, blank=True)
    network = models.ForeignKey("cooperation.Network", verbose_name=_("Netzwerk"), on_delete=models.CASCADE,
                                related_name="escalation_steps", null=True, blank=True)
    order = models.PositiveSmallIntegerField(_("Stufe"))
    handled_by = models.CharField(_("zuständig"), max_length=200,
                                  help_text=_("z. B. Sozialraumteam, Fachdienstleitung, Lenkungsgruppe"))
    days = models.PositiveSmallIntegerField(_("Frist (Tage)"))

    objects = EscalationStepQuerySet.as_manager()

    class Meta:
        ordering = ["agreement", "network", "order"]
        verbose_name = _("Eskalationsstufe")
        verbose_name_plural = _("Eskalationsstufen")
        constraints = [
            models.UniqueConstraint(fields=["agreement", "order"], name="escalation_step_once",
                                    violation_error_message=_("Diese Stufe gibt es schon.")),
            models.UniqueConstraint(fields=["network", "order"], name="escalation_step_once_network",
                                    violation_error_message=_("Diese Stufe gibt es schon.")),
            models.CheckConstraint(condition=Q(days__gte=1), name="escalation_step_days_positive",
                                   violation_error_message=_("Die Frist ist mindestens ein Tag.")),
            models.CheckConstraint(condition=Q(agreement__isnull=True) ^ Q(network__isnull=True),
                                   name="escalation_step_one_owner",
                                   violation_error_message=_("Eine Stufe gehört zu einer Vereinbarung oder einem Netzwerk.")),
        ]

    def __str__(self):
        return f"{self.order}. {self.handled_by} ({self.days} d)"


def document_path(instance, filename):
    return f"agreements/{instance.agreement.uuid}/{uuid.uuid4().hex}/{filename}"


@audited()
class AgreementDocument(TimeStampedModel):
    """A file belonging to an agreement (contract, annex, minutes). Stored
    outside any public path and served only to who may see the agreement; type
    and size are checked on upload (``cooperation.documents``)."""

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    agreement = models.ForeignKey(Agreement, verbose_name=_("Vereinbarung"), on_delete=models.CASCADE,
                                  related_name="documents")
    title = models.CharField(_("Titel"), max_length=200)
    kind = models.CharField(_("Art"), max_length=10, choices=DocumentKind.choices, default=DocumentKind.CONTRACT)
    file = models.FileField(_("Datei"), upload_to=document_path, storage=private_storage, max_length=300)
    original_name = models.CharField(_("Dateiname"), max_length=255)
    content_type = models.CharField(_("Dateityp"), max_length=100)
    size = models.PositiveBigIntegerField(_("Größe (Bytes)"))

    objects = AgreementPartQuerySet.as_manager()

    class Meta:
        ordering = ["agreement", "-created_at"]
        verbose_name = _("Dokument")
        verbose_name_plural = _("Dokumente")

    def __str__(self):
        return self.title


@audited()
class Goal(TimeStampedModel):
    """An outcome goal (Wirkungsziel): an indicator in a region is to reach a
    target value by a date. The attainment is computed from the indicator's
    values (``cooperation.goals``)."""

    agreement = models.ForeignKey(Agreement, verbose_name=_("Vereinbarung"), on_delete=models.CASCADE,
                                  related_name="outcome_goals")
    title = models.CharField(_("Ziel"), max_length=200)
    indicator = models.ForeignKey(Indicator, verbose_name=_("Indikator"), on_delete=models.PROTECT,
                                  related_name="goals")
    region = models.ForeignKey(Region, verbose_name=_("Raum"), on_delete=models.PROTECT, related_name="goals")
    baseline_period = models.CharField(
        _("Ausgangszeitraum"), max_length=10, blank=True,
        help_text=_("Der Zeitraum des Ausgangswerts (leer: der älteste vorhandene Wert)."))
    target_value = models.DecimalField(_("Zielwert"), max_digits=20, decimal_places=6)
    target_date = models.DateField(_("zu erreichen bis"))

    objects = AgreementPartQuerySet.as_manager()

    class Meta:
        ordering = ["agreement", "target_date", "title"]
        verbose_name = _("Wirkungsziel")
        verbose_name_plural = _("Wirkungsziele")
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="goal_title_not_empty",
                                   violation_error_message=_("Das Ziel braucht eine Bezeichnung.")),
        ]

    def __str__(self):
        return self.title
