"""Budgets react to changes below them through signals (regions never imports budgets)."""

from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from cooperation.models import Agreement, AgreementParty
from regions.signals import indicator_values_changed

from .choices import BudgetStatus, Trigger
from .models import Adoption, Budget, ProviderShare


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


# --- Trägerbudgets follow the adoption, the share table and the agreements ---------------


@receiver(post_save, sender=Adoption, dispatch_uid="budgets.providers.adoption")
def providers_on_adoption(sender, instance, created, **kwargs):
    from .providers import request_recompute

    if created:
        request_recompute([instance.budget_id])


@receiver(post_save, sender=ProviderShare, dispatch_uid="budgets.providers.share_saved")
@receiver(post_delete, sender=ProviderShare, dispatch_uid="budgets.providers.share_deleted")
def providers_on_share(sender, instance, **kwargs):
    from .providers import request_recompute

    request_recompute([instance.budget_id])


def _all_adopted(action=None, **kwargs):
    """An agreement, its parties, regions or fields changed: every budget with
    an adopted run is recomputed (cheap; unchanged results write nothing)."""
    from .providers import budgets_with_adoption, request_recompute

    if action is not None and not action.startswith("post_"):
        return

    request_recompute(list(budgets_with_adoption()))


for _model in (Agreement, AgreementParty):
    post_save.connect(_all_adopted, sender=_model, dispatch_uid=f"budgets.providers.{_model.__name__}.saved",
                      weak=False)
    post_delete.connect(_all_adopted, sender=_model, dispatch_uid=f"budgets.providers.{_model.__name__}.deleted",
                        weak=False)
for _through in (Agreement.regions.through, Agreement.fields.through):
    m2m_changed.connect(_all_adopted, sender=_through, dispatch_uid=f"budgets.providers.{_through.__name__}",
                        weak=False)
