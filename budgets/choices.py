from django.db import models
from django.utils.translation import gettext_lazy as _


class BudgetStatus(models.TextChoices):
    DRAFT = "draft", _("Entwurf")
    APPROVED = "approved", _("beschlossen")
    CLOSED = "closed", _("abgeschlossen")


class SplitMode(models.TextChoices):
    PERCENT = "percent", _("in Prozent")
    AMOUNT = "amount", _("in Euro")


class Part(models.TextChoices):
    """The three kinds of work a social-space budget pays for."""

    CASE_SPECIFIC = "case_specific", _("fallspezifisch")
    CASE_OVERARCHING = "case_overarching", _("fallübergreifend")
    PREVENTIVE = "preventive", _("fallunspezifisch (präventiv)")


class RulePart(models.TextChoices):
    ALL = "all", _("alle Teile ohne eigene Regel")
    CASE_SPECIFIC = Part.CASE_SPECIFIC.value, Part.CASE_SPECIFIC.label
    CASE_OVERARCHING = Part.CASE_OVERARCHING.value, Part.CASE_OVERARCHING.label
    PREVENTIVE = Part.PREVENTIVE.value, Part.PREVENTIVE.label


class TermKind(models.TextChoices):
    INDICATOR = "indicator", _("Anteil an einem Indikator")
    PER_CAPITA = "per_capita", _("Einwohner × Faktor")
    EQUAL = "equal", _("gleiche Anteile")


class MissingPolicy(models.TextChoices):
    REFUSE = "refuse", _("ablehnen (alle Werte nötig)")
    EXCLUDE = "exclude", _("Raum ausschließen und ausweisen")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("wartet")
    RUNNING = "running", _("läuft")
    SUCCEEDED = "succeeded", _("fertig")
    FAILED = "failed", _("fehlgeschlagen")


class Trigger(models.TextChoices):
    MANUAL = "manual", _("„Neu berechnen“")
    BUDGET_CHANGE = "budget_change", _("Budget geändert")
    RULE_CHANGE = "rule_change", _("Verteilungsschlüssel geändert")
    INDICATOR_CHANGE = "indicator_change", _("Indikatorwerte geändert")


#: Suggested expenditure categories (the field is free text; forms may offer these).
EXPENDITURE_CATEGORIES = (_("Personal"), _("Sachkosten"), _("Honorare"))


class ShareSource(models.TextChoices):
    AGREEMENT = "agreement", _("Vereinbarung")
    TABLE = "table", _("Anteilstabelle")
    RETAINED = "retained", _("nicht weitergegeben")
