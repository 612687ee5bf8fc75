"""Organisations (every actor a social space works with), their staff's
memberships, their service offerings and the locations they are offered at.

Access (``for_user``): staff with a role (planner, region lead, viewer) read
everything, planners change everything; provider staff (``Membership``) see and
— as editors — change only their own organisation, its branches and their
offerings; anything else does not exist for them (404). The public service
directory has its own read path, ``Service.objects.directory_for(user)``.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.access import Action, ScopedQuerySet
from core.audit import audited
from core.models import FieldOfAction, TimeStampedModel
from regions.models import Region

from .. import access
from ..choices import (
    Accessibility,
    AccessMode,
    Cost,
    Language,
    LegalBasis,
    LegalForm,
    MembershipRole,
    OrganizationKind,
    ServiceStatus,
    Setting,
    Umbrella,
    WorkMode,
)

POSTAL_CODE = RegexValidator(r"^\d{4,5}$", _("Postleitzahl mit 4 (Österreich) oder 5 Ziffern (Deutschland)."))
PHONE = RegexValidator(r"^\+?[0-9 ()/\-]{5,30}$", _("Telefonnummer aus Ziffern, Leerzeichen und + ( ) / -."))
MAX_AGE = 120


def choice_array(choices, verbose_name, help_text=""):
    """A list of keys from ``choices`` (stored as a PostgreSQL array)."""
    return ArrayField(
        models.CharField(max_length=40, choices=choices.choices), verbose_name=verbose_name, default=list, blank=True,
        help_text=help_text,
    )


# --- Organisations --------------------------------------------------------------------


class OrganizationQuerySet(ScopedQuerySet):
    def user_scope(self, user, action):
        if action == Action.VIEW and access.is_staff_reader(user):
            return self
        if action in (Action.VIEW, Action.CHANGE) and access.is_planner(user):
            return self
        if action == Action.DELETE:
            return self if access.is_planner(user) else self.none()
        return self.filter(pk__in=access.organization_ids(user, editor=action == Action.CHANGE))

    def can_add(self, user):
        return access.is_planner(user)


@audited()
class Organization(TimeStampedModel):
    """Any actor of a social space: a provider (freier Träger), a public funder,
    a school, a church, the police, a business, an initiative …"""

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("Name"), max_length=200)
    kind = models.CharField(_("Art"), max_length=20, choices=OrganizationKind.choices, default=OrganizationKind.PROVIDER)
    umbrella = models.CharField(_("Dachverband"), max_length=20, choices=Umbrella.choices, default=Umbrella.NONE)
    legal_form = models.CharField(_("Rechtsform"), max_length=20, choices=LegalForm.choices, blank=True)
    register_number = models.CharField(
        _("Registernummer"), max_length=60, blank=True, help_text=_("z. B. VR 12345 B (Vereinsregister) oder HRB 6789")
    )
    description = models.TextField(_("Beschreibung"), blank=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("übergeordnete Organisation"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="branches", help_text=_("Bei einer Zweigstelle oder Einrichtung: der Träger, zu dem sie gehört."),
    )
    # functional contact channels of the organisation (no personal data of staff)
    email = models.EmailField(_("E-Mail"), blank=True)
    phone = models.CharField(_("Telefon"), max_length=40, blank=True, validators=[PHONE])
    website = models.URLField(_("Website"), blank=True)
    street = models.CharField(_("Straße und Hausnummer"), max_length=200, blank=True)
    postal_code = models.CharField(_("PLZ"), max_length=5, blank=True, validators=[POSTAL_CODE])
    city = models.CharField(_("Ort"), max_length=100, blank=True)
    regions = models.ManyToManyField(
        Region, verbose_name=_("aktiv in"), blank=True, related_name="organizations",
        help_text=_("Sozialräume, in denen die Organisation tätig ist."),
    )

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("Organisation")
        verbose_name_plural = _("Organisationen")
        indexes = [models.Index(fields=["kind"], name="organization_kind_idx"),
                   models.Index(fields=["updated_at"], name="organization_updated_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="organization_name_not_empty",
                                   violation_error_message=_("Der Name fehlt.")),
            models.CheckConstraint(condition=~Q(parent=models.F("pk")), name="organization_not_own_parent",
                                   violation_error_message=_("Eine Organisation kann nicht ihre eigene übergeordnete sein.")),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        # no cycles in the parent chain
        seen = {self.pk} if self.pk else set()
        parent = self.parent
        while parent is not None:
            if parent.pk in seen:
                raise ValidationError({"parent": _("Die übergeordnete Organisation darf nicht zu ihren Zweigstellen gehören.")})
            seen.add(parent.pk)
            parent = parent.parent


class MembershipQuerySet(ScopedQuerySet):
    """Planners see and change all memberships; everyone sees their own. A
    provider editor cannot grant or raise a membership (no escalation)."""

    def user_scope(self, user, action):
        if access.is_planner(user):
            return self
        if action == Action.VIEW:
            return self.filter(user=user)
        return self.none()

    def can_add(self, user):
        return access.is_planner(user)


@audited()
class Membership(models.Model):
    """A user works for an organisation: as editor (keeps its data and
    offerings current) or viewer."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("Benutzer"), on_delete=models.CASCADE,
                             related_name="memberships")
    organization = models.ForeignKey(Organization, verbose_name=_("Organisation"), on_delete=models.CASCADE,
                                     related_name="memberships")
    role = models.CharField(_("Rolle"), max_length=10, choices=MembershipRole.choices, default=MembershipRole.EDITOR)
    created_at = models.DateTimeField(_("angelegt am"), auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["organization__name", "user__username"]
        verbose_name = _("Mitgliedschaft")
        verbose_name_plural = _("Mitgliedschaften")
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_once_per_organization",
                                    violation_error_message=_("Der Benutzer gehört dieser Organisation schon an.")),
        ]

    def __str__(self):
        return f"{self.user} – {self.organization} ({self.get_role_display()})"


# --- Taxonomy of target groups ---------------------------------------------------------


class TargetGroupQuerySet(ScopedQuerySet):
    """A city-wide catalogue: everyone (also anonymous visitors of the
    directory) reads it; planners change it."""

    def anonymous_scope(self, action):
        return self if action == Action.VIEW else self.none()

    def user_scope(self, user, action):
        if action == Action.VIEW or access.is_planner(user):
            return self
        return self.none()

    def can_add(self, user):
        return access.is_planner(user)


@audited()
class TargetGroup(TimeStampedModel):
    """A target group (Zielgruppe) of service offerings; may have a parent
    (e.g. Kinder › Kinder unter 6 Jahren)."""

    key = models.SlugField(_("Schlüssel"), max_length=60, unique=True)
    name = models.CharField(_("Name"), max_length=120)
    parent = models.ForeignKey("self", verbose_name=_("übergeordnete Zielgruppe"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    order = models.PositiveSmallIntegerField(_("Reihenfolge"), default=0)

    objects = TargetGroupQuerySet.as_manager()

    class Meta:
        ordering = ["order", "name"]
        verbose_name = _("Zielgruppe")
        verbose_name_plural = _("Zielgruppen")

    def __str__(self):
        return self.name

    def subtree_ids(self) -> list[int]:
        """Its id and those of its sub-groups (two levels are used in practice)."""
        ids, frontier = [self.pk], [self.pk]
        while frontier:
            frontier = list(TargetGroup.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
            ids += frontier
        return ids


# --- Locations --------------------------------------------------------------------------


class LocationQuerySet(ScopedQuerySet):
    """Locations belong to an organisation and follow its access."""

    def user_scope(self, user, action):
        if action == Action.VIEW and access.is_staff_reader(user) or access.is_planner(user):
            return self
        return self.filter(organization_id__in=access.organization_ids(user, editor=action != Action.VIEW))

    def can_add(self, user):
        return access.is_planner(user) or bool(access.organization_ids(user, editor=True))


@audited()
class Location(TimeStampedModel):
    """A place where offerings are given: address and coordinates; the region
    is found from the point (the deepest region with a boundary containing it)."""

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, verbose_name=_("Organisation"), on_delete=models.CASCADE,
                                     related_name="locations")
    name = models.CharField(_("Bezeichnung"), max_length=200, blank=True, help_text=_("z. B. Familienzentrum Nord"))
    street = models.CharField(_("Straße und Hausnummer"), max_length=200)
    postal_code = models.CharField(_("PLZ"), max_length=5, validators=[POSTAL_CODE])
    city = models.CharField(_("Ort"), max_length=100)
    latitude = models.DecimalField(_("Breitengrad"), max_digits=9, decimal_places=6, null=True, blank=True,
                                   help_text=_("WGS84, z. B. 52.520008"))
    longitude = models.DecimalField(_("Längengrad"), max_digits=9, decimal_places=6, null=True, blank=True,
                                    help_text=_("WGS84, z. B. 13.404954"))
    region = models.ForeignKey(
        Region, verbose_name=_("Sozialraum"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="locations", help_text=_("Wird aus den Koordinaten bestimmt."),
    )

    objects = LocationQuerySet.as_manager()

    class Meta:
        ordering = ["organization__name", "name", "street"]
        verbose_name = _("Standort")
        verbose_name_plural = _("Standorte")
        indexes = [models.Index(fields=["latitude", "longitude"], name="location_point_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__gte=-90, latitude__lte=90, longitude__gte=-180, longitude__lte=180),
                name="location_point_valid",
                violation_error_message=_("Koordinaten: Breitengrad −90 bis 90 und Längengrad −180 bis 180, beide oder keiner."),
            ),
        ]

    def __str__(self):
        label = self.name or self.street
        return f"{label}, {self.postal_code} {self.city}".strip(", ")

    def clean(self):
        super().clean()
        if (self.latitude is None) != (self.longitude is None):
            raise ValidationError({"longitude": _("Bitte Breiten- und Längengrad angeben oder beide leer lassen.")})

    def find_region(self) -> Region | None:
        """The deepest region whose boundary contains the point."""
        if self.latitude is None or self.longitude is None:
            return None
        return Region.objects.containing_point(float(self.longitude), float(self.latitude)).first()

    def save(self, *args, **kwargs):
        if self.latitude is not None and self.longitude is not None:
            self.region = self.find_region()
        else:
            self.region = None
        super().save(*args, **kwargs)


# --- Service offerings -----------------------------------------------------------------


class ServiceQuerySet(ScopedQuerySet):
    def user_scope(self, user, action):
        if action == Action.VIEW and access.is_staff_reader(user) or access.is_planner(user):
            return self
        return self.filter(organization_id__in=access.organization_ids(user, editor=action != Action.VIEW))

    def can_add(self, user):
        return access.is_planner(user) or bool(access.organization_ids(user, editor=True))

    def directory_for(self, user):
        """What the service directory (Angebotsfinder) lists: active offerings;
        staff with a role see every status; provider staff also their own
        offerings in any status; anonymous visitors only when the directory is
        public (setting ``DIRECTORY_PUBLIC``)."""
        if user is None or not user.is_authenticated or not user.is_active:
            if not settings.DIRECTORY_PUBLIC:
                return self.none()
            return self.filter(status=ServiceStatus.ACTIVE)
        if user.is_superuser or access.is_staff_reader(user):
            return self
        own = access.organization_ids(user)
        return self.filter(Q(status=ServiceStatus.ACTIVE) | Q(organization_id__in=own))

    def unconfirmed(self, months: int | None = None):
        """Offerings not confirmed as current for ``months`` (default: the
        setting ``SERVICE_CONFIRMATION_MONTHS``); inactive and defunct ones are
        not asked about."""
        cutoff = confirmation_cutoff(months)
        return self.filter(status__in=[ServiceStatus.ACTIVE, ServiceStatus.TEMPORARILY_CLOSED]).filter(
            Q(last_confirmed_at__isnull=True, created_at__lt=cutoff) | Q(last_confirmed_at__lt=cutoff)
        )


def confirmation_cutoff(months: int | None = None):
    months = settings.SERVICE_CONFIRMATION_MONTHS if months is None else months
    return timezone.now() - timedelta(days=round(months * 365.25 / 12))


@audited(exclude=["search"])
class Service(TimeStampedModel):
    """A service offering (Angebot) of an organisation."""

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, verbose_name=_("Organisation"), on_delete=models.PROTECT,
                                     related_name="services")
    name = models.CharField(_("Name"), max_length=200)
    description = models.TextField(_("Beschreibung"), blank=True)
    keywords = models.CharField(_("Stichworte"), max_length=300, blank=True,
                                help_text=_("Weitere Suchbegriffe, durch Kommas getrennt."))
    fields = models.ManyToManyField(FieldOfAction, verbose_name=_("Handlungsfelder"), related_name="services")
    setting = models.CharField(_("Setting"), max_length=20, choices=Setting.choices, default=Setting.AMBULANT)
    work_mode = models.CharField(_("Arbeitsweise"), max_length=20, choices=WorkMode.choices,
                                 default=WorkMode.CASE_SPECIFIC)
    target_groups = models.ManyToManyField(TargetGroup, verbose_name=_("Zielgruppen"), blank=True,
                                           related_name="services")
    age_min = models.PositiveSmallIntegerField(_("Alter von"), null=True, blank=True,
                                               validators=[MaxValueValidator(MAX_AGE)])
    age_max = models.PositiveSmallIntegerField(_("Alter bis"), null=True, blank=True,
                                               validators=[MaxValueValidator(MAX_AGE)])
    legal_bases = choice_array(LegalBasis, _("Rechtsgrundlagen"))
    languages = choice_array(Language, _("Sprachen"))
    accessibility = choice_array(Accessibility, _("Barrierefreiheit"))
    cost = models.CharField(_("Kosten"), max_length=20, choices=Cost.choices, default=Cost.FREE)
    cost_note = models.CharField(_("Hinweis zu den Kosten"), max_length=300, blank=True)
    access_modes = choice_array(AccessMode, _("Zugang"))
    city_wide = models.BooleanField(_("stadtweit"), default=False,
                                    help_text=_("Für die ganze Stadt; dann sind keine einzelnen Räume nötig."))
    regions = models.ManyToManyField(Region, verbose_name=_("versorgte Räume"), blank=True,
                                     related_name="services_served")
    locations = models.ManyToManyField(Location, verbose_name=_("Standorte"), blank=True, related_name="services")
    opening_hours = models.TextField(_("Öffnungszeiten"), blank=True, help_text=_("z. B. Mo–Fr 9–17 Uhr, Do bis 19 Uhr"))
    email = models.EmailField(_("E-Mail"), blank=True)
    phone = models.CharField(_("Telefon"), max_length=40, blank=True, validators=[PHONE])
    url = models.URLField(_("Website"), blank=True)
    capacity = models.PositiveIntegerField(_("Plätze"), null=True, blank=True)
    free_places = models.PositiveIntegerField(_("freie Plätze"), null=True, blank=True)
    free_places_reported_at = models.DateField(_("freie Plätze gemeldet am"), null=True, blank=True)
    status = models.CharField(_("Status"), max_length=20, choices=ServiceStatus.choices, default=ServiceStatus.ACTIVE)
    last_confirmed_at = models.DateTimeField(_("zuletzt als aktuell bestätigt"), null=True, blank=True)
    # German full-text search over name, keywords (weight A) and description (B)
    search = models.GeneratedField(
        expression=SearchVector("name", weight="A", config="german")
        + SearchVector("keywords", weight="A", config="german")
        + SearchVector("description", weight="B", config="german"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = ServiceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("Angebot")
        verbose_name_plural = _("Angebote")
        indexes = [
            GinIndex(fields=["search"], name="service_search_idx"),
            models.Index(fields=["organization", "status"], name="service_org_status_idx"),
            models.Index(fields=["status", "name"], name="service_status_name_idx"),
            models.Index(fields=["updated_at"], name="service_updated_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="service_name_not_empty",
                                   violation_error_message=_("Der Name fehlt.")),
            models.CheckConstraint(
                condition=Q(age_min__isnull=True) | Q(age_max__isnull=True) | Q(age_min__lte=models.F("age_max")),
                name="service_age_range", violation_error_message=_("„Alter von“ liegt über „Alter bis“."),
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(free_places__isnull=True) | Q(free_places__lte=models.F("capacity")),
                name="service_free_places_within_capacity",
                violation_error_message=_("Es gibt mehr freie Plätze als Plätze."),
            ),
            models.CheckConstraint(
                condition=Q(free_places__isnull=True) | Q(free_places_reported_at__isnull=False),
                name="service_free_places_dated",
                violation_error_message=_("Bitte angeben, wann die freien Plätze gemeldet wurden."),
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        errors = {}
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            errors["age_max"] = _("„Alter bis“ muss mindestens „Alter von“ sein.")
        if self.capacity is not None and self.free_places is not None and self.free_places > self.capacity:
            errors["free_places"] = _("Es gibt mehr freie Plätze (%(free)s) als Plätze (%(capacity)s).") % {
                "free": self.free_places, "capacity": self.capacity}
        if self.free_places is not None and self.free_places_reported_at is None:
            errors["free_places_reported_at"] = _("Bitte angeben, wann die freien Plätze gemeldet wurden.")
        if self.free_places_reported_at and self.free_places_reported_at > timezone.localdate():
            errors["free_places_reported_at"] = _("Das Datum liegt in der Zukunft.")
        if errors:
            raise ValidationError(errors)

    COPY_SUFFIX = " (Kopie)"

    def duplicate(self, user, *, confirmed: bool, status: str | None = None) -> "Service":
        """A copy named "… (Kopie)" with the same fields, target groups, regions
        and locations, authored by ``user``; ``confirmed``: marked as current now
        (else unconfirmed); ``status``: the copy's status (default: the same)."""
        from django.db import transaction

        relations = {name: list(getattr(self, name).values_list("pk", flat=True))
                     for name in ("fields", "target_groups", "regions", "locations")}
        with transaction.atomic():
            copy = Service.objects.get(pk=self.pk)
            copy.pk = copy.id = None
            copy._state.adding = True
            copy.uuid = uuid.uuid4()
            limit = Service._meta.get_field("name").max_length - len(self.COPY_SUFFIX)
            copy.name = self.name[:limit] + self.COPY_SUFFIX
            if status is not None:
                copy.status = status
            copy.last_confirmed_at = timezone.now() if confirmed else None
            copy.created_by = copy.updated_by = None
            copy.created_at = copy.updated_at = None
            copy.stamp(user)
            copy.save()
            for name, ids in relations.items():
                if ids:
                    getattr(copy, name).set(ids)
        return copy

    @property
    def needs_confirmation(self) -> bool:
        """Not confirmed as current within SERVICE_CONFIRMATION_MONTHS (active
        or temporarily closed offerings only)."""
        if self.status not in (ServiceStatus.ACTIVE, ServiceStatus.TEMPORARILY_CLOSED):
            return False
        reference = self.last_confirmed_at or self.created_at
        return reference is not None and reference < confirmation_cutoff()
