"""Social-space budgets and their allocation rules."""

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from cooperation.access import is_staff_reader, organization_ids
from core.access import Action, Role, ScopedQuerySet, has_role
from core.audit import audited
from core.models import TimeStampedModel
from regions.access import changeable_regions_q, visible_regions_q
from regions.models import Indicator, Region, RegionLevel

from .choices import BudgetStatus, MissingPolicy, Part, RulePart, RunStatus, ShareSource, SplitMode, TermKind, Trigger

MONEY = {"max_digits": 14, "decimal_places": 2}
ZERO = Decimal("0.00")


class BudgetQuerySet(ScopedQuerySet):
    """Budgets are seen by whoever sees their scope region, and changed by
    planners whose subtree contains it."""

    def user_scope(self, user, action):
        q = visible_regions_q(user, prefix="scope_region__") if action == Action.VIEW else changeable_regions_q(
            user, prefix="scope_region__"
        )
        return self if q is None else self.filter(q)

    def can_add(self, user):
        return has_role(user, Role.PLANNER)

    def with_adopted_run(self):
        latest = Adoption.objects.filter(budget=models.OuterRef("pk")).order_by("-adopted_at", "-pk")
        return self.annotate(adopted_run_id=models.Subquery(latest.values("run_id")[:1]))


@audited()
class Budget(TimeStampedModel):
    """Money for one fiscal year and field of action, allocated over the regions
    of a level below a scope region, in three parts."""

    name = models.CharField(_("Name"), max_length=200)
    fiscal_year = models.PositiveSmallIntegerField(_("Haushaltsjahr"), validators=[MinValueValidator(2000)])
    field = models.ForeignKey(
        "core.FieldOfAction", verbose_name=_("Handlungsfeld"), on_delete=models.PROTECT, related_name="budgets"
    )
    scope_region = models.ForeignKey(
        Region, verbose_name=_("Gebiet"), on_delete=models.PROTECT, related_name="budgets",
        help_text=_("Der Raum, dessen untergeordnete Räume das Budget erhalten (z. B. die Stadt)."),
    )
    target_level = models.ForeignKey(
        RegionLevel, verbose_name=_("Verteilungsebene"), on_delete=models.PROTECT, related_name="budgets",
        help_text=_("Auf die Räume dieser Ebene wird verteilt (z. B. Bezirke oder Planungsräume)."),
    )
    total = models.DecimalField(_("Gesamtbetrag (EUR)"), **MONEY, validators=[MinValueValidator(ZERO)])
    split_mode = models.CharField(_("Aufteilung"), max_length=10, choices=SplitMode.choices, default=SplitMode.PERCENT)
    case_specific = models.DecimalField(_("fallspezifisch"), **MONEY, default=ZERO, validators=[MinValueValidator(ZERO)])
    case_overarching = models.DecimalField(
        _("fallübergreifend"), **MONEY, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    preventive = models.DecimalField(
        _("fallunspezifisch (präventiv)"), **MONEY, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    status = models.CharField(_("Status"), max_length=10, choices=BudgetStatus.choices, default=BudgetStatus.DRAFT)

    objects = BudgetQuerySet.as_manager()

    class Meta:
        ordering = ["-fiscal_year", "name"]
        verbose_name = _("Sozialraumbudget")
        verbose_name_plural = _("Sozialraumbudgets")
        constraints = [
            models.UniqueConstraint(
                fields=["fiscal_year", "field", "scope_region", "name"], name="budget_unique_name_per_year",
                violation_error_message=_("Ein Budget mit diesem Namen gibt es für Jahr, Handlungsfeld und Gebiet schon."),
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(split_mode="percent",
                             case_specific=100 - models.F("case_overarching") - models.F("preventive"))
                    | models.Q(split_mode="amount",
                               total=models.F("case_specific") + models.F("case_overarching") + models.F("preventive"))
                ),
                name="budget_split_adds_up",
                violation_error_message=_("Die drei Teile müssen zusammen 100 % bzw. den Gesamtbetrag ergeben."),
            ),
            models.CheckConstraint(
                condition=models.Q(total__gte=0) & models.Q(case_specific__gte=0) & models.Q(case_overarching__gte=0)
                & models.Q(preventive__gte=0),
                name="budget_amounts_not_negative",
                violation_error_message=_("Beträge dürfen nicht negativ sein."),
            ),
        ]

    def __str__(self):
        return f"{self.name} {self.fiscal_year}"

    def clean(self):
        super().clean()
        parts = (self.case_specific or ZERO) + (self.case_overarching or ZERO) + (self.preventive or ZERO)
        if self.split_mode == SplitMode.PERCENT and parts != 100:
            raise ValidationError({"preventive": _("Die drei Anteile ergeben %(sum)s %% statt 100 %%.") % {"sum": parts}})
        if self.split_mode == SplitMode.AMOUNT and self.total is not None and parts != self.total:
            raise ValidationError(
                {"preventive": _("Die drei Teile ergeben %(sum)s € statt %(total)s €.") % {"sum": parts, "total": self.total}}
            )
        if self.scope_region_id and self.target_level_id and self.scope_region.level.rank >= self.target_level.rank:
            raise ValidationError({"target_level": _("Die Verteilungsebene muss unterhalb des Gebiets liegen.")})

    def part_amounts(self) -> dict[str, Decimal]:
        """The three parts in euros, adding up to the total to the cent (a
        percentage split rounds by largest remainder, ties in part order)."""
        values = {Part.CASE_SPECIFIC: self.case_specific, Part.CASE_OVERARCHING: self.case_overarching,
                  Part.PREVENTIVE: self.preventive}
        if self.split_mode == SplitMode.AMOUNT:
            return {str(k): v for k, v in values.items()}
        cents_total = int(self.total * 100)
        exact = {k: cents_total * v / 100 for k, v in values.items()}
        cents = {k: int(e) for k, e in exact.items()}
        leftover = cents_total - sum(cents.values())
        order = sorted(values, key=lambda k: (-(exact[k] - cents[k]), list(values).index(k)))
        for k in order[:leftover]:
            cents[k] += 1
        return {str(k): Decimal(c).scaleb(-2) for k, c in cents.items()}

    @property
    def adopted_run(self):
        """The run adopted last (``Adoption``), or None. Annotated as
        ``adopted_run_id`` by ``BudgetQuerySet.with_adopted_run``."""
        adoption = self.adoptions.select_related("run").order_by("-adopted_at", "-pk").first()
        return adoption.run if adoption else None

    def target_regions(self):
        """The regions the budget is allocated over."""
        return Region.objects.subtree(self.scope_region).filter(level=self.target_level)


class RuleQuerySet(ScopedQuerySet):
    def user_scope(self, user, action):
        return self.filter(budget__in=Budget.objects.for_user(user, action))

    def can_add(self, user):
        return has_role(user, Role.PLANNER)


@audited()
class AllocationRule(TimeStampedModel):
    """How a budget part is split over the regions (Verteilungsschlüssel). A rule
    for ``all`` applies to every part without a rule of its own, so the
    preventive part can follow its own rule."""

    budget = models.ForeignKey(Budget, verbose_name=_("Budget"), on_delete=models.CASCADE, related_name="rules")
    part = models.CharField(_("Teil"), max_length=20, choices=RulePart.choices, default=RulePart.ALL)
    base_amount = models.DecimalField(
        _("Sockelbetrag je Raum (EUR)"), **MONEY, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    missing = models.CharField(
        _("fehlende Werte"), max_length=10, choices=MissingPolicy.choices, default=MissingPolicy.REFUSE
    )
    description = models.TextField(_("Begründung"), blank=True)

    objects = RuleQuerySet.as_manager()

    class Meta:
        verbose_name = _("Verteilungsschlüssel")
        verbose_name_plural = _("Verteilungsschlüssel")
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "part"], name="rule_one_per_part",
                violation_error_message=_("Für diesen Teil des Budgets gibt es schon einen Verteilungsschlüssel."),
            ),
        ]

    def __str__(self):
        return f"{self.budget}: {self.get_part_display()}"


@audited()
class RuleTerm(TimeStampedModel):
    """One basis of a rule with its weight (the weights of a rule add up to 1)."""

    rule = models.ForeignKey(AllocationRule, verbose_name=_("Verteilungsschlüssel"), on_delete=models.CASCADE,
                             related_name="terms")
    kind = models.CharField(_("Art"), max_length=12, choices=TermKind.choices)
    weight = models.DecimalField(_("Gewicht"), max_digits=7, decimal_places=6,
                                 validators=[MinValueValidator(Decimal(0))])
    indicator = models.ForeignKey(
        Indicator, verbose_name=_("Indikator bzw. Einwohnerzahl"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    factor_indicator = models.ForeignKey(
        Indicator, verbose_name=_("Faktor"), null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text=_("Für Einwohner × Faktor: der Faktor je Raum (z. B. aus einem Sozialindex)."),
    )
    period = models.CharField(
        _("Zeitraum"), max_length=10, blank=True, help_text=_("Leer: der neueste Zeitraum mit Werten.")
    )
    order = models.PositiveSmallIntegerField(_("Reihenfolge"), default=0)

    objects = RuleQuerySet.as_manager()

    class Meta:
        ordering = ["order", "pk"]
        verbose_name = _("Verteilungsgrundlage")
        verbose_name_plural = _("Verteilungsgrundlagen")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="equal") | models.Q(indicator__isnull=False),
                name="ruleterm_indicator_needed",
                violation_error_message=_("Diese Art braucht einen Indikator."),
            ),
        ]


@audited()
class RegionBound(TimeStampedModel):
    """Floor and/or cap of one region's amount under a rule."""

    rule = models.ForeignKey(AllocationRule, verbose_name=_("Verteilungsschlüssel"), on_delete=models.CASCADE,
                             related_name="bounds")
    region = models.ForeignKey(Region, verbose_name=_("Raum"), on_delete=models.CASCADE, related_name="+")
    floor = models.DecimalField(_("Untergrenze (EUR)"), **MONEY, null=True, blank=True)
    cap = models.DecimalField(_("Obergrenze (EUR)"), **MONEY, null=True, blank=True)

    objects = RuleQuerySet.as_manager()

    class Meta:
        verbose_name = _("Grenze je Raum")
        verbose_name_plural = _("Grenzen je Raum")
        constraints = [
            models.UniqueConstraint(fields=["rule", "region"], name="regionbound_one_per_region",
                                    violation_error_message=_("Für diesen Raum gibt es schon Grenzen.")),
            models.CheckConstraint(
                condition=models.Q(floor__isnull=True) | models.Q(cap__isnull=True) | models.Q(floor__lte=models.F("cap")),
                name="regionbound_floor_below_cap",
                violation_error_message=_("Die Untergrenze muss unter der Obergrenze liegen."),
            ),
        ]


class RunQuerySet(ScopedQuerySet):
    def user_scope(self, user, action):
        if action != Action.VIEW:
            return self.none()  # runs are immutable records
        return self.filter(budget__in=Budget.objects.for_user(user, action))


class AllocationRun(models.Model):
    """One computation of a budget's allocation: the rule and inputs it used
    (snapshot and hash), its outcome and timings. Immutable once finished."""

    budget = models.ForeignKey(Budget, verbose_name=_("Budget"), on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(_("Status"), max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(_("Anlass"), max_length=20, choices=Trigger.choices, default=Trigger.MANUAL)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("ausgelöst von"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    snapshot = models.JSONField(_("Regel und Eingangswerte"), default=dict)
    input_hash = models.CharField(_("Prüfsumme der Eingänge"), max_length=64, blank=True, db_index=True)
    error = models.TextField(_("Fehler"), blank=True)
    attempts = models.PositiveSmallIntegerField(
        _("Versuche"), default=0, help_text=_("Wie oft die Berechnung begonnen wurde (mehr als 1: ein Abbruch).")
    )
    created_at = models.DateTimeField(_("angelegt am"), auto_now_add=True)
    started_at = models.DateTimeField(_("begonnen"), null=True, blank=True)
    finished_at = models.DateTimeField(_("beendet"), null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("Berechnung")
        verbose_name_plural = _("Berechnungen")
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "input_hash"], condition=models.Q(status="succeeded"),
                name="run_one_success_per_input",
                violation_error_message=_("Für diese Eingänge gibt es schon eine fertige Berechnung."),
            ),
            models.UniqueConstraint(
                fields=["budget"], condition=models.Q(status="queued"), name="run_one_queued_per_budget",
                violation_error_message=_("Für dieses Budget wartet schon eine Berechnung."),
            ),
        ]
        triggers = [
            # done runs are immutable records (deleting them with their budget stays possible)
            pgtrigger.Protect(
                name="finished_run_immutable", operation=pgtrigger.Update,
                condition=pgtrigger.Q(old__status="succeeded") | pgtrigger.Q(old__status="failed"),
            ),
        ]

    def __str__(self):
        return f"{self.budget} #{self.pk} ({self.get_status_display()})"


class Allocation(models.Model):
    """A region's amount for one part in one run."""

    run = models.ForeignKey(AllocationRun, verbose_name=_("Berechnung"), on_delete=models.CASCADE,
                            related_name="allocations")
    region = models.ForeignKey(Region, verbose_name=_("Raum"), on_delete=models.PROTECT, related_name="+")
    part = models.CharField(_("Teil"), max_length=20, choices=Part.choices)
    amount = models.DecimalField(_("Betrag (EUR)"), **MONEY)
    # The breakdown (base, each term, bound, rounding) is not stored: it is
    # derived from the run's snapshot on demand (services.replay).
    bound = models.CharField(_("Grenze"), max_length=5, blank=True)

    class Meta:
        ordering = ["run", "region__code", "part"]
        verbose_name = _("Zuweisung")
        verbose_name_plural = _("Zuweisungen")
        constraints = [
            models.UniqueConstraint(fields=["run", "region", "part"], name="allocation_one_per_region_part",
                                    violation_error_message=_("Doppelte Zuweisung.")),
        ]
        # an allocation is written once, with its run; it is never changed
        triggers = [pgtrigger.Protect(name="allocation_immutable", operation=pgtrigger.Update)]

    def __str__(self):
        return f"{self.region_id} {self.part}: {self.amount}"


class Adoption(models.Model):
    """A planner adopted a run as the budget's current allocation (the latest
    adoption counts; earlier ones stay as the record)."""

    budget = models.ForeignKey(Budget, verbose_name=_("Budget"), on_delete=models.CASCADE, related_name="adoptions")
    run = models.ForeignKey(AllocationRun, verbose_name=_("Berechnung"), on_delete=models.PROTECT,
                            related_name="adoptions")
    adopted_at = models.DateTimeField(_("beschlossen am"), auto_now_add=True)
    adopted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("beschlossen von"), null=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-adopted_at", "-pk"]
        verbose_name = _("Beschluss")
        verbose_name_plural = _("Beschlüsse")

    def __str__(self):
        return f"{self.budget}: #{self.run_id}"


# --- Expenditures (Ist-Ausgaben) ---------------------------------------------------


class ExpenditureQuerySet(ScopedQuerySet):
    """Expenditures are seen with their budget by staff with a role, and
    changed by planners who may change the budget; provider staff see the
    spending booked to their own organisations only."""

    def user_scope(self, user, action):
        if action == Action.VIEW and not is_staff_reader(user):
            # provider staff see only the spending of their own Trägerbudget
            return self.filter(organization_id__in=organization_ids(user))
        return self.filter(budget__in=Budget.objects.for_user(user, action))

    def can_add(self, user):
        return has_role(user, Role.PLANNER)


@audited()
class Expenditure(TimeStampedModel):
    """An actual expenditure (Ist-Ausgabe) booked against a budget for one of its
    target regions and one part."""

    budget = models.ForeignKey(Budget, verbose_name=_("Budget"), on_delete=models.CASCADE,
                               related_name="expenditures")
    region = models.ForeignKey(Region, verbose_name=_("Raum"), on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(
        "cooperation.Organization", verbose_name=_("Träger"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="expenditures", help_text=_("Der Träger, dessen Trägerbudget die Ausgabe belastet."),
    )
    recipient = models.CharField(_("Empfänger"), max_length=200, blank=True,
                                 help_text=_("Freitext, wenn der Empfänger kein erfasster Träger ist."))
    part = models.CharField(_("Teil"), max_length=20, choices=Part.choices)
    category = models.CharField(_("Kostenart"), max_length=100,
                                help_text=_("z. B. Personal, Sachkosten, Honorare"))
    booking_date = models.DateField(_("Buchungsdatum"))
    amount = models.DecimalField(_("Betrag (EUR)"), **MONEY,
                                 help_text=_("Negativ für Erstattungen; nicht 0."))
    text = models.CharField(_("Buchungstext"), max_length=500, blank=True)

    objects = ExpenditureQuerySet.as_manager()

    class Meta:
        ordering = ["-booking_date", "-pk"]
        verbose_name = _("Ausgabe")
        verbose_name_plural = _("Ausgaben")
        indexes = [models.Index(fields=["budget", "region", "part"], name="expenditure_budget_region_part")]
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="expenditure_amount_not_zero",
                                   violation_error_message=_("Der Betrag darf nicht 0 sein.")),
            models.CheckConstraint(condition=~models.Q(category=""), name="expenditure_category_not_empty",
                                   violation_error_message=_("Die Kostenart fehlt.")),
        ]

    def __str__(self):
        return f"{self.booking_date} {self.region_id} {self.part}: {self.amount}"

    def clean(self):
        super().clean()
        if self.amount is not None and self.amount == 0:
            raise ValidationError({"amount": _("Der Betrag darf nicht 0 sein.")})
        if self.budget_id and self.region_id and not self.budget.target_regions().filter(pk=self.region_id).exists():
            raise ValidationError({"region": _("Der Raum gehört nicht zu den Räumen, auf die das Budget verteilt wird.")})
        if self.budget_id and self.booking_date and self.booking_date.year != self.budget.fiscal_year:
            raise ValidationError({"booking_date": _("Das Buchungsdatum liegt nicht im Haushaltsjahr %(year)s.")
                                   % {"year": self.budget.fiscal_year}})


# --- Trägerbudgets ----------------------------------------------------------------

PERCENT = {"max_digits": 7, "decimal_places": 4}


class ShareQuerySet(ScopedQuerySet):
    """The explicit share table is seen with its budget by staff with a role
    and changed by planners who may change the budget; provider staff see
    only their own organisations' shares."""

    def user_scope(self, user, action):
        if action == Action.VIEW and not is_staff_reader(user):
            return self.filter(organization_id__in=organization_ids(user))
        return self.filter(budget__in=Budget.objects.for_user(user, action))

    def can_add(self, user):
        return has_role(user, Role.PLANNER)


@audited()
class ProviderShare(TimeStampedModel):
    """An explicit share of a region's amount for one part that goes to a
    provider. Where a region and part have rows here, they replace the shares
    set in the agreements."""

    budget = models.ForeignKey(Budget, verbose_name=_("Budget"), on_delete=models.CASCADE, related_name="provider_shares")
    region = models.ForeignKey(Region, verbose_name=_("Raum"), on_delete=models.PROTECT, related_name="+")
    part = models.CharField(_("Teil"), max_length=20, choices=Part.choices)
    organization = models.ForeignKey("cooperation.Organization", verbose_name=_("Träger"), on_delete=models.PROTECT,
                                     related_name="budget_shares")
    share = models.DecimalField(_("Anteil (%)"), **PERCENT,
                                validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))])

    objects = ShareQuerySet.as_manager()

    class Meta:
        ordering = ["budget", "region__code", "part", "organization__name"]
        verbose_name = _("Trägeranteil")
        verbose_name_plural = _("Trägeranteile")
        constraints = [
            models.UniqueConstraint(fields=["budget", "region", "part", "organization"], name="provider_share_once",
                                    violation_error_message=_("Für diesen Raum, Teil und Träger gibt es schon einen Anteil.")),
            models.CheckConstraint(condition=models.Q(share__gte=0, share__lte=100), name="provider_share_percent",
                                   violation_error_message=_("Der Anteil liegt zwischen 0 und 100 %.")),
        ]

    def __str__(self):
        return f"{self.region_id} {self.part} {self.organization_id}: {self.share} %"


class ProviderAllocationQuerySet(ScopedQuerySet):
    """Seen with the budget by staff with a role, and by the provider it goes
    to (provider staff see no other organisation's); written only by
    ``budgets.providers`` (no one changes them by hand)."""

    def user_scope(self, user, action):
        if action != Action.VIEW:
            return self.none()
        if not is_staff_reader(user):  # provider staff: their own organisations' rows
            return self.filter(organization_id__in=organization_ids(user))
        return self.filter(budget__in=Budget.objects.for_user(user, action))


class ProviderAllocation(models.Model):
    """A provider's Trägerbudget in one region and part: its share of the
    region's amount in the adopted run, exact to the cent (largest remainder,
    like the allocation engine). ``organization`` empty: the part no share
    passes on (stays with the funder)."""

    budget = models.ForeignKey(Budget, verbose_name=_("Budget"), on_delete=models.CASCADE,
                               related_name="provider_allocations")
    run = models.ForeignKey(AllocationRun, verbose_name=_("Berechnung"), on_delete=models.CASCADE, related_name="+")
    region = models.ForeignKey(Region, verbose_name=_("Raum"), on_delete=models.PROTECT, related_name="+")
    part = models.CharField(_("Teil"), max_length=20, choices=Part.choices)
    organization = models.ForeignKey("cooperation.Organization", verbose_name=_("Träger"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="provider_allocations")
    share = models.DecimalField(_("Anteil (%)"), **PERCENT)
    source = models.CharField(_("Grundlage"), max_length=10, choices=ShareSource.choices)
    agreements = models.ManyToManyField("cooperation.Agreement", verbose_name=_("Vereinbarungen"), blank=True,
                                        related_name="+")
    amount = models.DecimalField(_("Betrag (EUR)"), **MONEY)
    computed_at = models.DateTimeField(_("berechnet am"), auto_now_add=True)

    objects = ProviderAllocationQuerySet.as_manager()

    class Meta:
        ordering = ["budget", "region__code", "part", "organization__name"]
        verbose_name = _("Trägerbudget")
        verbose_name_plural = _("Trägerbudgets")
        constraints = [
            models.UniqueConstraint(fields=["budget", "region", "part", "organization"],
                                    name="provider_allocation_once", nulls_distinct=False,
                                    violation_error_message=_("Doppeltes Trägerbudget.")),
        ]
        indexes = [models.Index(fields=["organization", "budget"], name="provider_alloc_org_budget")]

    def __str__(self):
        return f"{self.region_id} {self.part} {self.organization_id}: {self.amount}"
