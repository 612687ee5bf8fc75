"""The HSDS query parameters on top of the app's FilterSets (which stay the one
place for filtering): ``search`` is their ``q``, ``organization_id`` their
``organization``; the directory's other filters (``field``, ``region``, ``age``,
``near`` …) are accepted too.

``modified_after`` follows HSDS: "modified on or after", and for a service also
a change of its organisation or of one of its places (what its ``last_modified``
says), so that a client syncing with the newest ``last_modified`` it has seen
misses nothing.
"""

import django_filters
from django.db.models import Exists, OuterRef, Q

from core.filtersets import IsoDateTimeFilter

from ..choices import Umbrella
from ..filtersets import OrganizationFilterSet, ServiceFilterSet
from ..models import Service
from . import taxonomies as tx


class HSDSServiceFilterSet(ServiceFilterSet):
    search = django_filters.CharFilter(method="filter_q")
    organization_id = django_filters.UUIDFilter(field_name="organization__uuid")
    taxonomy_term_id = django_filters.UUIDFilter(method="filter_taxonomy_term")
    taxonomy_id = django_filters.UUIDFilter(method="filter_taxonomy")
    modified_after = IsoDateTimeFilter(method="filter_modified_after")

    def filter_modified_after(self, qs, name, value):
        located = Service.locations.through.objects.filter(service_id=OuterRef("pk"), location__updated_at__gte=value)
        return qs.filter(Q(updated_at__gte=value) | Q(organization__updated_at__gte=value) | Exists(located))

    def filter_taxonomy_term(self, qs, name, value):
        """Services with the term: fields of action and target groups with
        their sub-fields/-groups, as the directory filters them; an
        organisation's kind or umbrella: the services of such organisations."""
        term = tx.find_term(value)
        if term is None:
            return qs.none()
        kind, code = term.taxonomy, term.code
        if kind is tx.FIELD:
            return self.filter_field(qs, "field", code)
        if kind is tx.TARGET_GROUP:
            return self.filter_target_group(qs, "target_group", code)
        lookups = {
            tx.SETTING: "setting", tx.WORK_MODE: "work_mode", tx.ORGANIZATION_KIND: "organization__kind",
            tx.UMBRELLA: "organization__umbrella",
        }
        if kind in lookups:
            return qs.filter(**{lookups[kind]: code})
        arrays = {tx.ACCESS_MODE: "access_modes", tx.ACCESSIBILITY: "accessibility", tx.LEGAL_BASIS: "legal_bases"}
        return qs.filter(**{f"{arrays[kind]}__contains": [code]})

    def filter_taxonomy(self, qs, name, value):
        """Services with any term of the taxonomy."""
        kind = tx.BY_ID.get(value)
        if kind is None:
            return qs.none()
        if kind is tx.FIELD:
            return qs.filter(Exists(Service.fields.through.objects.filter(service_id=OuterRef("pk"))))
        if kind is tx.TARGET_GROUP:
            return qs.filter(Exists(Service.target_groups.through.objects.filter(service_id=OuterRef("pk"))))
        if kind is tx.UMBRELLA:
            return qs.exclude(organization__umbrella=Umbrella.NONE)
        arrays = {tx.ACCESS_MODE: "access_modes", tx.ACCESSIBILITY: "accessibility", tx.LEGAL_BASIS: "legal_bases"}
        if kind in arrays:
            return qs.exclude(**{arrays[kind]: []})
        return qs  # every service has a setting, a work mode and an organisation of some kind


class HSDSOrganizationFilterSet(OrganizationFilterSet):
    search = django_filters.CharFilter(method="filter_q")
    modified_after = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
