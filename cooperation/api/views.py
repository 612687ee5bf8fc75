"""The cooperation endpoints under /api/v1/: organisations, memberships,
target groups, locations and service offerings.

What a user sees and changes comes from ``for_user`` (ScopedModelViewSet) and
``can_add`` (ScopedModelPermission): staff with a role read everything and
planners change everything; provider staff see only their own organisations
with their offerings and locations (others are 404) and, as editors, change
them; memberships are planners' business (everyone sees their own). Every
list also exports as CSV or XLSX (``?format=csv`` / ``?format=xlsx``).
"""


from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.renderers import ExportViewSetMixin
from core.api.views import ScopedModelViewSet

from ..choices import ServiceStatus
from ..filtersets import (
    LocationFilterSet,
    MembershipFilterSet,
    OrganizationFilterSet,
    ServiceFilterSet,
    TargetGroupFilterSet,
)
from ..models import Location, Membership, Organization, Service, TargetGroup
from .serializers import (
    LocationSerializer,
    MembershipSerializer,
    OrganizationSerializer,
    ServiceListRows,
    ServiceSerializer,
    TargetGroupSerializer,
)


class OrganizationViewSet(ExportViewSetMixin, ScopedModelViewSet):
    """Organisations (Träger, Leistungsträger, Schulen, …). Planners create and
    delete them; an organisation's editors keep its data current."""

    model = Organization
    queryset = Organization.objects.all()
    serializer_class = OrganizationSerializer
    filterset_class = OrganizationFilterSet
    lookup_field = "uuid"

    def get_queryset(self):
        return super().get_queryset().select_related("parent").prefetch_related("regions")


class MembershipViewSet(ExportViewSetMixin, ScopedModelViewSet):
    """Who works for which organisation (editor or viewer). Planners grant and
    change memberships; everyone else sees only their own."""

    model = Membership
    queryset = Membership.objects.all()
    serializer_class = MembershipSerializer
    filterset_class = MembershipFilterSet

    def get_queryset(self):
        return super().get_queryset().select_related("user", "organization")

    # a membership has no author fields
    def perform_create(self, serializer):
        serializer.save()

    def perform_update(self, serializer):
        serializer.save()


class TargetGroupViewSet(ExportViewSetMixin, ScopedModelViewSet):
    """Target groups (Zielgruppen) of offerings, a city-wide catalogue: everyone
    signed in reads it, planners change it. The key stays fixed."""

    model = TargetGroup
    queryset = TargetGroup.objects.all()
    serializer_class = TargetGroupSerializer
    filterset_class = TargetGroupFilterSet
    lookup_field = "key"

    def get_queryset(self):
        return super().get_queryset().select_related("parent")


class LocationViewSet(ExportViewSetMixin, ScopedModelViewSet):
    """Locations of organisations; the region is found from the coordinates."""

    model = Location
    queryset = Location.objects.all()
    serializer_class = LocationSerializer
    filterset_class = LocationFilterSet
    lookup_field = "uuid"

    def get_queryset(self):
        return super().get_queryset().select_related("organization", "region")


class ServiceViewSet(ExportViewSetMixin, ScopedModelViewSet):
    """Service offerings (Angebote). Filters as in the service directory: ``q``,
    ``field`` (with sub-fields), ``target_group``, ``age``, ``setting``,
    ``work_mode``, ``status``, ``region``, ``point``, ``near`` + ``radius``
    (nearest first, with ``distance_km``), ``free_places``, ``organization``,
    ``modified_after``. ``confirm`` marks an offering as still current,
    ``duplicate`` copies it."""

    model = Service
    queryset = Service.objects.all()
    serializer_class = ServiceSerializer
    filterset_class = ServiceFilterSet
    lookup_field = "uuid"

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            return queryset  # read with values() by list(): no instances, nothing to prefetch
        return queryset.select_related("organization").prefetch_related("fields", "target_groups", "regions",
                                                                        "locations")

    def list(self, request, *args, **kwargs):
        """The list (JSON pages, CSV, XLSX) exactly as ``ServiceSerializer`` gives
        it, read with two queries besides the count and without model instances
        (``ServiceListRows``; the serializer still describes the list in the
        schema and serves every other action)."""
        rows = ServiceListRows(self.filter_queryset(self.get_queryset()))
        page = self.paginate_queryset(rows)
        if page is not None:
            return self.get_paginated_response(page)
        return Response(list(rows))

    def _fresh(self, pk):
        return self.get_queryset().get(pk=pk)

    @extend_schema(request=None, responses={200: ServiceSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, uuid=None):
        """„Noch aktuell“: confirms the offering as current (``last_confirmed_at`` = now)."""
        service = self.get_object()  # view scope (404), then change access (403)
        service.last_confirmed_at = timezone.now()
        service.updated_by = request.user
        service.save(update_fields=["last_confirmed_at", "updated_by", "updated_at"])
        return Response(self.get_serializer(self._fresh(service.pk)).data)

    @extend_schema(request=None, responses={201: ServiceSerializer})
    @action(detail=True, methods=["post"])
    def duplicate(self, request, uuid=None):
        """A copy of the offering (name + „(Kopie)“, same organisation, fields,
        target groups, regions and locations), active and confirmed now."""
        original = self.get_object()  # view scope (404), then change access (403)
        copy = original.duplicate(request.user, confirmed=True, status=ServiceStatus.ACTIVE)
        return Response(self.get_serializer(self._fresh(copy.pk)).data, status=status.HTTP_201_CREATED)
