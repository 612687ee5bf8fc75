import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from core.access import Action, Role

from ..access import is_unscoped
from ..geo import GeometryError
from ..indices import class_problems, component_problems, save_definition
from ..models import (
    PERIOD_REGEX,
    CompositeIndex,
    IndexClass,
    IndexComponent,
    IndexResult,
    Indicator,
    IndicatorValue,
    Region,
    RegionLevel,
)


class RegionLevelSerializer(serializers.ModelSerializer):
    class Meta:
        model = RegionLevel
        fields = ["id", "key", "name", "name_plural", "rank"]

    def validate_rank(self, rank):
        """A new rank must keep every region of this level below its parent's level
        and above its children's levels."""
        level = self.instance
        if level is None or rank == level.rank:
            return rank
        regions = Region.objects.filter(level=level)
        if regions.filter(parent__level__rank__gte=rank).exists() or Region.objects.filter(
            parent__level=level, level__rank__lte=rank
        ).exists():
            raise serializers.ValidationError(
                _("Mit diesem Rang lägen Räume dieser Ebene nicht mehr zwischen ihren über- und untergeordneten Räumen.")
            )
        return rank


class RegionSerializer(serializers.ModelSerializer):
    level = serializers.SlugRelatedField(slug_field="key", queryset=RegionLevel.objects.all())
    parent = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all(), allow_null=True,
                                          required=False)
    boundary = serializers.JSONField(required=False, allow_null=True, write_only=True)
    has_boundary = serializers.SerializerMethodField()

    class Meta:
        model = Region
        fields = [
            "id", "code", "name", "level", "parent", "depth", "lead_unit", "official_area_m2", "area_m2",
            "centroid_lon", "centroid_lat", "has_boundary", "boundary", "created_at", "updated_at",
        ]
        read_only_fields = ["depth", "area_m2", "centroid_lon", "centroid_lat", "created_at", "updated_at"]

    def get_has_boundary(self, obj) -> bool:
        return obj.bbox_min_lon is not None

    def validate_parent(self, parent):
        user = self.context["request"].user
        if parent is not None and not Region.objects.for_user(user, Action.CHANGE).filter(pk=parent.pk).exists():
            raise serializers.ValidationError(_("Keine Berechtigung für diesen übergeordneten Raum."))
        return parent

    def validate(self, attrs):
        user = self.context["request"].user
        to_root = "parent" in attrs and attrs["parent"] is None
        if self.instance is None:
            to_root = attrs.get("parent") is None
        elif self.instance.parent_id is None:
            to_root = False  # a root stays a root
        if to_root and not is_unscoped(user, Role.PLANNER):
            raise serializers.ValidationError(
                {"parent": _("Nur Planung ohne Raumbeschränkung darf oberste Räume anlegen.")}
            )
        return attrs

    def _apply(self, instance, validated):
        boundary = validated.pop("boundary", serializers.empty)
        for k, v in validated.items():
            setattr(instance, k, v)
        if boundary is not serializers.empty:
            if boundary is None:
                instance.boundary = instance.area_m2 = instance.centroid_lon = instance.centroid_lat = None
                instance.bbox_min_lon = instance.bbox_min_lat = instance.bbox_max_lon = instance.bbox_max_lat = None
            else:
                try:
                    instance.set_boundary(boundary)
                except GeometryError as e:
                    raise serializers.ValidationError({"boundary": str(e)})
        try:
            instance.save()
        except DjangoValidationError as e:
            raise serializers.ValidationError(e.message_dict)
        return instance

    def create(self, validated):
        return self._apply(Region(), validated)

    def update(self, instance, validated):
        return self._apply(instance, validated)


# --- GeoJSON (RFC 7946) of regions: what ?format=geojson answers (documentation only) ----------


@extend_schema_field({"type": "string", "enum": ["Feature"]})
class _FeatureType(serializers.CharField):
    pass


@extend_schema_field({"type": "string", "enum": ["FeatureCollection"]})
class _FeatureCollectionType(serializers.CharField):
    pass


@extend_schema_field({"type": "object", "nullable": True,
                      "description": "GeoJSON-Geometrie (Polygon oder MultiPolygon, WGS84); leer ohne Grenze."})
class _Geometry(serializers.JSONField):
    pass


class RegionFeaturePropertiesSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    level = serializers.CharField(help_text="Schlüssel der Ebene.")
    parent = serializers.CharField(allow_null=True, help_text="Schlüssel des übergeordneten Raums.")
    area_m2 = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)


class RegionFeatureSerializer(serializers.Serializer):
    """One region as a GeoJSON Feature (``id``: its code)."""

    type = _FeatureType()
    id = serializers.CharField()
    geometry = _Geometry()
    properties = RegionFeaturePropertiesSerializer()


@extend_schema_serializer(many=False)
class RegionFeatureCollectionSerializer(serializers.Serializer):
    """Regions with a boundary as a GeoJSON FeatureCollection (RFC 7946: WGS84,
    no ``crs`` member; not paginated)."""

    type = _FeatureCollectionType()
    features = RegionFeatureSerializer(many=True)


class IndicatorSerializer(serializers.ModelSerializer):
    weight_indicator = serializers.SlugRelatedField(slug_field="key", queryset=Indicator.objects.all(),
                                                    allow_null=True, required=False)

    class Meta:
        model = Indicator
        fields = ["id", "key", "name", "unit", "description", "source", "direction", "rollup", "weight_indicator",
                  "decimals", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def validate_weight_indicator(self, weight):
        if weight is not None and self.instance is not None and weight.pk == self.instance.pk:
            raise serializers.ValidationError(_("Ein Indikator kann nicht sich selbst gewichten."))
        return weight

    def validate(self, attrs):
        rollup = attrs.get("rollup", getattr(self.instance, "rollup", None))
        weight = attrs.get("weight_indicator", getattr(self.instance, "weight_indicator", None))
        if rollup == "weighted_mean" and weight is None:
            raise serializers.ValidationError(
                {"weight_indicator": _("Ein gewichtetes Mittel braucht einen Gewichtungs-Indikator.")}
            )
        return attrs


class IndicatorValueSerializer(serializers.ModelSerializer):
    indicator = serializers.SlugRelatedField(slug_field="key", read_only=True)
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = IndicatorValue
        fields = ["id", "indicator", "region", "period", "value", "is_rollup", "updated_at"]


class IndicatorValueRecordSerializer(serializers.Serializer):
    """One row of a bulk upsert (validated by the import code path, line = position)."""

    region_code = serializers.CharField()
    indicator = serializers.CharField()
    period = serializers.CharField()
    value = serializers.CharField(allow_null=True, allow_blank=True)


# --- Composite indices -------------------------------------------------------------


class IndexComponentSerializer(serializers.ModelSerializer):
    indicator = serializers.SlugRelatedField(slug_field="key", queryset=Indicator.objects.all())

    class Meta:
        model = IndexComponent
        fields = ["indicator", "weight", "standardise", "invert", "order"]
        extra_kwargs = {"order": {"required": False}, "weight": {"required": False}}

    def validate_weight(self, weight):
        if weight is not None and weight <= 0:
            raise serializers.ValidationError(
                _("Das Gewicht muss größer als 0 sein (die Richtung kehrt „umkehren“ um).")
            )
        return weight


class IndexClassSerializer(serializers.ModelSerializer):
    class Meta:
        model = IndexClass
        fields = ["label", "lower", "lower_inclusive", "upper", "upper_inclusive", "order"]
        extra_kwargs = {"order": {"required": False}}


class CompositeIndexSerializer(serializers.ModelSerializer):
    """An index with its components and classes, written in one request (the
    lists replace the stored ones: components are matched by indicator,
    classes by label). Also the JSON format of ``manage.py compute_index
    --definition``."""

    scope_level = serializers.SlugRelatedField(slug_field="key", queryset=RegionLevel.objects.all())
    scope_ancestor = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all(), allow_null=True,
                                                  required=False)
    exclude_indicator = serializers.SlugRelatedField(slug_field="key", queryset=Indicator.objects.all(),
                                                     allow_null=True, required=False)
    result_indicator = serializers.SlugRelatedField(slug_field="key", read_only=True)
    components = IndexComponentSerializer(many=True)
    classes = IndexClassSerializer(many=True, required=False)

    class Meta:
        model = CompositeIndex
        fields = ["id", "key", "name", "description", "kind", "scope_level", "scope_ancestor", "exclude_indicator",
                  "exclude_below", "restandardise", "result_indicator", "components", "classes", "created_at",
                  "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def validate(self, attrs):
        errors = {}
        probe = copy.copy(self.instance) if self.instance is not None else CompositeIndex()
        for name, value in attrs.items():
            if name not in ("components", "classes"):
                setattr(probe, name, value)
        try:
            probe.clean()
        except DjangoValidationError as e:
            errors.update(e.message_dict)
        if "components" in attrs:
            problems = component_problems(self.instance, [c["indicator"] for c in attrs["components"]])
            if problems:
                errors["components"] = problems
        if "classes" in attrs:
            problems = class_problems(attrs["classes"])
            if problems:
                errors["classes"] = problems
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _save(self, instance, validated):
        user = validated.pop("updated_by", None)
        validated.pop("created_by", None)
        components = validated.pop("components", None)
        classes = validated.pop("classes", None)
        if instance is None and classes is None:
            classes = []
        return save_definition(instance, validated, components, classes, user=user)

    def create(self, validated):
        return self._save(None, validated)

    def update(self, instance, validated):
        return self._save(instance, validated)


class IndexResultSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    region_name = serializers.CharField(source="region.name", read_only=True)

    class Meta:
        model = IndexResult
        fields = ["region", "region_name", "period", "status", "value", "class_label", "weighted_sum", "reason",
                  "missing", "inputs", "computed_at"]


class IndexComputeSerializer(serializers.Serializer):
    period = serializers.CharField(
        max_length=10,
        validators=[RegexValidator(PERIOD_REGEX, _("Zeitraum muss JJJJ, JJJJ-MM oder JJJJ-MM-TT sein."))],
    )
