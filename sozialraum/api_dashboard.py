"""``GET /api/v1/map-data/``: the values behind the dashboards' maps — one
level's regions with a metric's value, its German text and its class, and the
classes (label, colour, count) for the legend. The planner overview's map reads
it in the browser (session authentication); its table is rendered from the
same function (``sozialraum.dashboard.map_data``)."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from core.api.schema import AutoSchema

from . import dashboard


class MapClassSerializer(serializers.Serializer):
    label = serializers.CharField()
    color = serializers.CharField(help_text="fill colour (#rrggbb), colour-blind safe sequential palette")
    count = serializers.IntegerField()
    dark = serializers.BooleanField(help_text="dark fill: text on it is white")
    hatched = serializers.BooleanField(help_text="also hatched (the direction is not told by colour alone)")


class MapRegionSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    url = serializers.CharField()
    value = serializers.DecimalField(max_digits=24, decimal_places=6, allow_null=True)
    text = serializers.CharField(help_text="the value in German format with unit, or why there is none")
    class_index = serializers.IntegerField(allow_null=True, help_text="index into classes; null: no value")


class MapDataSerializer(serializers.Serializer):
    metric = serializers.CharField()
    title = serializers.CharField()
    unit = serializers.CharField(allow_blank=True)
    period = serializers.CharField(allow_blank=True)
    level = serializers.CharField()
    note = serializers.CharField(allow_blank=True)
    classes = MapClassSerializer(many=True)
    regions = MapRegionSerializer(many=True)


class OneObjectSchema(AutoSchema):
    """The "list" route answers one object (the map), not an array."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


class MapDataViewSet(viewsets.ViewSet):
    permission_classes = [IsAuthenticated]
    schema = OneObjectSchema()

    @extend_schema(
        parameters=[
            OpenApiParameter("level", str, required=True, description="Raumebene (Schlüssel), z. B. bezirk"),
            OpenApiParameter("metric", str, required=True,
                             description="indicator:<Schlüssel>, index:<Schlüssel> (Indexklasse), "
                                         "budget:<ID> (Zuweisung der beschlossenen Berechnung je Einwohner) oder "
                                         "delta:<Berechnung A>:<Berechnung B> (Veränderung je Raum) oder whatif:<Kennung> "
                                         "(eine eben auf der Seite „Was wäre, wenn?“ berechnete Variante)"),
            OpenApiParameter("period", str, required=False,
                             description="Zeitraum (JJJJ, JJJJ-MM oder JJJJ-MM-TT); leer: der neueste"),
        ],
        responses=MapDataSerializer,
    )
    def list(self, request):
        """A metric's values for the regions of one level that the caller may
        see, classified into up to five classes (quantiles; an index's own classes)."""
        level, metric = request.query_params.get("level", ""), request.query_params.get("metric", "")
        period = request.query_params.get("period") or None
        missing = [name for name, value in (("level", level), ("metric", metric)) if not value]
        if missing:
            return Response({name: ["Pflichtangabe."] for name in missing}, status=400)
        with_nul = [name for name, value in (("level", level), ("metric", metric), ("period", period or ""))
                    if "\x00" in value]
        if with_nul:  # PostgreSQL takes no NUL in a string
            return Response({name: [_("Nullzeichen sind nicht erlaubt.")] for name in with_nul}, status=400)
        try:
            data = dashboard.map_data(request.user, level, metric, period)
        except dashboard.MetricError as exc:
            return Response({"detail": str(exc)}, status=400)
        return Response(data.as_json())
