from rest_framework import viewsets

from core.access import Action


class ScopedViewSetMixin:
    """Every API viewset: rows come from ``Model.objects.for_user(user, 'view')``,
    and the author of a write is stamped on the object."""

    model = None

    def get_queryset(self):
        return self.model.objects.for_user(self.request.user, Action.VIEW)

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user, updated_by=self.request.user)

    def perform_update(self, serializer):
        serializer.save(updated_by=self.request.user)


class ScopedModelViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    pass


class ScopedReadOnlyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass
