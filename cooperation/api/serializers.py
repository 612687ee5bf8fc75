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
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections, transaction
from django.db.models import OuterRef, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from core.access import Action
from core.models import FieldOfAction
from regions.models import Region

from .. import access
from ..choices import ServiceStatus
from ..models import Location, Membership, Organization, Service, TargetGroup, confirmation_cutoff


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
        try:
            value = value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
        except InvalidOperation:  # too many digits to round (1e30): "too long" like any other
            self.fail("max_digits", max_digits=self.max_digits)
        return super().validate_precision(value)


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
        slug_field="code", read_only=True, allow_null=True,
        help_text="Der Raum, in dem der Punkt liegt (aus den Koordinaten; leer außerhalb jeder Raumgrenze).",
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


# --- the services list, fast ------------------------------------------------------------------


class ServiceListRows:
    """The rows of the services list exactly as ``ServiceSerializer(many=True).data``
    gives them (same keys in the same order, same values and types), read with
    two queries instead of building model instances and running a DRF field
    object per cell.

    Why: with 100 offerings per page the serializer path built some 1,000 model
    instances (offerings, organisations and the four prefetched relations,
    including each offering's full-text vector) and called ~35 field objects per
    row; the list took 2–3× as long as reading the same rows with ``values()``.

    An instance wraps the filtered (and access-scoped) queryset and is what the
    paginator pages: ``count()`` counts the queryset, a slice reads one page and
    iterating reads every row (the CSV/XLSX exports). Reading is

    1. the ids (and ``distance`` of the ``near`` filter) in the filters' order,
       from the queryset itself — a narrow sort, with every filter and the
       access scoping applied;
    2. the columns of those ids, the organisation's uuid and name and the
       natural keys of the four relations as arrays (each ordered like the
       serializer's prefetch: the related model's ordering, its pk breaking
       ties), in one statement that does not depend on the filters. It is
       compiled by the ORM once per database connection alias and then only
       executed (compiling it took longer than running it).

    A test (tests/cooperation/test_api_fast.py) compares the output with the
    serializer's for several personas and filters; a change of
    ``ServiceSerializer.Meta.fields`` must be made here too (the test fails
    otherwise)."""

    # own columns and the organisation's, as read by statement 2 (after the pk)
    COLUMNS = (
        "uuid", "organization__uuid", "organization__name", "name", "description", "keywords", "setting",
        "work_mode", "age_min", "age_max", "legal_bases", "languages", "accessibility", "cost", "cost_note",
        "access_modes", "city_wide", "opening_hours", "email", "phone", "url", "capacity", "free_places",
        "free_places_reported_at", "status", "last_confirmed_at", "created_at", "updated_at",
    )
    # relation of Service (and key of the output) → natural key of the related objects
    RELATIONS = {"fields": "key", "target_groups": "key", "regions": "code", "locations": "uuid"}
    # the statuses asked to be confirmed (Service.needs_confirmation)
    CONFIRMED_STATUSES = frozenset({ServiceStatus.ACTIVE, ServiceStatus.TEMPORARILY_CLOSED})

    _statements: dict[str, str] = {}  # database alias → SQL of statement 2

    def __init__(self, queryset):
        self.queryset = queryset

    # --- what the paginator uses ---

    @property
    def ordered(self) -> bool:
        return self.queryset.ordered

    def count(self) -> int:
        return self.queryset.count()

    def __getitem__(self, index):
        if not isinstance(index, slice) or index.step is not None:
            raise TypeError("ServiceListRows takes a slice (a page) only")
        return self.rows(self.keys(index))

    def __iter__(self):
        return iter(self.rows(self.keys()))

    # --- reading ---

    def keys(self, index: slice | None = None) -> list[tuple]:
        """Statement 1: (id, distance or None) in the filters' order."""
        if "distance" in self.queryset.query.annotations:
            keys = self.queryset.values_list("pk", "distance")
            return list(keys if index is None else keys[index])
        keys = self.queryset.values_list("pk", flat=True)
        return [(pk, None) for pk in (keys if index is None else keys[index])]

    @classmethod
    def statement(cls, alias: str) -> str:
        """Statement 2 for the database ``alias``: the rows of the ids given as
        its one parameter (a list)."""
        sql = cls._statements.get(alias)
        if sql is None:
            arrays = {}
            for relation, key in cls.RELATIONS.items():
                m2m = Service._meta.get_field(relation)
                target = m2m.m2m_reverse_field_name()  # e.g. "fieldofaction"
                ordering = [("-" if term.startswith("-") else "") + f"{target}__{term.lstrip('-')}"
                            for term in m2m.related_model._meta.ordering]
                linked = m2m.remote_field.through.objects.filter(service_id=OuterRef("pk"))
                arrays[f"related_{relation}"] = ArraySubquery(
                    linked.order_by(*ordering, f"{target}_id").values(f"{target}__{key}"))
            query = (
                Service.objects.using(alias).filter(pk__in=RawSQL("SELECT unnest(%s)", ([0],)))
                .annotate(**arrays).order_by().values("pk", *cls.COLUMNS, *arrays)
            )
            sql, params = query.query.get_compiler(using=alias).as_sql()
            if list(params) != [[0]]:  # pragma: no cover - the statement takes the ids only
                raise RuntimeError(f"unexpected parameters of the services list statement: {params!r}")
            cls._statements[alias] = sql
        return sql

    def rows(self, keys) -> list[dict]:
        """The serializer's output for the offerings ``keys`` ((id, distance)
        pairs), in that order."""
        if not keys:
            return []
        alias = self.queryset.db
        with connections[alias].cursor() as cursor:
            cursor.execute(self.statement(alias), [list({pk for pk, _d in keys})])
            names = [column[0] for column in cursor.description]
            by_pk = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
        datetime_text, date_text = _datetime_formatter(), _date_formatter()
        cutoff = confirmation_cutoff()
        confirmed_statuses = self.CONFIRMED_STATUSES
        out = []
        for pk, distance in keys:
            row = by_pk.get(pk)
            if row is None:  # deleted between the two statements
                continue
            status, created_at, last_confirmed_at = row["status"], row["created_at"], row["last_confirmed_at"]
            reference = last_confirmed_at or created_at
            out.append({
                "uuid": str(row["uuid"]),
                "organization": row["organization__uuid"],
                "organization_name": row["organization__name"],
                "name": row["name"],
                "description": row["description"],
                "keywords": row["keywords"],
                "fields": row["related_fields"],
                "setting": row["setting"],
                "work_mode": row["work_mode"],
                "target_groups": row["related_target_groups"],
                "age_min": row["age_min"],
                "age_max": row["age_max"],
                "legal_bases": list(row["legal_bases"]),
                "languages": list(row["languages"]),
                "accessibility": list(row["accessibility"]),
                "cost": row["cost"],
                "cost_note": row["cost_note"],
                "access_modes": list(row["access_modes"]),
                "city_wide": row["city_wide"],
                "regions": row["related_regions"],
                "locations": row["related_locations"],
                "opening_hours": row["opening_hours"],
                "email": row["email"],
                "phone": row["phone"],
                "url": row["url"],
                "capacity": row["capacity"],
                "free_places": row["free_places"],
                "free_places_reported_at": date_text(row["free_places_reported_at"]),
                "status": status,
                "last_confirmed_at": datetime_text(last_confirmed_at),
                "needs_confirmation": status in confirmed_statuses and reference is not None and reference < cutoff,
                "distance_km": None if distance is None else round(distance, 3),
                "created_at": datetime_text(created_at),
                "updated_at": datetime_text(row["updated_at"]),
            })
        return out


def _datetime_formatter():
    """``serializers.DateTimeField().to_representation`` for this request (the
    active time zone), without a field object per call when the format is the
    default ISO 8601."""
    if api_settings.DATETIME_FORMAT is None or api_settings.DATETIME_FORMAT.lower() != ISO_8601 \
            or not settings.USE_TZ:
        return serializers.DateTimeField().to_representation
    tz = timezone.get_current_timezone()

    def text(value):
        if not value:
            return None
        if timezone.is_naive(value):  # as DRF: taken as local time
            return serializers.DateTimeField().to_representation(value)
        out = value.astimezone(tz).isoformat()
        return out[:-6] + "Z" if out.endswith("+00:00") else out

    return text


def _date_formatter():
    """``serializers.DateField().to_representation`` (ISO 8601 by default)."""
    if api_settings.DATE_FORMAT is None or api_settings.DATE_FORMAT.lower() != ISO_8601:
        return serializers.DateField().to_representation
    return lambda value: value.isoformat() if value else None
