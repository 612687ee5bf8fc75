"""One FilterSet per model, used by the HTML lists and the API viewsets."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import IndexKind, IndexResultStatus
from .models import CompositeIndex, IndexResult, Indicator, IndicatorValue, Region, RegionLevel


class RegionLevelFilterSet(django_filters.FilterSet):
    class Meta:
        model = RegionLevel
        fields = ["key", "rank"]


class SubtreeFilter(django_filters.CharFilter):
    """``ancestor=<code>``: the whole subtree below (and including) that region."""

    def __init__(self, *args, field_prefix="", **kwargs):
        self.field_prefix = field_prefix
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        region = Region.objects.filter(code=value.strip()).only("path").first()
        if region is None:
            return qs.none()
        return qs.filter(**{f"{self.field_prefix}path__startswith": region.path})


class RegionFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Suche (Name oder Schlüssel)"))
    level = django_filters.CharFilter(field_name="level__key", label=_("Ebene"))
    parent = django_filters.CharFilter(field_name="parent__code", label=_("übergeordneter Raum (Schlüssel)"))
    ancestor = SubtreeFilter(label=_("innerhalb von (Schlüssel)"))
    code = django_filters.CharFilter(field_name="code", label=_("Schlüssel"))
    has_boundary = django_filters.BooleanFilter(field_name="boundary", lookup_expr="isnull", exclude=True,
                                                label=_("mit Grenze"))

    class Meta:
        model = Region
        fields = ["q", "level", "parent", "ancestor", "code", "has_boundary"]

    def filter_q(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        return qs.filter(Q(name__icontains=value) | Q(code__startswith=value))


class IndicatorFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Suche"))

    class Meta:
        model = Indicator
        fields = ["q", "key", "rollup", "direction"]

    def filter_q(self, qs, name, value):
        value = value.strip()
        return qs.filter(Q(name__icontains=value) | Q(key__icontains=value) | Q(description__icontains=value)) if value else qs


class IndicatorValueFilterSet(django_filters.FilterSet):
    indicator = django_filters.CharFilter(field_name="indicator__key", label=_("Indikator (Schlüssel)"))
    region = django_filters.CharFilter(field_name="region__code", label=_("Raum (Schlüssel)"))
    region_ancestor = SubtreeFilter(field_prefix="region__", label=_("Räume innerhalb von (Schlüssel)"))
    level = django_filters.CharFilter(field_name="region__level__key", label=_("Ebene"))
    period = django_filters.CharFilter(field_name="period", label=_("Zeitraum"))
    period_from = django_filters.CharFilter(field_name="period", lookup_expr="gte", label=_("Zeitraum ab"))
    period_to = django_filters.CharFilter(field_name="period", lookup_expr="lte", label=_("Zeitraum bis"))

    class Meta:
        model = IndicatorValue
        fields = ["indicator", "region", "region_ancestor", "level", "period", "period_from", "period_to", "is_rollup"]


class CompositeIndexFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Suche"))
    kind = django_filters.ChoiceFilter(choices=IndexKind.choices, label=_("Art"), empty_label=_("alle"))
    scope_level = django_filters.CharFilter(field_name="scope_level__key", label=_("Ebene"))
    indicator = django_filters.CharFilter(field_name="components__indicator__key", distinct=True,
                                          label=_("mit Komponente (Schlüssel)"))

    class Meta:
        model = CompositeIndex
        fields = ["q", "kind", "scope_level", "indicator"]

    def filter_q(self, qs, name, value):
        value = value.strip()
        return qs.filter(Q(name__icontains=value) | Q(key__icontains=value) | Q(description__icontains=value)) if value else qs


class IndexResultFilterSet(django_filters.FilterSet):
    """Results of one index (``/api/v1/indices/{key}/results/`` and the detail page)."""

    period = django_filters.CharFilter(field_name="period", label=_("Zeitraum"))
    status = django_filters.ChoiceFilter(choices=IndexResultStatus.choices, label=_("Status"), empty_label=_("alle"))
    class_label = django_filters.CharFilter(field_name="class_label", label=_("Klasse"))
    region = django_filters.CharFilter(field_name="region__code", label=_("Raum (Schlüssel)"))
    region_ancestor = SubtreeFilter(field_prefix="region__", label=_("Räume innerhalb von (Schlüssel)"))

    class Meta:
        model = IndexResult
        fields = ["period", "status", "class_label", "region", "region_ancestor"]
