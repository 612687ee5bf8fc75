"""The Open Referral HSDS 3.0 read API under ``/api/hsds/``.

It shows what the service directory shows: ``Service.objects.directory_for(user)``
(anonymous visitors only when ``DIRECTORY_PUBLIC`` is on, and then only active
offerings). Organisations: those with an offering visible to the user, and those
``Organization.objects.for_user`` lets the user see (staff with a role: all).
Lists are HSDS ``Page`` objects; every list runs a fixed number of queries,
whatever the page size.
"""

import math
import uuid

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery
from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.access import Action
from regions.models import Region

from ..api.authentication import IntegrationTokenAuthentication
from ..models import Location, Organization, Service
from . import serializers as hsds
from . import taxonomies as tx
from .filtersets import HSDSOrganizationFilterSet, HSDSServiceFilterSet

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100
TRUE, FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off", ""}


class DirectoryReader(permissions.BasePermission):
    """Signed-in (session or token) users; anonymous visitors only when the
    directory is public (``DIRECTORY_PUBLIC``)."""

    def has_permission(self, request, view):
        if request.method not in permissions.SAFE_METHODS:
            return False
        user = request.user
        return bool(user and user.is_authenticated and user.is_active) or settings.DIRECTORY_PUBLIC


# --- what a user sees ----------------------------------------------------------------------


def visible_services(user) -> QuerySet:
    return Service.objects.directory_for(user)


def visible_organizations(user) -> QuerySet:
    """Organisations the user may see, and those with an offering visible to them."""
    offering = visible_services(user).filter(organization=OuterRef("pk"))
    return Organization.objects.for_user(user, Action.VIEW) | Organization.objects.filter(Exists(offering))


def visible_locations(user) -> QuerySet:
    """Places the user may see, and those of offerings visible to them (the
    directory shows where an offering is given)."""
    offered = Service.locations.through.objects.filter(location_id=OuterRef("pk"),
                                                       service__in=visible_services(user).values("pk"))
    return Location.objects.for_user(user, Action.VIEW) | Location.objects.filter(Exists(offered))


def location_queryset(queryset=None) -> QuerySet:
    queryset = Location.objects.all() if queryset is None else queryset
    return queryset.select_related("organization", "region").defer("region__boundary")


def service_queryset(queryset: QuerySet, full: bool) -> QuerySet:
    """Everything the HSDS shape of a service needs, in a fixed number of queries."""
    newest_place = Location.objects.filter(services=OuterRef("pk")).order_by("-updated_at").values("updated_at")[:1]
    queryset = queryset.select_related("organization__parent").annotate(locations_modified=Subquery(newest_place))
    lookups = [Prefetch("target_groups", tx.target_group_queryset())]
    if full:
        lookups += [
            Prefetch("fields", tx.field_queryset()),
            Prefetch("regions", Region.objects.select_related("level").defer("boundary")),
            Prefetch("locations", location_queryset()),
        ]
    return queryset.prefetch_related(*lookups)


# --- request parsing -------------------------------------------------------------------------


def flag(request, name: str) -> bool:
    value = request.query_params.get(name, "").strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValidationError({name: ["true or false"]})


def positive_int(request, name: str, default: int) -> int:
    value = request.query_params.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValidationError({name: ["a whole number of at least 1"]})
    return number


def parse_id(value: str) -> uuid.UUID:
    """An id of the path: unknown when it is no UUID."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound()


def query_id(request, name: str) -> uuid.UUID | None:
    value = request.query_params.get(name, "").strip()
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationError({name: ["a UUID"]})


def filtered(filterset_class, request, queryset: QuerySet) -> QuerySet:
    filterset = filterset_class(request.query_params, queryset=queryset, request=request)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs


def paginate(request, items, serialize) -> dict:
    """An HSDS ``Page``: ``page`` counts from 1, ``per_page`` is at most
    MAX_PER_PAGE (more is cut to it); a page after the last one is empty."""
    number = positive_int(request, "page", 1)
    per_page = min(positive_int(request, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
    total = items.count() if isinstance(items, QuerySet) else len(items)
    start = (number - 1) * per_page
    rows = list(items[start:start + per_page]) if start < total else []
    contents = [serialize(row) for row in rows]
    total_pages = math.ceil(total / per_page)
    return {
        "total_items": total,
        "total_pages": total_pages,
        "page_number": number,
        "size": len(contents),
        "first_page": number == 1,
        "last_page": number >= total_pages,
        "empty": not contents,
        "contents": contents,
    }


# --- views -------------------------------------------------------------------------------------


class HSDSView(APIView):
    # Token first: an anonymous request is answered 401 with "WWW-Authenticate: Token".
    authentication_classes = [IntegrationTokenAuthentication, SessionAuthentication]
    permission_classes = [DirectoryReader]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]
    schema = None  # described by the official HSDS OpenAPI document (see "/"), not by /api/v1/schema/


class APIMetaView(HSDSView):
    def get(self, request):
        return Response(hsds.api_meta())


class ServiceListView(HSDSView):
    def get(self, request):
        full = flag(request, "full")
        queryset = filtered(HSDSServiceFilterSet, request, visible_services(request.user))
        return Response(paginate(request, service_queryset(queryset, full),
                                 lambda s: hsds.service(s, full=full, request=request)))


class ServiceDetailView(HSDSView):
    def get(self, request, id):
        queryset = service_queryset(visible_services(request.user), full=True)
        service = queryset.filter(uuid=parse_id(id)).first()
        if service is None:
            raise NotFound()
        return Response(hsds.service(service, full=True, request=request))


def organization_queryset(request, full: bool) -> QuerySet:
    queryset = visible_organizations(request.user).select_related("parent")
    if full:
        places = location_queryset(visible_locations(request.user))
        queryset = queryset.prefetch_related(Prefetch("locations", places, to_attr="visible_locations"))
    return queryset


class OrganizationListView(HSDSView):
    def get(self, request):
        full = flag(request, "full")
        queryset = filtered(HSDSOrganizationFilterSet, request, organization_queryset(request, full))
        return Response(paginate(request, queryset, lambda o: hsds.organization(
            o, full=full, locations=getattr(o, "visible_locations", None))))


class OrganizationDetailView(HSDSView):
    def get(self, request, id):
        org = organization_queryset(request, full=True).filter(uuid=parse_id(id)).first()
        if org is None:
            raise NotFound()
        return Response(hsds.organization(org, full=True, locations=org.visible_locations))


def matches(search: str, *texts: str) -> bool:
    needle = search.casefold()
    return any(needle in text.casefold() for text in texts)


class TaxonomyListView(HSDSView):
    def get(self, request):
        search = request.query_params.get("search", "").strip()
        items = [t for t in tx.TAXONOMIES if not search or matches(search, t.name, t.description)]
        return Response(paginate(request, items, hsds.taxonomy))


class TaxonomyDetailView(HSDSView):
    def get(self, request, id):
        taxonomy = tx.BY_ID.get(parse_id(id))
        if taxonomy is None:
            raise NotFound()
        return Response(hsds.taxonomy(taxonomy))


class TaxonomyTermListView(HSDSView):
    """Parameters: ``search`` (name or code), ``taxonomy_id``, ``parent_id``
    (the terms below that term), ``top_only`` (only terms without a parent)."""

    def get(self, request):
        search = request.query_params.get("search", "").strip()
        taxonomy_id, parent_id = query_id(request, "taxonomy_id"), query_id(request, "parent_id")
        top_only = flag(request, "top_only")
        terms = [
            term for term in tx.all_terms()
            if (not search or matches(search, term.name, term.code))
            and (taxonomy_id is None or term.taxonomy.id == taxonomy_id)
            and (parent_id is None or term.parent_id == parent_id)
            and not (top_only and term.parent_code)
        ]
        return Response(paginate(request, terms, hsds.taxonomy_term))


class TaxonomyTermDetailView(HSDSView):
    def get(self, request, id):
        term = tx.find_term(parse_id(id))
        if term is None:
            raise NotFound()
        return Response(hsds.taxonomy_term(term))
