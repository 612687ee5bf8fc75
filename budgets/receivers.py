"""Budgets react to changes below them through signals (regions never imports budgets)."""

from django.db.models import Q
from django.dispatch import receiver

from regions.signals import indicator_values_changed

from .choices import BudgetStatus, Trigger
from .models import Budget


@receiver(indicator_values_changed, dispatch_uid="budgets.indicator_values_changed")
def recompute_on_indicator_change(sender, indicator_ids=(), **kwargs):
    """Every open budget whose rules use a changed indicator is recomputed."""
    from .services import request_recompute

    ids = list(indicator_ids or ())
    if not ids:
        return
    budgets = (
        Budget.objects.exclude(status=BudgetStatus.CLOSED)
        .filter(Q(rules__terms__indicator_id__in=ids) | Q(rules__terms__factor_indicator_id__in=ids))
        .values_list("pk", flat=True)
        .distinct()
    )
    request_recompute(list(budgets), Trigger.INDICATOR_CHANGE)
