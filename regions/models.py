"""Social spaces (a region tree with named levels), indicators and their values."""

import pghistory
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils.translation import gettext_lazy as _

from core.access import Action, Role, ScopedQuerySet, has_role
from core.audit import audited
from core.models import TimeStampedModel

from . import access
from .choices import Direction, Rollup

PERIOD_REGEX = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"


# --- Levels -------------------------------------------------------------------


class CatalogueQuerySet(ScopedQuerySet):
    """City-wide definitions (levels, indicators): everyone signed in reads them;
    planners without a region limit change them."""

    def user_scope(self, user, action):
        if action == Action.VIEW or access.is_unscoped(user, Role.PLANNER):
            return self
        return self.none()

    def can_add(self, user):
        return access.is_unscoped(user, Role.PLANNER)


@audited()
class RegionLevel(TimeStampedModel):
    """A level of the region tree, named per city (Land, Bezirk, …, Planungsraum)."""

    key = models.SlugField(_("Schlüssel"), max_length=40, unique=True)
    name = models.CharField(_("Name"), max_length=80)
    name_plural = models.CharField(_("Name (Plural)"), max_length=80, blank=True)
    rank = models.PositiveSmallIntegerField(
        _("Rang"), unique=True, help_text=_("0 = oberste Ebene; jede tiefere Ebene hat einen höheren Rang.")
    )

    objects = CatalogueQuerySet.as_manager()

    class Meta:
        ordering = ["rank"]
        verbose_name = _("Raumebene")
        verbose_name_plural = _("Raumebenen")

    def __str__(self):
        return self.name


# --- Regions ------------------------------------------------------------------


class RegionQuerySet(ScopedQuerySet):
    def user_scope(self, user, action):
        if action == Action.VIEW:
            q = access.visible_regions_q(user)
        else:
            q = access.changeable_regions_q(user)
        return self if q is None else self.filter(q)

    def can_add(self, user):
        return has_role(user, Role.PLANNER)

    def subtree(self, region, include_self=True):
        """The region and everything below it, in one query at any depth."""
        qs = self.filter(path__startswith=region.path)
        return qs if include_self else qs.exclude(pk=region.pk)

    def subtree_of_any(self, regions):
        q = models.Q()
        for r in regions:
            q |= models.Q(path__startswith=r.path)
        return self.filter(q) if q else self.none()

    def ancestors(self, region, include_self=False):
        ids = region.ancestor_ids + ([region.pk] if include_self else [])
        return self.filter(pk__in=ids).order_by("depth")

    def containing_point(self, lon: float, lat: float):
        """Regions whose boundary contains the point (bounding-box prefilter in
        SQL, exact test with shapely)."""
        from .geo import geometry_contains

        candidates = self.filter(
            bbox_min_lon__lte=lon, bbox_max_lon__gte=lon, bbox_min_lat__lte=lat, bbox_max_lat__gte=lat
        ).exclude(boundary=None)
        ids = [r.pk for r in candidates.only("pk", "boundary") if geometry_contains(r.boundary, lon, lat)]
        return self.filter(pk__in=ids).order_by("-depth")


@audited(exclude=["path", "depth"])
class Region(TimeStampedModel):
    """A territory in the tree: Bezirk, Prognoseraum, Sozialraum, Planungsraum …"""

    code = models.CharField(
        _("Schlüssel"), max_length=40, help_text=_("Amtlicher Schlüssel; führende Nullen bleiben erhalten.")
    )
    name = models.CharField(_("Name"), max_length=200)
    level = models.ForeignKey(RegionLevel, verbose_name=_("Ebene"), on_delete=models.PROTECT, related_name="regions")
    parent = models.ForeignKey(
        "self", verbose_name=_("übergeordneter Raum"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="children",
    )
    # Materialised path of primary keys, e.g. "1/14/203/" (ancestors first, self last).
    path = models.CharField(max_length=255, editable=False, default="")
    depth = models.PositiveSmallIntegerField(editable=False, default=0)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("Sozialraumleitung"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="led_regions",
    )
    lead_unit = models.CharField(_("Steuerungseinheit"), max_length=200, blank=True)
    official_area_m2 = models.DecimalField(
        _("amtliche Fläche (m²)"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    # Boundary: a GeoJSON Polygon/MultiPolygon geometry (RFC 7946, WGS84).
    boundary = models.JSONField(_("Grenze"), null=True, blank=True)
    area_m2 = models.DecimalField(_("Fläche aus Grenze (m²)"), max_digits=16, decimal_places=2, null=True, blank=True)
    centroid_lon = models.FloatField(null=True, blank=True, editable=False)
    centroid_lat = models.FloatField(null=True, blank=True, editable=False)
    bbox_min_lon = models.FloatField(null=True, blank=True, editable=False)
    bbox_min_lat = models.FloatField(null=True, blank=True, editable=False)
    bbox_max_lon = models.FloatField(null=True, blank=True, editable=False)
    bbox_max_lat = models.FloatField(null=True, blank=True, editable=False)

    objects = RegionQuerySet.as_manager()

    class Meta:
        ordering = ["path"]
        verbose_name = _("Raum")
        verbose_name_plural = _("Räume")
        constraints = [
            models.UniqueConstraint(
                fields=["code"], name="region_code_unique",
                violation_error_message=_("Ein Raum mit diesem Schlüssel existiert bereits."),
            ),
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("pk")), name="region_not_own_parent",
                violation_error_message=_("Ein Raum kann nicht sein eigener übergeordneter Raum sein."),
            ),
        ]
        indexes = [
            models.Index(fields=["path"], name="region_path_idx", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["level", "code"], name="region_level_code_idx"),
            models.Index(fields=["bbox_min_lon", "bbox_max_lon", "bbox_min_lat", "bbox_max_lat"], name="region_bbox_idx"),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"

    # -- tree ----------------------------------------------------------------

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(p) for p in self.path.strip("/").split("/")[:-1] if p]

    def ancestors(self, include_self=False):
        return Region.objects.ancestors(self, include_self=include_self)

    def descendants(self, include_self=False):
        return Region.objects.subtree(self, include_self=include_self)

    def clean(self):
        super().clean()
        errors = {}
        if self.parent_id is not None:
            parent = self.parent
            if not self._state.adding and (parent.pk == self.pk or (self.path and parent.path.startswith(self.path))):
                errors["parent"] = _("Zyklus: %(parent)s liegt unterhalb von %(region)s.") % {
                    "parent": parent, "region": self,
                }
            elif self.level_id is not None and parent.level.rank >= self.level.rank:
                errors["level"] = _(
                    "Ebene passt nicht: %(level)s muss unterhalb der Ebene des übergeordneten Raums (%(plevel)s) liegen."
                ) % {"level": self.level, "plevel": parent.level}
        if not self._state.adding and self.level_id is not None:
            child_min = (
                Region.objects.filter(parent_id=self.pk).aggregate(m=models.Min("level__rank"))["m"]
            )
            if child_min is not None and child_min <= self.level.rank:
                errors["level"] = _("Ebene passt nicht: untergeordnete Räume liegen nicht unterhalb dieser Ebene.")
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        """Validates the tree and keeps the materialised paths of the whole subtree
        consistent (a move rewrites all descendants in one UPDATE)."""
        self.clean()
        with transaction.atomic():
            old_path = self.path
            super().save(*args, **kwargs)
            parent_path = self.parent.path if self.parent_id else ""
            new_path = f"{parent_path}{self.pk}/"
            if new_path != old_path:
                new_depth = new_path.count("/") - 1
                with connection.cursor() as cur:
                    if old_path:
                        cur.execute(
                            f"UPDATE {Region._meta.db_table} SET path = %s || substr(path, %s), "
                            "depth = depth + %s WHERE path LIKE %s",
                            [new_path, len(old_path) + 1, new_depth - self.depth, _like_prefix(old_path)],
                        )
                    else:
                        cur.execute(
                            f"UPDATE {Region._meta.db_table} SET path = %s, depth = %s WHERE id = %s",
                            [new_path, new_depth, self.pk],
                        )
                self.path, self.depth = new_path, new_depth
                if old_path:  # moved: the roll-ups of old and new ancestors change
                    from .services import recompute_rollups_below

                    recompute_rollups_below([new_path])

    def set_boundary(self, geometry: dict):
        """Validate (and repair) a GeoJSON geometry and derive area, centroid and bbox."""
        from .geo import normalise_geometry

        info = normalise_geometry(geometry)
        self.boundary = info.geometry
        self.area_m2 = info.area_m2
        self.centroid_lon, self.centroid_lat = info.centroid
        self.bbox_min_lon, self.bbox_min_lat, self.bbox_max_lon, self.bbox_max_lat = info.bbox
        return info


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def rebuild_paths() -> int:
    """Recompute every region's path and depth from the parent links in one
    statement (used after bulk imports). Returns the number of rows changed."""
    table = Region._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH RECURSIVE t(id, path, depth) AS (
                SELECT id, id::text || '/', 0 FROM {table} WHERE parent_id IS NULL
                UNION ALL
                SELECT r.id, t.path || r.id::text || '/', t.depth + 1
                FROM {table} r JOIN t ON r.parent_id = t.id
            )
            UPDATE {table} r SET path = t.path, depth = t.depth
            FROM t WHERE r.id = t.id AND (r.path <> t.path OR r.depth <> t.depth)
            """
        )
        return cur.rowcount


# --- Role assignments -----------------------------------------------------------


class RoleAssignmentQuerySet(ScopedQuerySet):
    def user_scope(self, user, action):
        if access.is_unscoped(user, Role.PLANNER):
            return self
        if action == Action.VIEW:
            return self.filter(user=user)
        return self.none()

    def can_add(self, user):
        return access.is_unscoped(user, Role.PLANNER)


@audited()
class RoleAssignment(TimeStampedModel):
    """A user's role, limited to a region subtree (``region``) or everywhere (None)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("Benutzer"), on_delete=models.CASCADE,
        related_name="role_assignments",
    )
    role = models.CharField(_("Rolle"), max_length=20, choices=Role.choices)
    region = models.ForeignKey(
        Region, verbose_name=_("Raum"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="role_assignments", help_text=_("Leer = überall."),
    )

    objects = RoleAssignmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("Rollenzuweisung")
        verbose_name_plural = _("Rollenzuweisungen")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "region"], nulls_distinct=False, name="roleassignment_unique",
                violation_error_message=_("Diese Rolle ist dem Benutzer für diesen Raum schon zugewiesen."),
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="roleassignment_role_valid",
                violation_error_message=_("Unbekannte Rolle."),
            ),
        ]

    def __str__(self):
        where = self.region.name if self.region_id else _("überall")
        return f"{self.user} – {self.get_role_display()} ({where})"


# --- Indicators -----------------------------------------------------------------


@audited()
class Indicator(TimeStampedModel):
    """A figure kept per region and period (count, share, rate, index)."""

    key = models.SlugField(_("Schlüssel"), max_length=60, unique=True)
    name = models.CharField(_("Name"), max_length=200)
    unit = models.CharField(_("Einheit"), max_length=40, blank=True)
    description = models.TextField(_("Beschreibung"), blank=True)
    source = models.CharField(_("Quelle"), max_length=300, blank=True)
    direction = models.CharField(_("Richtung"), max_length=16, choices=Direction.choices, default=Direction.NEUTRAL)
    rollup = models.CharField(_("Aggregation"), max_length=16, choices=Rollup.choices, default=Rollup.NONE)
    weight_indicator = models.ForeignKey(
        "self", verbose_name=_("Gewichtung"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="weighted_indicators",
        help_text=_("Für gewichtete Mittel: der Indikator mit den Gewichten (z. B. Einwohnerzahl)."),
    )
    decimals = models.PositiveSmallIntegerField(_("Nachkommastellen"), default=2)

    objects = CatalogueQuerySet.as_manager()

    class Meta:
        ordering = ["key"]
        verbose_name = _("Indikator")
        verbose_name_plural = _("Indikatoren")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(rollup="weighted_mean") | models.Q(weight_indicator__isnull=False),
                name="indicator_weighted_mean_needs_weight",
                violation_error_message=_("Ein gewichtetes Mittel braucht einen Gewichtungs-Indikator."),
            ),
            models.CheckConstraint(
                condition=~models.Q(weight_indicator=models.F("pk")), name="indicator_not_own_weight",
                violation_error_message=_("Ein Indikator kann nicht sich selbst gewichten."),
            ),
        ]

    def __str__(self):
        return self.name


class IndicatorValueQuerySet(ScopedQuerySet):
    def user_scope(self, user, action):
        if action == Action.VIEW:
            q = access.visible_regions_q(user, prefix="region__")
        else:
            q = access.changeable_regions_q(user, prefix="region__")
        return self if q is None else self.filter(q)

    def can_add(self, user):
        return has_role(user, Role.PLANNER)


# Values are bulk data: their history records updates and deletes (with the old
# and new value); an insert is recorded by its import run (``import_run``).
@pghistory.track(
    pghistory.UpdateEvent(), pghistory.DeleteEvent(), fields=["indicator", "region", "period", "value", "is_rollup"]
)
class IndicatorValue(TimeStampedModel):
    # No single-column FK indexes: the unique (indicator, region, period) and the
    # (region, indicator, period) indexes serve those lookups; fewer indexes make
    # bulk imports faster.
    indicator = models.ForeignKey(
        Indicator, verbose_name=_("Indikator"), on_delete=models.CASCADE, related_name="values", db_index=False
    )
    region = models.ForeignKey(
        Region, verbose_name=_("Raum"), on_delete=models.CASCADE, related_name="indicator_values", db_index=False
    )
    period = models.CharField(
        _("Zeitraum"), max_length=10, help_text=_("Jahr (2022), Monat (2022-06) oder Stichtag (2022-06-30).")
    )
    value = models.DecimalField(_("Wert"), max_digits=20, decimal_places=6)
    is_rollup = models.BooleanField(
        _("aggregiert"), default=False, help_text=_("Aus den untergeordneten Räumen berechnet.")
    )
    # For a rolled-up weighted mean: the weight behind it (the sum of the weights
    # of the children that had a value), so the next level up weights it right.
    rollup_weight = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True, editable=False)
    import_run = models.ForeignKey(
        "core.ImportRun", verbose_name=_("Importlauf"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", db_index=False,
    )

    objects = IndicatorValueQuerySet.as_manager()

    class Meta:
        ordering = ["indicator", "region", "period"]
        verbose_name = _("Indikatorwert")
        verbose_name_plural = _("Indikatorwerte")
        constraints = [
            models.UniqueConstraint(
                fields=["indicator", "region", "period"], name="indicatorvalue_unique_per_period",
                violation_error_message=_("Für diesen Indikator, Raum und Zeitraum gibt es schon einen Wert."),
            ),
            models.CheckConstraint(
                condition=models.Q(period__regex=PERIOD_REGEX), name="indicatorvalue_period_format",
                violation_error_message=_("Zeitraum muss JJJJ, JJJJ-MM oder JJJJ-MM-TT sein."),
            ),
        ]
        indexes = [
            models.Index(fields=["region", "indicator", "period"], name="indval_region_ind_period_idx"),
            models.Index(fields=["indicator", "period"], name="indval_ind_period_idx"),
        ]

    def __str__(self):
        return f"{self.indicator.key} {self.region.code} {self.period} = {self.value}"

