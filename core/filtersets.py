"""One FilterSet per model, used by the HTML lists and the API viewsets."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import FieldOfAction, Notification


class FieldOfActionFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Suche"))
    ancestor = django_filters.CharFilter(
        method="filter_ancestor", label=_("innerhalb von (Schlüssel)"),
        help_text=_("Das Handlungsfeld mit allen Unterbereichen."),
    )
    parent = django_filters.CharFilter(field_name="parent__key", label=_("übergeordnetes Handlungsfeld (Schlüssel)"))
    depth = django_filters.NumberFilter(field_name="depth", label=_("Ebene (0 = oberste)"))
    active = django_filters.BooleanFilter(field_name="active", label=_("aktiv"))

    class Meta:
        model = FieldOfAction
        fields = ["q", "ancestor", "parent", "depth", "active", "key"]

    def filter_q(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        return qs.filter(
            Q(name__icontains=value) | Q(key__icontains=value) | Q(legal_basis__icontains=value)
            | Q(description__icontains=value)
        )

    def filter_ancestor(self, qs, name, value):
        """The subtree below (and including) the field with that key; the key is
        resolved in the same query."""
        value = value.strip()
        return qs.subtree(value) if value else qs


class NotificationFilterSet(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull", label=_("ungelesen"))
    kind = django_filters.CharFilter(field_name="kind", label=_("Art"))

    class Meta:
        model = Notification
        fields = ["unread", "kind"]
