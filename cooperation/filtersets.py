"""One FilterSet per model, used by the HTML lists, the directory and the API
viewsets (also the HSDS API's ``search``)."""

import math

import django_filters
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import Exists, F, FloatField, OuterRef, Q, Subquery
from django.db.models.functions import Cast, Cos, Power, Radians, Sqrt
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError

from core.filtersets import IsoDateTimeFilter
from core.models import FieldOfAction
from regions.filtersets import SubtreeFilter
from regions.models import Region

from . import access
from .choices import (
    AgreementKind,
    AgreementStatus,
    ConflictStatus,
    DecisionKind,
    NeedStatus,
    NetworkKind,
    NetworkRole,
    OrganizationKind,
    PartyRole,
    PlanningPhase,
    PlanningRole,
    ServiceStatus,
    Setting,
    SwotQuadrant,
    Umbrella,
    WorkMode,
)
from .models import (
    Agreement,
    AgreementDocument,
    AgreementParty,
    ConflictCase,
    EscalationStep,
    Goal,
    Location,
    Meeting,
    MeetingTask,
    Membership,
    NeedReport,
    Network,
    NetworkMember,
    Organization,
    PlanningDecision,
    PlanningParticipant,
    PlanningProcess,
    Service,
    SwotEntry,
    TargetGroup,
)

EARTH_RADIUS_KM = 6371.0088
MAX_RADIUS_KM = 200


def search_query(value: str) -> SearchQuery:
    """German full-text query in web-search syntax ("…" phrases, or, -not)."""
    return SearchQuery(value, config="german", search_type="websearch")


def parse_point(value: str, name: str) -> tuple[float, float]:
    """``"52.52,13.40"`` (latitude, longitude in WGS84) → (lat, lon); a clear error otherwise."""
    try:
        lat_text, lon_text = (part.strip() for part in value.split(","))
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise ValidationError({name: [gettext("Punkt als „Breitengrad,Längengrad“ angeben, z. B. 52.52,13.40.")]}) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat) or math.isnan(lon):
        raise ValidationError({name: [gettext("Breitengrad −90 bis 90, Längengrad −180 bis 180.")]})
    return lat, lon


def distance_km(lat: float, lon: float, prefix: str = ""):
    """Expression: distance in km from (lat, lon) to the row's point
    (equirectangular approximation: within 0.1 % at city scale)."""
    lat_f = Cast(F(f"{prefix}latitude"), FloatField())
    lon_f = Cast(F(f"{prefix}longitude"), FloatField())
    dy = Radians(lat_f) - math.radians(lat)
    dx = (Radians(lon_f) - math.radians(lon)) * Cos(Radians((lat_f + lat) / 2))
    return Sqrt(Power(dx, 2) + Power(dy, 2)) * EARTH_RADIUS_KM


class OrganizationFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Suche (Name)"))
    kind = django_filters.MultipleChoiceFilter(choices=OrganizationKind.choices, label=_("Art"))
    umbrella = django_filters.MultipleChoiceFilter(choices=Umbrella.choices, label=_("Dachverband"))
    region = django_filters.CharFilter(method="filter_region", label=_("aktiv im Raum (Schlüssel, mit Teilräumen)"))
    parent = django_filters.UUIDFilter(field_name="parent__uuid", label=_("übergeordnete Organisation (UUID)"))
    modified_after = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gt",
                                       label=_("geändert nach (ISO 8601)"))

    class Meta:
        model = Organization
        fields = ["q", "kind", "umbrella", "region", "parent", "modified_after"]

    def filter_q(self, qs, name, value):
        value = value.strip()
        return qs.filter(name__icontains=value) if value else qs

    def filter_region(self, qs, name, value):
        region = Region.objects.filter(code=value.strip()).only("path").first()
        if region is None:
            return qs.none()
        inside = Organization.regions.through.objects.filter(
            organization_id=OuterRef("pk"), region__path__startswith=region.path
        )
        return qs.filter(Exists(inside))


class MembershipFilterSet(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization__uuid", label=_("Organisation (UUID)"))
    user = django_filters.CharFilter(field_name="user__username", label=_("Benutzername"))

    class Meta:
        model = Membership
        fields = ["organization", "user", "role"]


class LocationFilterSet(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization__uuid", label=_("Organisation (UUID)"))
    region = SubtreeFilter(field_prefix="region__", label=_("im Raum (Schlüssel, mit Teilräumen)"))

    class Meta:
        model = Location
        fields = ["organization", "region"]


class TargetGroupFilterSet(django_filters.FilterSet):
    parent = django_filters.CharFilter(field_name="parent__key", label=_("übergeordnete Zielgruppe"))

    class Meta:
        model = TargetGroup
        fields = ["parent"]


class ServiceFilterSet(django_filters.FilterSet):
    """The directory's search: text, field (with sub-fields), target group (with
    sub-groups), age, setting, work mode, region (with sub-regions and the
    regions above it), a point (the social space it lies in), proximity,
    free places, status, organisation, last change."""

    q = django_filters.CharFilter(method="filter_q", label=_("Suchbegriff"))
    field = django_filters.CharFilter(method="filter_field", label=_("Handlungsfeld (Schlüssel, mit Unterfeldern)"))
    target_group = django_filters.CharFilter(method="filter_target_group",
                                             label=_("Zielgruppe (Schlüssel, mit Untergruppen)"))
    age = django_filters.NumberFilter(method="filter_age", min_value=0, max_value=120, label=_("Alter (Jahre)"))
    setting = django_filters.MultipleChoiceFilter(choices=Setting.choices, label=_("Setting"))
    work_mode = django_filters.MultipleChoiceFilter(choices=WorkMode.choices, label=_("Arbeitsweise"))
    status = django_filters.MultipleChoiceFilter(choices=ServiceStatus.choices, label=_("Status"))
    region = django_filters.CharFilter(method="filter_region", label=_("Sozialraum (Schlüssel)"))
    point = django_filters.CharFilter(method="filter_point",
                                      label=_("in dem Sozialraum des Punkts (Breitengrad,Längengrad)"))
    near = django_filters.CharFilter(method="filter_near", label=_("in der Nähe von (Breitengrad,Längengrad)"))
    radius = django_filters.NumberFilter(method="filter_noop", min_value=0.1, max_value=MAX_RADIUS_KM,
                                         label=_("Umkreis in km (mit „in der Nähe von“; Standard 2)"))
    free_places = django_filters.BooleanFilter(method="filter_free_places", label=_("mit freien Plätzen"))
    needs_confirmation = django_filters.BooleanFilter(
        method="filter_needs_confirmation", label=_("nicht rechtzeitig als aktuell bestätigt")
    )
    organization = django_filters.UUIDFilter(field_name="organization__uuid", label=_("Organisation (UUID)"))
    modified_after = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gt",
                                       label=_("geändert nach (ISO 8601)"))

    DEFAULT_RADIUS_KM = 2.0

    class Meta:
        model = Service
        fields = ["q", "field", "target_group", "age", "setting", "work_mode", "status", "region", "point", "near",
                  "radius", "free_places", "needs_confirmation", "organization", "modified_after"]

    def filter_noop(self, qs, name, value):
        return qs  # read by filter_near

    def filter_q(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        query = search_query(value)
        # The german configuration stems but does not split compounds: "Beratung"
        # would miss "Erziehungsberatung". A substring match on the name and the
        # keywords (and the organisation's name) finds those too; they rank after
        # the full-text hits (rank 0).
        return (
            qs.filter(Q(search=query) | Q(name__icontains=value) | Q(keywords__icontains=value)
                      | Q(organization__name__icontains=value))
            .annotate(rank=SearchRank(F("search"), query))
            .order_by("-rank", "name", "pk")
        )

    def filter_field(self, qs, name, value):
        fields = FieldOfAction.objects.subtree(value.strip())
        through = Service.fields.through.objects.filter(service_id=OuterRef("pk"), fieldofaction__in=fields)
        return qs.filter(Exists(through))

    def filter_target_group(self, qs, name, value):
        group = TargetGroup.objects.filter(key=value.strip()).first()
        if group is None:
            return qs.none()
        through = Service.target_groups.through.objects.filter(
            service_id=OuterRef("pk"), targetgroup_id__in=group.subtree_ids()
        )
        return qs.filter(Exists(through))

    def filter_age(self, qs, name, value):
        age = int(value)
        return qs.filter(Q(age_min__isnull=True) | Q(age_min__lte=age), Q(age_max__isnull=True) | Q(age_max__gte=age))

    @staticmethod
    def serving(qs, region: Region):
        """Offerings for ``region``: city-wide ones, those serving it, a region
        inside it or a region above it, and those with a location inside it."""
        ancestor_ids = region.ancestor_ids + [region.pk]
        served = Service.regions.through.objects.filter(service_id=OuterRef("pk")).filter(
            Q(region__path__startswith=region.path) | Q(region_id__in=ancestor_ids)
        )
        located = Service.locations.through.objects.filter(
            service_id=OuterRef("pk"), location__region__path__startswith=region.path
        )
        return qs.filter(Q(city_wide=True) | Exists(served) | Exists(located))

    def filter_region(self, qs, name, value):
        region = Region.objects.filter(code=value.strip()).only("pk", "path").first()
        if region is None:
            return qs.none()
        return self.serving(qs, region)

    def filter_point(self, qs, name, value):
        lat, lon = parse_point(value, name)
        region = Region.objects.containing_point(lon, lat).only("pk", "path").first()
        if region is None:  # outside every region with a boundary: only what serves the whole city
            return qs.filter(city_wide=True)
        return self.serving(qs, region)

    def filter_near(self, qs, name, value):
        lat, lon = parse_point(value, name)
        radius = float(self.form.cleaned_data.get("radius") or self.DEFAULT_RADIUS_KM)
        # bounding box first (index on latitude, longitude), then the distance
        dlat = math.degrees(radius / EARTH_RADIUS_KM)
        dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
        nearby = (
            Location.objects.filter(
                services=OuterRef("pk"),
                latitude__range=(lat - dlat, lat + dlat), longitude__range=(lon - dlon, lon + dlon),
            )
            .annotate(distance=distance_km(lat, lon))
            .filter(distance__lte=radius)
            .order_by("distance")
            .values("distance")[:1]
        )
        return qs.annotate(distance=Subquery(nearby, output_field=FloatField())).filter(
            distance__isnull=False
        ).order_by("distance", "name", "pk")

    def filter_needs_confirmation(self, qs, name, value):
        if value is None:
            return qs
        unconfirmed = Service.objects.unconfirmed().values("pk")
        return qs.filter(pk__in=unconfirmed) if value else qs.exclude(pk__in=unconfirmed)

    def filter_free_places(self, qs, name, value):
        if value is None:
            return qs
        return qs.filter(free_places__gt=0) if value else qs.filter(Q(free_places=0) | Q(free_places__isnull=True))



# --- Cooperation: agreements, networks, needs, planning, conflicts ---------------------


def touching_region(qs, relation: str, code: str):
    """Rows whose ``relation`` (a many-to-many to Region) holds a region inside
    the region with ``code`` or one containing it (an agreement for a Bezirk
    also covers its Planungsräume)."""
    region = Region.objects.filter(code=code.strip()).only("path").first()
    if region is None:
        return qs.none()
    return qs.filter(touches(qs.model, relation, region))


def touches(model, relation: str, region: Region) -> Exists:
    """The condition of ``touching_region`` for a region already loaded (no query)."""
    through = model._meta.get_field(relation).remote_field.through
    q = Q(region__path__startswith=region.path) | Q(region_id__in=region.ancestor_ids)
    return Exists(through.objects.filter(q, **{f"{model._meta.model_name}_id": OuterRef("pk")}))


class FieldSubtreeFilter(django_filters.CharFilter):
    """A field of action by key, with its sub-fields (``field_name``: the
    relation to FieldOfAction, a foreign key or a many-to-many)."""

    def filter(self, qs, value):
        value = (value or "").strip()
        if not value:
            return qs
        inside = FieldOfAction.objects.subtree(value).values("pk")
        qs = qs.filter(**{f"{self.field_name}__in": inside})
        return qs.distinct() if qs.model._meta.get_field(self.field_name).many_to_many else qs


class RegionSubtreeMixin:
    region_relation = "regions"

    def filter_region(self, qs, name, value):
        return touching_region(qs, self.region_relation, value) if value.strip() else qs


class AgreementFilterSet(RegionSubtreeMixin, django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Suche (Titel)"))
    kind = django_filters.MultipleChoiceFilter(choices=AgreementKind.choices, label=_("Art"))
    status = django_filters.MultipleChoiceFilter(choices=AgreementStatus.choices, label=_("Status"))
    region = django_filters.CharFilter(method="filter_region", label=_("Raum (Schlüssel, mit über- und untergeordneten)"))
    field = FieldSubtreeFilter(field_name="fields", label=_("Handlungsfeld (Schlüssel, mit Unterbereichen)"))
    organization = django_filters.UUIDFilter(field_name="parties__organization__uuid", distinct=True,
                                             label=_("Partei (Organisation, UUID)"))
    review_before = django_filters.DateFilter(field_name="next_review", lookup_expr="lte",
                                              label=_("Überprüfung fällig bis"))
    modified_after = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gt",
                                       label=_("geändert nach (ISO 8601)"))

    class Meta:
        model = Agreement
        fields = ["q", "kind", "status", "region", "field", "organization", "review_before", "public",
                  "modified_after"]

    def filter_q(self, qs, name, value):
        value = value.strip()
        return qs.filter(Q(title__icontains=value) | Q(goals__icontains=value)) if value else qs


class AgreementPartyFilterSet(django_filters.FilterSet):
    agreement = django_filters.UUIDFilter(field_name="agreement__uuid", label=_("Vereinbarung (UUID)"))
    organization = django_filters.UUIDFilter(field_name="organization__uuid", label=_("Organisation (UUID)"))
    role = django_filters.MultipleChoiceFilter(choices=PartyRole.choices, label=_("Rolle"))
    confirmed = django_filters.BooleanFilter(field_name="confirmed_at", lookup_expr="isnull", exclude=True,
                                             label=_("bestätigt"))

    class Meta:
        model = AgreementParty
        fields = ["agreement", "organization", "role", "confirmed"]


class AgreementDocumentFilterSet(django_filters.FilterSet):
    agreement = django_filters.UUIDFilter(field_name="agreement__uuid", label=_("Vereinbarung (UUID)"))

    class Meta:
        model = AgreementDocument
        fields = ["agreement", "kind"]


class GoalFilterSet(django_filters.FilterSet):
    agreement = django_filters.UUIDFilter(field_name="agreement__uuid", label=_("Vereinbarung (UUID)"))
    region = SubtreeFilter(field_prefix="region__", label=_("im Raum (Schlüssel, mit Teilräumen)"))
    indicator = django_filters.CharFilter(field_name="indicator__key", label=_("Indikator (Schlüssel)"))
    due_before = django_filters.DateFilter(field_name="target_date", lookup_expr="lte", label=_("zu erreichen bis"))

    class Meta:
        model = Goal
        fields = ["agreement", "region", "indicator", "due_before"]


class NetworkFilterSet(RegionSubtreeMixin, django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Suche (Name)"))
    kind = django_filters.MultipleChoiceFilter(choices=NetworkKind.choices, label=_("Art"))
    region = django_filters.CharFilter(method="filter_region", label=_("Raum (Schlüssel, mit über- und untergeordneten)"))
    field = FieldSubtreeFilter(field_name="fields", label=_("Handlungsfeld (Schlüssel, mit Unterbereichen)"))
    organization = django_filters.UUIDFilter(method="filter_organization", label=_("Mitglied (Organisation, UUID)"))

    class Meta:
        model = Network
        fields = ["q", "kind", "region", "field", "organization", "active", "public"]

    def filter_q(self, qs, name, value):
        value = value.strip()
        return qs.filter(Q(name__icontains=value) | Q(description__icontains=value)) if value else qs

    def filter_organization(self, qs, name, value):
        members = NetworkMember.objects.filter(organization__uuid=value).values("network_id")
        return qs.filter(Q(coordinator__uuid=value) | Q(pk__in=members))


class MeetingFilterSet(django_filters.FilterSet):
    network = django_filters.UUIDFilter(field_name="network__uuid", label=_("Netzwerk (UUID)"))
    after = IsoDateTimeFilter(field_name="starts_at", lookup_expr="gte", label=_("ab"))
    before = IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt", label=_("vor"))

    class Meta:
        model = Meeting
        fields = ["network", "after", "before"]


class MeetingTaskFilterSet(django_filters.FilterSet):
    network = django_filters.UUIDFilter(field_name="meeting__network__uuid", label=_("Netzwerk (UUID)"))
    meeting = django_filters.UUIDFilter(field_name="meeting__uuid", label=_("Sitzung (UUID)"))
    responsible = django_filters.UUIDFilter(field_name="responsible__uuid", label=_("verantwortlich (Organisation, UUID)"))
    done = django_filters.BooleanFilter(field_name="done_at", lookup_expr="isnull", exclude=True, label=_("erledigt"))
    due_before = django_filters.DateFilter(field_name="due", lookup_expr="lte", label=_("fällig bis"))
    mine = django_filters.ChoiceFilter(
        method="filter_mine", label=_("Aufgaben von"), empty_label=None,
        choices=[("true", _("meinen Organisationen")), ("false", _("allen sichtbaren Netzwerken"))])

    class Meta:
        model = MeetingTask
        fields = ["network", "meeting", "responsible", "done", "due_before", "mine"]

    def filter_mine(self, qs, name, value):
        """``true``: the tasks of the organisations the user belongs to ("Meine Aufgaben")."""
        user = getattr(self.request, "user", None)
        if value == "true":
            return qs.filter(responsible_id__in=access.organization_ids(user)) if user is not None else qs.none()
        return qs


class NeedReportFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Suche"))
    status = django_filters.MultipleChoiceFilter(choices=NeedStatus.choices, label=_("Status"))
    region = SubtreeFilter(field_prefix="region__", label=_("im Raum (Schlüssel, mit Teilräumen)"))
    field = FieldSubtreeFilter(field_name="field", label=_("Handlungsfeld (Schlüssel, mit Unterbereichen)"))
    reporter = django_filters.UUIDFilter(field_name="reporter__uuid", label=_("gemeldet von (Organisation, UUID)"))

    class Meta:
        model = NeedReport
        fields = ["q", "status", "region", "field", "reporter"]

    def filter_q(self, qs, name, value):
        value = value.strip()
        return qs.filter(Q(title__icontains=value) | Q(description__icontains=value)) if value else qs


class PlanningProcessFilterSet(RegionSubtreeMixin, django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Suche (Titel)"))
    phase = django_filters.MultipleChoiceFilter(choices=PlanningPhase.choices, label=_("Phase"))
    region = django_filters.CharFilter(method="filter_region", label=_("Raum (Schlüssel, mit über- und untergeordneten)"))
    field = FieldSubtreeFilter(field_name="fields", label=_("Handlungsfeld (Schlüssel, mit Unterbereichen)"))
    organization = django_filters.UUIDFilter(field_name="participants__organization__uuid", distinct=True,
                                             label=_("beteiligte Organisation (UUID)"))

    class Meta:
        model = PlanningProcess
        fields = ["q", "phase", "region", "field", "organization", "closed"]

    def filter_q(self, qs, name, value):
        value = value.strip()
        return qs.filter(Q(title__icontains=value) | Q(mandate_goals__icontains=value)) if value else qs


class ConflictCaseFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ConflictStatus.choices, label=_("Status"))
    agreement = django_filters.UUIDFilter(field_name="agreement__uuid", label=_("Vereinbarung (UUID)"))
    network = django_filters.UUIDFilter(field_name="network__uuid", label=_("Netzwerk (UUID)"))
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("Frist überschritten"))

    class Meta:
        model = ConflictCase
        fields = ["status", "agreement", "network", "overdue"]

    def filter_overdue(self, qs, name, value):
        if value is None:
            return qs
        overdue = ConflictCase.objects.overdue().values("pk")
        return qs.filter(pk__in=overdue) if value else qs.exclude(pk__in=overdue)


class EscalationStepFilterSet(django_filters.FilterSet):
    agreement = django_filters.UUIDFilter(field_name="agreement__uuid", label=_("Vereinbarung (UUID)"))
    network = django_filters.UUIDFilter(field_name="network__uuid", label=_("Netzwerk (UUID)"))

    class Meta:
        model = EscalationStep
        fields = ["agreement", "network"]


class NetworkMemberFilterSet(django_filters.FilterSet):
    network = django_filters.UUIDFilter(field_name="network__uuid", label=_("Netzwerk (UUID)"))
    organization = django_filters.UUIDFilter(field_name="organization__uuid",
                                             label=_("Organisation (UUID)"))
    role = django_filters.MultipleChoiceFilter(choices=NetworkRole.choices, label=_("Rolle"))

    class Meta:
        model = NetworkMember
        fields = ["network", "organization", "role"]


class PlanningParticipantFilterSet(django_filters.FilterSet):
    process = django_filters.UUIDFilter(field_name="process__uuid", label=_("Planungsprozess (UUID)"))
    organization = django_filters.UUIDFilter(field_name="organization__uuid",
                                             label=_("Organisation (UUID)"))
    role = django_filters.MultipleChoiceFilter(choices=PlanningRole.choices, label=_("Rolle"))

    class Meta:
        model = PlanningParticipant
        fields = ["process", "organization", "role"]


class SwotEntryFilterSet(django_filters.FilterSet):
    process = django_filters.UUIDFilter(field_name="process__uuid", label=_("Planungsprozess (UUID)"))
    organization = django_filters.UUIDFilter(field_name="organization__uuid",
                                             label=_("eingebracht von (Organisation, UUID)"))
    quadrant = django_filters.MultipleChoiceFilter(choices=SwotQuadrant.choices, label=_("Feld"))

    class Meta:
        model = SwotEntry
        fields = ["process", "organization", "quadrant"]


class PlanningDecisionFilterSet(django_filters.FilterSet):
    process = django_filters.UUIDFilter(field_name="process__uuid", label=_("Planungsprozess (UUID)"))
    kind = django_filters.MultipleChoiceFilter(choices=DecisionKind.choices, label=_("Art"))
    agreement = django_filters.UUIDFilter(field_name="agreement__uuid", label=_("Vereinbarung (UUID)"))
    responsible = django_filters.UUIDFilter(field_name="responsible__uuid",
                                            label=_("verantwortlich (Organisation, UUID)"))

    class Meta:
        model = PlanningDecision
        fields = ["process", "kind", "agreement", "responsible"]
