"""Organisations, memberships, target groups, locations and service offerings in
the API. Related objects are given by natural keys: organisations, locations
and offerings by ``uuid``, fields of action and target groups by ``key``,
regions by ``code``, users by ``username``; choice lists as lists of keys.

Which related objects a user may name is scoped like everything else: a
provider editor can only name the organisations they may change (another
organisation "does not exist" for them: a 400 on that field, nothing written)
and the locations they see; only planners move an offering, a location or an
organisation to another organisation.
"""

import copy
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from rest_framework import serializers

from core.access import Action
from core.models import FieldOfAction
from regions.models import Region

from .. import access
from ..models import Location, Membership, Organization, Service, TargetGroup


class ScopedSlugRelatedField(serializers.SlugRelatedField):
    """A related object by natural key, looked up only among the objects the
    requesting user may see (``action`` view) or change (``action`` change);
    any other key answers "does not exist" (no hint that it exists elsewhere).
    With ``keep_current``, objects already linked to the instance stay valid
    (e.g. a location a planner attached)."""

    def __init__(self, *, model, action=Action.VIEW, keep_current=False, **kwargs):
        self.model, self.action, self.keep_current = model, action, keep_current
        if not kwargs.get("read_only"):
            kwargs["queryset"] = model.objects.all()
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        scoped = self.model.objects.for_user(getattr(request, "user", None), self.action)
        instance = getattr(self.root, "instance", None)
        if self.keep_current and getattr(instance, "pk", None) is not None:
            many = isinstance(self.parent, serializers.ManyRelatedField)
            source = self.parent.source if many else self.source
            if many:
                current = getattr(instance, source).values("pk")
            else:
                current = [getattr(instance, f"{source}_id")]
            scoped = self.model.objects.filter(Q(pk__in=scoped.values("pk")) | Q(pk__in=current))
        return scoped


class CoordinateField(serializers.DecimalField):
    """WGS84 degrees, stored with 6 decimals (about 0.1 m): more decimals are
    rounded, not refused (geocoders give 7 and more)."""

    def __init__(self, limit, **kwargs):
        super().__init__(max_digits=9, decimal_places=6, min_value=Decimal(-limit), max_value=Decimal(limit),
                         allow_null=True, required=False, **kwargs)

    def validate_precision(self, value):
        return super().validate_precision(value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))


def run_model_clean(serializer, attrs):
    """The model's ``clean()`` on the instance with ``attrs`` applied (not
    saved), so the API gives the same messages as the pages."""
    model = serializer.Meta.model
    probe = copy.copy(serializer.instance) if serializer.instance is not None else model()
    for name, value in attrs.items():
        field = next((f for f in model._meta.get_fields() if f.name == name), None)
        if field is not None and not field.many_to_many:
            setattr(probe, name, value)
    try:
        probe.clean()
    except DjangoValidationError as e:
        raise serializers.ValidationError(e.message_dict if hasattr(e, "error_dict") else {
            "non_field_errors": e.messages})


def unique_keys(values):
    """A choice list without repetitions, in the given order."""
    return list(dict.fromkeys(values))


class AtomicModelSerializer(serializers.ModelSerializer):
    """Writes the object and its many-to-many links in one transaction."""

    def create(self, validated_data):
        with transaction.atomic():
            return super().create(validated_data)

    def update(self, instance, validated_data):
        with transaction.atomic():
            return super().update(instance, validated_data)


def refuse_move(serializer, field: str, new, message: str):
    """Only planners give an object another organisation (no reassignment by
    provider staff)."""
    instance = serializer.instance
    if instance is None:
        return
    current_id = getattr(instance, f"{field}_id")
    new_id = new.pk if new is not None else None
    if new_id != current_id and not access.is_planner(serializer.context["request"].user):
        raise serializers.ValidationError(message)


# --- organisations and memberships ---------------------------------------------------


class OrganizationSerializer(AtomicModelSerializer):
    parent = ScopedSlugRelatedField(
        model=Organization, slug_field="uuid", allow_null=True, required=False,
        help_text="UUID der übergeordneten Organisation (bei Zweigstellen/Einrichtungen).",
    )
    regions = serializers.SlugRelatedField(
        many=True, slug_field="code", queryset=Region.objects.all(), required=False,
        help_text="Schlüssel der Räume, in denen die Organisation tätig ist.",
    )

    class Meta:
        model = Organization
        fields = ["uuid", "name", "kind", "umbrella", "legal_form", "register_number", "description", "parent",
                  "email", "phone", "website", "street", "postal_code", "city", "regions", "created_at", "updated_at"]
        read_only_fields = ["uuid", "created_at", "updated_at"]

    def validate_parent(self, parent):
        refuse_move(self, "parent", parent,
                    _("Nur die Planung ordnet eine Organisation einer anderen Organisation zu."))
        return parent

    def validate(self, attrs):
        run_model_clean(self, attrs)
        return attrs


class MembershipSerializer(AtomicModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", queryset=get_user_model().objects.all())
    organization = serializers.SlugRelatedField(slug_field="uuid", queryset=Organization.objects.all())
    organization_name = serializers.CharField(source="organization.name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "organization", "organization_name", "role", "created_at"]
        read_only_fields = ["created_at"]


# --- target groups ----------------------------------------------------------------------


class TargetGroupSerializer(AtomicModelSerializer):
    parent = serializers.SlugRelatedField(
        slug_field="key", queryset=TargetGroup.objects.all(), allow_null=True, required=False,
        help_text="Schlüssel der übergeordneten Zielgruppe; leer = oberste Ebene.",
    )

    class Meta:
        model = TargetGroup
        fields = ["key", "name", "parent", "order", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def validate_key(self, key):
        if self.instance is not None and key != self.instance.key:
            raise serializers.ValidationError(
                _("Der Schlüssel einer Zielgruppe bleibt unverändert (Schnittstellen verweisen darauf).")
            )
        return key

    def validate_parent(self, parent):
        if parent is not None and self.instance is not None and parent.pk in self.instance.subtree_ids():
            raise serializers.ValidationError(
                _("Die übergeordnete Zielgruppe darf nicht diese selbst oder eine ihrer Untergruppen sein.")
            )
        return parent


# --- locations ----------------------------------------------------------------------------


class LocationSerializer(AtomicModelSerializer):
    organization = ScopedSlugRelatedField(
        model=Organization, action=Action.CHANGE, slug_field="uuid",
        help_text="UUID der Organisation (eine, die Sie bearbeiten dürfen).",
    )
    organization_name = serializers.CharField(source="organization.name", read_only=True)
    latitude = CoordinateField(90, help_text="WGS84, z. B. 52.520008")
    longitude = CoordinateField(180, help_text="WGS84, z. B. 13.404954")
    region = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text="Der Raum, in dem der Punkt liegt (aus den Koordinaten).",
    )

    class Meta:
        model = Location
        fields = ["uuid", "organization", "organization_name", "name", "street", "postal_code", "city", "latitude",
                  "longitude", "region", "created_at", "updated_at"]
        read_only_fields = ["uuid", "created_at", "updated_at"]

    def validate_organization(self, organization):
        refuse_move(self, "organization", organization,
                    _("Nur die Planung ordnet einen Standort einer anderen Organisation zu."))
        return organization

    def validate(self, attrs):
        run_model_clean(self, attrs)
        return attrs


# --- service offerings ---------------------------------------------------------------------


class ServiceSerializer(AtomicModelSerializer):
    organization = ScopedSlugRelatedField(
        model=Organization, action=Action.CHANGE, slug_field="uuid",
        help_text="UUID der Organisation (eine, die Sie bearbeiten dürfen).",
    )
    organization_name = serializers.CharField(source="organization.name", read_only=True)
    fields = serializers.SlugRelatedField(
        many=True, slug_field="key", queryset=FieldOfAction.objects.all(), allow_empty=False,
        help_text="Schlüssel der Handlungsfelder (mindestens eins).",
    )
    target_groups = serializers.SlugRelatedField(
        many=True, slug_field="key", queryset=TargetGroup.objects.all(), required=False,
        help_text="Schlüssel der Zielgruppen.",
    )
    regions = serializers.SlugRelatedField(
        many=True, slug_field="code", queryset=Region.objects.all(), required=False,
        help_text="Schlüssel der versorgten Räume (leer bei stadtweiten Angeboten).",
    )
    locations = ScopedSlugRelatedField(
        model=Location, slug_field="uuid", keep_current=True, many=True, required=False,
        help_text="UUIDs der Standorte.",
    )
    needs_confirmation = serializers.BooleanField(
        read_only=True, help_text="Seit SERVICE_CONFIRMATION_MONTHS nicht als aktuell bestätigt.",
    )
    distance_km = serializers.SerializerMethodField(
        help_text="Entfernung des nächsten Standorts in km (nur mit dem Filter „near“, sonst leer).",
    )

    class Meta:
        model = Service
        fields = [
            "uuid", "organization", "organization_name", "name", "description", "keywords", "fields", "setting",
            "work_mode", "target_groups", "age_min", "age_max", "legal_bases", "languages", "accessibility", "cost",
            "cost_note", "access_modes", "city_wide", "regions", "locations", "opening_hours", "email", "phone",
            "url", "capacity", "free_places", "free_places_reported_at", "status", "last_confirmed_at",
            "needs_confirmation", "distance_km", "created_at", "updated_at",
        ]
        read_only_fields = ["uuid", "last_confirmed_at", "created_at", "updated_at"]

    def get_distance_km(self, obj) -> float | None:
        distance = getattr(obj, "distance", None)
        return None if distance is None else round(distance, 3)

    def validate_organization(self, organization):
        refuse_move(self, "organization", organization,
                    _("Nur die Planung ordnet ein Angebot einer anderen Organisation zu."))
        return organization

    def validate_fields(self, fields):
        current = set(self.instance.fields.values_list("pk", flat=True)) if self.instance is not None else set()
        inactive = [f.key for f in fields if not f.active and f.pk not in current]
        if inactive:
            raise serializers.ValidationError(
                _("Nicht mehr aktive Handlungsfelder können nicht neu zugeordnet werden: %(keys)s")
                % {"keys": ", ".join(inactive)}
            )
        return unique_keys(fields)

    def validate_legal_bases(self, value):
        return unique_keys(value)

    def validate_languages(self, value):
        return unique_keys(value)

    def validate_accessibility(self, value):
        return unique_keys(value)

    def validate_access_modes(self, value):
        return unique_keys(value)

    def validate(self, attrs):
        run_model_clean(self, attrs)
        return attrs
