import django_filters
from django.utils.translation import gettext_lazy as _

from regions.filtersets import SubtreeFilter

from .models import AllocationRule, Budget


class BudgetFilterSet(django_filters.FilterSet):
    fiscal_year = django_filters.NumberFilter(label=_("Haushaltsjahr"))
    field = django_filters.CharFilter(field_name="field__key", label=_("Handlungsfeld (Schlüssel)"))
    scope_region = django_filters.CharFilter(field_name="scope_region__code", label=_("Gebiet (Schlüssel)"))
    region_ancestor = SubtreeFilter(field_prefix="scope_region__", label=_("Gebiet innerhalb von (Schlüssel)"))
    status = django_filters.CharFilter(label=_("Status"))

    class Meta:
        model = Budget
        fields = ["fiscal_year", "field", "scope_region", "region_ancestor", "status"]


class AllocationRuleFilterSet(django_filters.FilterSet):
    class Meta:
        model = AllocationRule
        fields = ["budget", "part"]
