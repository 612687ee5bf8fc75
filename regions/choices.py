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
