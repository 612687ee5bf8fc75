from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from ..models import ImportRun
from ..services import submit_import
from .serializers import ImportRunSerializer, ImportSubmitSerializer
from .views import ScopedViewSetMixin


class ImportRunViewSet(ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Imports of files (regions, boundaries, indicator values, …). POST stores
    the file and runs the import in the background; poll the run for its outcome."""

    model = ImportRun
    queryset = ImportRun.objects.all()
    serializer_class = ImportRunSerializer
    parser_classes = [MultiPartParser, FormParser]
    filterset_fields = ["kind", "status"]

    def get_queryset(self):
        return super().get_queryset().select_related("created_by")

    @extend_schema(request=ImportSubmitSerializer, responses={202: ImportRunSerializer})
    def create(self, request, *args, **kwargs):
        form = ImportSubmitSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        run = submit_import(
            user=request.user, kind=form.validated_data["kind"], uploaded_file=form.validated_data["file"],
            options=form.validated_data.get("options") or {}, dry_run=form.validated_data.get("dry_run", False),
        )
        run.refresh_from_db()
        return Response(ImportRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
