from django.db.models import ProtectedError, RestrictedError
from rest_framework import status, viewsets
from rest_framework.exceptions import APIException

from core.access import Action

from .schema import AutoSchema


class InUse(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "in_use"


class ScopedViewSetMixin:
    """Every API viewset: rows come from ``Model.objects.for_user(user, 'view')``,
    and the author of a write is stamped on the object."""

    model = None
    schema = AutoSchema()  # documents the error answers too (core.api.schema)
    # any path segment reaches the view, so an unknown key is the API's JSON 404 (DRF's default
    # "[^/.]+" left keys with a dot to Django's HTML 404 page)
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return self.model.objects.for_user(self.request.user, Action.VIEW)

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user, updated_by=self.request.user)

    def perform_update(self, serializer):
        serializer.save(updated_by=self.request.user)

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except (ProtectedError, RestrictedError) as e:
            used_by = sorted({f"{o._meta.verbose_name}: {o}" for o in list(e.args[1])[:5]})
            raise InUse(
                f"{instance} wird noch verwendet und kann nicht gelöscht werden ({'; '.join(used_by)})."
            ) from e


class ScopedModelViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    pass


class ScopedReadOnlyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass
