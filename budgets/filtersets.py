import re

import django_filters
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError

from regions.filtersets import SubtreeFilter

from .choices import Part, ShareSource
from .models import AllocationRule, Budget, Expenditure, ProviderAllocation, ProviderShare


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


class ExpenditureFilterSet(django_filters.FilterSet):
    budget = django_filters.NumberFilter(field_name="budget_id", label=_("Budget"))
    region = django_filters.CharFilter(field_name="region__code", label=_("Raum (Schlüssel)"))
    region_ancestor = SubtreeFilter(field_prefix="region__", label=_("Raum innerhalb von (Schlüssel)"))
    part = django_filters.ChoiceFilter(choices=Part.choices, label=_("Teil"))
    category = django_filters.CharFilter(field_name="category", lookup_expr="iexact", label=_("Kostenart"))
    booking_date = django_filters.DateFromToRangeFilter(label=_("Buchungsdatum von … bis"))
    month = django_filters.CharFilter(method="filter_month", label=_("Monat (JJJJ-MM)"))

    class Meta:
        model = Expenditure
        fields = ["budget", "region", "region_ancestor", "part", "category", "booking_date", "month"]

    def filter_month(self, qs, name, value):
        value = (value or "").strip()
        if not value:
            return qs
        match = re.fullmatch(r"(\d{4})-(\d{1,2})", value, re.ASCII)
        if not (match and int(match[1]) >= 1 and 1 <= int(match[2]) <= 12):
            raise ValidationError({"month": [gettext("Monat im Format JJJJ-MM angeben, z. B. 2027-03.")]})
        return qs.filter(booking_date__year=int(match[1]), booking_date__month=int(match[2]))


class ProviderShareFilterSet(django_filters.FilterSet):
    budget = django_filters.NumberFilter(field_name="budget_id", label=_("Budget (Nummer)"))
    region = SubtreeFilter(field_prefix="region__", label=_("im Raum (Schlüssel, mit Teilräumen)"))
    part = django_filters.MultipleChoiceFilter(choices=Part.choices, label=_("Teil"))
    organization = django_filters.UUIDFilter(field_name="organization__uuid", label=_("Träger (UUID)"))

    class Meta:
        model = ProviderShare
        fields = ["budget", "region", "part", "organization"]


class ProviderAllocationFilterSet(ProviderShareFilterSet):
    source = django_filters.MultipleChoiceFilter(choices=ShareSource.choices, label=_("Grundlage"))

    class Meta:
        model = ProviderAllocation
        fields = ["budget", "region", "part", "organization", "source"]
