from django.db.models import Prefetch, ProtectedError, RestrictedError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response

from core.api.renderers import ExportViewSetMixin
from core.api.views import InUse, ScopedModelViewSet
from core.imports.base import import_now

from ..filtersets import (
    CompositeIndexFilterSet,
    IndexResultFilterSet,
    IndicatorFilterSet,
    IndicatorValueFilterSet,
    RegionFilterSet,
    RegionLevelFilterSet,
)
from ..indices import delete_index, enqueue_compute
from ..models import CompositeIndex, IndexComponent, IndexResult, Indicator, IndicatorValue, Region, RegionLevel
from ..services import delete_values
from .renderers import GeoJSONRenderer
from .serializers import (
    CompositeIndexSerializer,
    IndexComputeSerializer,
    IndexResultSerializer,
    IndicatorSerializer,
    IndicatorValueRecordSerializer,
    IndicatorValueSerializer,
    RegionFeatureCollectionSerializer,
    RegionFeatureSerializer,
    RegionLevelSerializer,
    RegionSerializer,
)


class RegionLevelViewSet(ExportViewSetMixin, ScopedModelViewSet):
    model = RegionLevel
    serializer_class = RegionLevelSerializer
    filterset_class = RegionLevelFilterSet
    queryset = RegionLevel.objects.all()


GEOJSON = GeoJSONRenderer.media_type
GEOJSON_ACTIONS = ("list", "retrieve", "ancestors", "locate")  # the reading ones; writes answer JSON
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REGIONS_AS_GEOJSON = {(200, "application/json"): RegionSerializer(many=True),
                      (200, GEOJSON): RegionFeatureCollectionSerializer}


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "geojson", "csv", "xlsx"],
                                     description="geojson: FeatureCollection (RFC 7946) der Räume mit Grenze; "
                                                 "csv / xlsx: alle gefilterten Räume als Tabelle")],
        responses={
            (200, "application/json"): RegionSerializer,
            (200, GEOJSON): RegionFeatureCollectionSerializer,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="Export aller gefilterten Zeilen"),
            (200, XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="Export aller gefilterten Zeilen"),
        },
    ),
    retrieve=extend_schema(responses={(200, "application/json"): RegionSerializer,
                                      (200, GEOJSON): RegionFeatureSerializer}),
)
class RegionViewSet(ExportViewSetMixin, ScopedModelViewSet):
    model = Region
    serializer_class = RegionSerializer
    filterset_class = RegionFilterSet
    queryset = Region.objects.all()
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, GeoJSONRenderer]
    lookup_field = "code"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        qs = super().get_queryset().select_related("level", "parent")
        if self._geojson():
            return qs
        return qs.defer("boundary")

    def _geojson(self) -> bool:
        renderer = getattr(self.request, "accepted_renderer", None)
        return renderer is not None and renderer.format == "geojson"

    def get_renderers(self):
        renderers = super().get_renderers()
        if getattr(self, "action", None) not in GEOJSON_ACTIONS:
            renderers = [r for r in renderers if not isinstance(r, GeoJSONRenderer)]
        return renderers

    def finalize_response(self, request, response, *args, **kwargs):
        # an error is a JSON object, not GeoJSON
        if isinstance(response, Response) and response.status_code >= 400 and self._geojson():
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    @staticmethod
    def feature(r) -> dict:
        return {
            "type": "Feature",
            "id": r.code,
            "geometry": r.boundary,
            "properties": {
                "code": r.code, "name": r.name, "level": r.level.key,
                "parent": r.parent.code if r.parent_id else None,
                "area_m2": str(r.area_m2) if r.area_m2 is not None else None,
            },
        }

    def collection(self, regions) -> Response:
        """RFC 7946 FeatureCollection (WGS84, no ``crs`` member) of regions with a boundary."""
        return Response({"type": "FeatureCollection", "features": [self.feature(r) for r in regions if r.boundary]})

    def list(self, request, *args, **kwargs):
        if not self._geojson():
            return super().list(request, *args, **kwargs)
        return self.collection(self.filter_queryset(self.get_queryset()).exclude(boundary=None))

    def retrieve(self, request, *args, **kwargs):
        if not self._geojson():
            return super().retrieve(request, *args, **kwargs)
        return Response(self.feature(self.get_object()))

    @extend_schema(responses=REGIONS_AS_GEOJSON)
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def ancestors(self, request, code=None):
        region = self.get_object()
        qs = self.get_queryset().filter(pk__in=region.ancestor_ids).order_by("depth")
        if self._geojson():
            return self.collection(qs)
        return Response(self.get_serializer(qs, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("lon", float, required=True), OpenApiParameter("lat", float, required=True)],
        responses=REGIONS_AS_GEOJSON,
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def locate(self, request):
        """Regions containing a point (WGS84), deepest first."""
        try:
            lon, lat = float(request.query_params["lon"]), float(request.query_params["lat"])
        except (KeyError, ValueError):
            return Response({"detail": "lon und lat (Dezimalgrad, WGS84) angeben."}, status=status.HTTP_400_BAD_REQUEST)
        qs = self.get_queryset().filter(pk__in=Region.objects.containing_point(lon, lat).values("pk")).order_by("-depth")
        if self._geojson():
            return self.collection(qs)
        return Response(self.get_serializer(qs, many=True).data)


class IndicatorViewSet(ExportViewSetMixin, ScopedModelViewSet):
    model = Indicator
    serializer_class = IndicatorSerializer
    filterset_class = IndicatorFilterSet
    queryset = Indicator.objects.all()
    lookup_field = "key"

    def get_queryset(self):
        return super().get_queryset().select_related("weight_indicator")


BulkResult = inline_serializer(
    "IndicatorValueBulkResult",
    {
        "import_run": serializers.IntegerField(),
        "status": serializers.CharField(),
        "summary": serializers.DictField(),
        "errors": serializers.ListField(child=serializers.DictField()),
        "error_count": serializers.IntegerField(),
    },
)


# the rows were checked (the result names every bad row), or the body was not a list at all
BULK_REFUSED = OpenApiResponse(
    {"anyOf": [{"$ref": "#/components/schemas/IndicatorValueBulkResult"},
               {"$ref": "#/components/schemas/ValidationErrors"}]},
    description="Fehlerhafte Zeilen (nichts geschrieben) oder keine Liste von Werten.",
)


class IndicatorValueViewSet(ExportViewSetMixin, ScopedModelViewSet):
    """Values are read here and written in bulk (``POST …/bulk/``), through the
    same code path as file imports: atomic, every bad row reported."""

    model = IndicatorValue
    serializer_class = IndicatorValueSerializer
    filterset_class = IndicatorValueFilterSet
    queryset = IndicatorValue.objects.all()
    http_method_names = ["get", "post", "delete", "head", "options"]
    requires_add_permission = True

    def get_queryset(self):
        return super().get_queryset().select_related("indicator", "region")

    def perform_destroy(self, instance):
        delete_values(IndicatorValue.objects.filter(pk=instance.pk))

    @extend_schema(exclude=True)  # always 405: not an operation of the API
    def create(self, request, *args, **kwargs):
        return Response(
            {"detail": "Werte bitte über POST /api/v1/indicator-values/bulk/ schreiben."},
            status=status.HTTP_405_METHOD_NOT_ALLOWED,
        )

    @extend_schema(
        request=IndicatorValueRecordSerializer(many=True),
        parameters=[OpenApiParameter("dry_run", bool, description="nur prüfen, nichts schreiben")],
        responses={200: BulkResult, 400: BULK_REFUSED},
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """Upsert many values: a JSON list of {region_code, indicator, period, value}."""
        records = request.data
        if isinstance(records, dict) and "values" in records:
            records = records["values"]
        if not isinstance(records, list):
            return Response({"detail": "Erwartet eine Liste von Werten."}, status=status.HTTP_400_BAD_REQUEST)
        dry_run = request.query_params.get("dry_run", "").lower() in ("1", "true", "yes")
        run = import_now("indicator_values", records, user=request.user, dry_run=dry_run, original_name="API")
        body = {
            "import_run": run.pk, "status": run.status, "summary": run.summary, "errors": run.errors,
            "error_count": run.error_count,
        }
        return Response(body, status=status.HTTP_200_OK if run.status == run.Status.SUCCEEDED else status.HTTP_400_BAD_REQUEST)


class CompositeIndexViewSet(ExportViewSetMixin, ScopedModelViewSet):
    """Composite indices (Sozialindex): definitions with nested components and
    classes; ``compute`` enqueues a computation, ``results`` lists them."""

    model = CompositeIndex
    serializer_class = CompositeIndexSerializer
    filterset_class = CompositeIndexFilterSet
    queryset = CompositeIndex.objects.all()
    lookup_field = "key"

    def get_queryset(self):
        qs = super().get_queryset().select_related(
            "scope_level", "scope_ancestor", "exclude_indicator", "result_indicator"
        )
        if self.action in ("compute", "results"):
            return qs
        return (
            qs.prefetch_related(
                Prefetch("components", queryset=IndexComponent.objects.select_related("indicator")), "classes"
            )
        )

    def perform_destroy(self, instance):
        try:
            delete_index(instance)
        except (ProtectedError, RestrictedError) as e:
            used_by = sorted({f"{o._meta.verbose_name}: {o}" for o in list(e.args[1])[:5]})
            raise InUse(
                f"{instance.result_indicator} wird noch verwendet; der Index kann nicht gelöscht werden "
                f"({'; '.join(used_by)})."
            ) from e

    @extend_schema(
        request=IndexComputeSerializer,
        responses={202: inline_serializer("IndexComputeQueued", {"index": serializers.CharField(),
                                                                  "period": serializers.CharField(),
                                                                  "status": serializers.CharField()})},
    )
    @action(detail=True, methods=["post"])
    def compute(self, request, key=None):
        """Enqueue the computation of the index for one period (planners)."""
        index = self.get_object()
        body = IndexComputeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        period = body.validated_data["period"]
        enqueue_compute(index.pk, [period])
        return Response({"index": index.key, "period": period, "status": "queued"}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, description="Zeitraum, z. B. 2020-12-31"),
            OpenApiParameter("status", str, enum=["ok", "excluded", "missing"]),
            OpenApiParameter("class_label", str, description="Klasse, z. B. mittel"),
            OpenApiParameter("region", str, description="Raum (Schlüssel)"),
            OpenApiParameter("region_ancestor", str, description="Räume innerhalb von (Schlüssel)"),
        ],
        responses=IndexResultSerializer(many=True),
    )
    @action(detail=True, methods=["get"], filter_backends=[], serializer_class=IndexResultSerializer)
    def results(self, request, key=None):
        """Results per region and period: value and class, or status ``excluded``
        / ``missing`` with the reason (never a value of 0 instead)."""
        index = self.get_object()
        qs = IndexResult.objects.for_user(request.user).filter(index=index).select_related("region").order_by(
            "period", "region__code"
        )
        filterset = IndexResultFilterSet(request.query_params, queryset=qs, request=request)
        if not filterset.is_valid():
            return Response(filterset.errors, status=status.HTTP_400_BAD_REQUEST)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(IndexResultSerializer(page, many=True).data)
