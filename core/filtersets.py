"""One FilterSet per model, used by the HTML lists and the API viewsets."""

from datetime import timedelta

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField

from .models import FieldOfAction, Notification

MAX_UTC_OFFSET = timedelta(hours=14)  # the largest offset in use (Kiribati); PostgreSQL refuses beyond 15:59


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time whose UTC offset exists (Python takes up to ±23:59,
    PostgreSQL answers an error beyond ±15:59)."""

    def to_python(self, value):
        parsed = super().to_python(value)
        offset = parsed.utcoffset() if parsed is not None else None
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise forms.ValidationError(_("Die Zeitzonenangabe liegt außerhalb von ±14:00."), code="invalid")
        return parsed


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """``django_filters.IsoDateTimeFilter`` with an offset check: an impossible
    offset is a 400 with a message, not a database error."""

    field_class = BoundedIsoDateTimeField


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
