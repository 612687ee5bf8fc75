from django.db import models
from django.utils.translation import gettext_lazy as _


class Direction(models.TextChoices):
    HIGHER_BETTER = "higher_better", _("höher ist besser")
    HIGHER_WORSE = "higher_worse", _("höher ist schlechter")
    NEUTRAL = "neutral", _("neutral")


class Rollup(models.TextChoices):
    SUM = "sum", _("Summe (Anzahlen)")
    WEIGHTED_MEAN = "weighted_mean", _("gewichtetes Mittel (Anteile)")
    NONE = "none", _("nicht aggregieren")


class IndexKind(models.TextChoices):
    """Only a label: both kinds are computed alike (a dynamics index's components
    are indicators of change)."""

    STATUS = "status", _("Statusindex")
    DYNAMICS = "dynamics", _("Dynamikindex")


class IndexResultStatus(models.TextChoices):
    OK = "ok", _("berechnet")
    EXCLUDED = "excluded", _("ausgeschlossen")
    MISSING = "missing", _("Werte fehlen")
