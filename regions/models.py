"""Social spaces (a region tree with named levels), indicators and their values."""

from decimal import Decimal

import pghistory
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils.translation import gettext_lazy as _

from core.access import Action, Role, ScopedQuerySet, has_role
from core.audit import audited
from core.models import TimeStampedModel

from . import access
from .choices import Direction, IndexKind, IndexResultStatus, Rollup

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



# --- Composite indices ------------------------------------------------------------
# A composite social index (Sozialindex, Status-/Dynamikindex): components are
# standardised, weighted and summed over the regions of one level; the results
# are classed and stored as values of a derived indicator. The computation is in
# ``regions.indices``.

INDEX_DECIMALS = 6
RESERVED_INDEX_KEYS = {"neu"}  # /raeume/indizes/neu/ is the create page


def number_text(value) -> str:
    """1.500000 → '1,5' (German UI), -1 → '−1' (a real minus sign)."""
    from django.utils.formats import number_format

    value = value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()
    return number_format(value).replace("-", "\u2212")


@audited()
class CompositeIndex(TimeStampedModel):
    """The definition of a composite index (Sozialindex)."""

    key = models.SlugField(
        _("Schlüssel"), max_length=60, unique=True,
        help_text=_("Zugleich der Schlüssel des Ergebnis-Indikators, in dem die Indexwerte gespeichert werden."),
    )
    name = models.CharField(_("Name"), max_length=200)
    description = models.TextField(_("Beschreibung"), blank=True)
    kind = models.CharField(
        _("Art"), max_length=16, choices=IndexKind.choices, default=IndexKind.STATUS,
        help_text=_("Nur eine Bezeichnung: ein Dynamikindex wird ebenso berechnet, aus Veränderungs-Indikatoren."),
    )
    scope_level = models.ForeignKey(
        RegionLevel, verbose_name=_("Ebene"), on_delete=models.PROTECT, related_name="+",
        help_text=_("Der Index wird über die Räume dieser Ebene berechnet (z. B. Planungsräume)."),
    )
    scope_ancestor = models.ForeignKey(
        Region, verbose_name=_("innerhalb von"), null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text=_("Optional: nur die Räume unterhalb dieses Raums (Schlüssel)."),
    )
    exclude_indicator = models.ForeignKey(
        Indicator, verbose_name=_("Ausschluss nach Indikator"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Z. B. die Einwohnerzahl: Räume mit einem kleineren Wert als der Schwelle bleiben außen vor "
                    "und werden als ausgeschlossen aufgeführt."),
    )
    exclude_below = models.DecimalField(
        _("ausschließen unter"), max_digits=20, decimal_places=6, null=True, blank=True,
        help_text=_("Schwelle des Ausschluss-Indikators, z. B. 300 (Einwohner)."),
    )
    restandardise = models.BooleanField(
        _("Summe erneut z-standardisieren"), default=True,
        help_text=_("Die gewichtete Summe wird über die berechneten Räume erneut z-standardisiert "
                    "(Mittelwert 0, Standardabweichung 1), wie beim MSS."),
    )
    result_indicator = models.OneToOneField(
        Indicator, verbose_name=_("Ergebnis-Indikator"), on_delete=models.PROTECT, related_name="composite_index",
        editable=False,
    )

    objects = CatalogueQuerySet.as_manager()

    class Meta:
        ordering = ["name", "key"]
        verbose_name = _("Index")
        verbose_name_plural = _("Indizes")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(exclude_indicator__isnull=True, exclude_below__isnull=True)
                | models.Q(exclude_indicator__isnull=False, exclude_below__isnull=False),
                name="compositeindex_exclusion_complete",
                violation_error_message=_("Ausschluss braucht Indikator und Schwelle (oder keins von beiden)."),
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=[k.value for k in IndexKind]), name="compositeindex_kind_valid",
                violation_error_message=_("Unbekannte Art."),
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        errors = {}
        if self.key in RESERVED_INDEX_KEYS:
            errors["key"] = _("Dieser Schlüssel ist reserviert.")
        elif self.key:
            clash = Indicator.objects.filter(key=self.key)
            if self.result_indicator_id:
                clash = clash.exclude(pk=self.result_indicator_id)
            if clash.exists():
                errors["key"] = _("Es gibt schon einen Indikator mit dem Schlüssel „%(key)s“; der Index "
                                  "braucht ihn für seine Ergebnisse.") % {"key": self.key}
        if (self.exclude_indicator_id is None) != (self.exclude_below is None):
            field = "exclude_below" if self.exclude_below is None else "exclude_indicator"
            errors[field] = _("Für einen Ausschluss bitte Indikator und Schwelle angeben.")
        elif self.exclude_indicator_id is not None and self.exclude_indicator_id == self.result_indicator_id:
            errors["exclude_indicator"] = _("Der Ergebnis-Indikator des Index kann nicht sein Ausschluss-Indikator sein.")
        if self.scope_ancestor_id is not None and self.scope_level_id is not None:
            if self.scope_ancestor.level.rank >= self.scope_level.rank:
                errors["scope_ancestor"] = _(
                    "%(region)s liegt nicht oberhalb der Ebene %(level)s."
                ) % {"region": self.scope_ancestor, "level": self.scope_level}
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        """Creates the result indicator with the index (key = the index's key,
        no roll-up, source "berechnet") and keeps its key and name in step."""
        with transaction.atomic():
            indicator = self.result_indicator if self.result_indicator_id else None
            if indicator is None:
                indicator = Indicator(
                    key=self.key, name=self.name, unit=str(_("Indexwert")), source=str(_("berechnet")),
                    description=str(_("Ergebnis des Index „%(name)s“ (berechnet, nicht importieren).")) % {"name": self.name},
                    rollup=Rollup.NONE, direction=Direction.HIGHER_WORSE, decimals=3,
                    created_by=self.created_by, updated_by=self.updated_by,
                )
                indicator.save()
                self.result_indicator = indicator
            elif indicator.key != self.key or indicator.name != self.name:
                indicator.key, indicator.name = self.key, self.name
                indicator.stamp(self.updated_by)
                indicator.save(update_fields=["key", "name", "updated_at", "updated_by"])
            super().save(*args, **kwargs)

    # -- scope -------------------------------------------------------------------

    def regions_in_scope(self):
        qs = Region.objects.filter(level_id=self.scope_level_id)
        if self.scope_ancestor_id is not None:
            qs = qs.filter(path__startswith=self.scope_ancestor.path)
        return qs

    def input_periods(self) -> list[str]:
        """Periods in which any component has values in the scope, newest first."""
        values = IndicatorValue.objects.filter(
            indicator_id__in=self.components.values("indicator_id"), region__level_id=self.scope_level_id
        )
        if self.scope_ancestor_id is not None:
            values = values.filter(region__path__startswith=self.scope_ancestor.path)
        return sorted(set(values.values_list("period", flat=True).distinct()), reverse=True)

    def result_periods(self) -> list[str]:
        return sorted(set(self.results.values_list("period", flat=True).distinct()), reverse=True)


@audited()
class IndexComponent(TimeStampedModel):
    """One indicator of an index with its weight and treatment."""

    index = models.ForeignKey(CompositeIndex, verbose_name=_("Index"), on_delete=models.CASCADE,
                              related_name="components")
    indicator = models.ForeignKey(Indicator, verbose_name=_("Indikator"), on_delete=models.PROTECT,
                                  related_name="index_components")
    weight = models.DecimalField(_("Gewicht"), max_digits=12, decimal_places=6, default=1)
    standardise = models.BooleanField(
        _("z-standardisieren"), default=True,
        help_text=_("Über die berechneten Räume des Index (Mittelwert 0, Standardabweichung 1); sonst der Wert, wie er ist."),
    )
    invert = models.BooleanField(
        _("Richtung umkehren"), default=False,
        help_text=_("Für Indikatoren, bei denen ein höherer Wert weniger Bedarf bedeutet."),
    )
    order = models.PositiveSmallIntegerField(_("Reihenfolge"), default=0)

    objects = CatalogueQuerySet.as_manager()

    class Meta:
        ordering = ["index", "order", "pk"]
        verbose_name = _("Index-Komponente")
        verbose_name_plural = _("Index-Komponenten")
        constraints = [
            models.UniqueConstraint(
                fields=["index", "indicator"], name="indexcomponent_unique_indicator",
                violation_error_message=_("Dieser Indikator ist schon Komponente des Index."),
            ),
            models.CheckConstraint(
                condition=models.Q(weight__gt=0), name="indexcomponent_weight_positive",
                violation_error_message=_("Das Gewicht muss größer als 0 sein (die Richtung kehrt „umkehren“ um)."),
            ),
        ]

    def __str__(self):
        return f"{self.indicator} × {self.weight.normalize()}"


@audited()
class IndexClass(TimeStampedModel):
    """A class of index values with explicit bounds: e.g. "mittel" = [−1; 1]
    (both inclusive), "niedrig" = ]1; 1,5]. An empty bound is open-ended."""

    index = models.ForeignKey(CompositeIndex, verbose_name=_("Index"), on_delete=models.CASCADE,
                              related_name="classes")
    label = models.CharField(_("Bezeichnung"), max_length=80)
    lower = models.DecimalField(_("Untergrenze"), max_digits=12, decimal_places=6, null=True, blank=True,
                                help_text=_("Leer = nach unten offen."))
    lower_inclusive = models.BooleanField(_("Untergrenze gehört dazu (≥)"), default=True)
    upper = models.DecimalField(_("Obergrenze"), max_digits=12, decimal_places=6, null=True, blank=True,
                                help_text=_("Leer = nach oben offen."))
    upper_inclusive = models.BooleanField(_("Obergrenze gehört dazu (≤)"), default=False)
    order = models.PositiveSmallIntegerField(_("Reihenfolge"), default=0)

    objects = CatalogueQuerySet.as_manager()

    class Meta:
        ordering = ["index", "order", "pk"]
        verbose_name = _("Index-Klasse")
        verbose_name_plural = _("Index-Klassen")
        constraints = [
            models.UniqueConstraint(
                fields=["index", "label"], name="indexclass_unique_label",
                violation_error_message=_("Eine Klasse mit dieser Bezeichnung gibt es schon."),
            ),
            models.CheckConstraint(
                condition=models.Q(lower__isnull=True) | models.Q(upper__isnull=True)
                | models.Q(lower__lt=models.F("upper"))
                | models.Q(lower=models.F("upper"), lower_inclusive=True, upper_inclusive=True),
                name="indexclass_bounds_ordered",
                violation_error_message=_("Die Untergrenze muss unter der Obergrenze liegen."),
            ),
        ]

    def __str__(self):
        return f"{self.label} ({self.interval_text()})"

    def contains(self, value) -> bool:
        if value is None:
            return False
        if self.lower is not None and (value < self.lower or (value == self.lower and not self.lower_inclusive)):
            return False
        if self.upper is not None and (value > self.upper or (value == self.upper and not self.upper_inclusive)):
            return False
        return True

    def interval_text(self) -> str:
        """'< −1', '≥ −1 und ≤ 1', '> 1 und ≤ 1,5', '> 1,5' (German number format)."""
        parts = []
        if self.lower is not None:
            parts.append(f"{'≥' if self.lower_inclusive else '>'} {number_text(self.lower)}")
        if self.upper is not None:
            parts.append(f"{'≤' if self.upper_inclusive else '<'} {number_text(self.upper)}")
        return f" {_('und')} ".join(parts) if parts else str(_("alle Werte"))


class IndexResultQuerySet(ScopedQuerySet):
    """Results are read like indicator values (the regions a user may see);
    only the computation writes them."""

    def user_scope(self, user, action):
        if action != Action.VIEW:
            return self.none()
        q = access.visible_regions_q(user, prefix="region__")
        return self if q is None else self.filter(q)

    def can_add(self, user):
        return False


class IndexResult(models.Model):
    """A region's result of an index in one period: the value and class, or why
    there is none (excluded, or which components are missing) — never zero."""

    index = models.ForeignKey(CompositeIndex, verbose_name=_("Index"), on_delete=models.CASCADE,
                              related_name="results")
    region = models.ForeignKey(Region, verbose_name=_("Raum"), on_delete=models.CASCADE, related_name="+")
    period = models.CharField(_("Zeitraum"), max_length=10)
    status = models.CharField(_("Status"), max_length=12, choices=IndexResultStatus.choices)
    value = models.DecimalField(_("Indexwert"), max_digits=20, decimal_places=INDEX_DECIMALS, null=True, blank=True)
    weighted_sum = models.DecimalField(_("gewichtete Summe"), max_digits=20, decimal_places=INDEX_DECIMALS,
                                       null=True, blank=True)
    class_label = models.CharField(_("Klasse"), max_length=80, blank=True)
    reason = models.CharField(_("Begründung"), max_length=500, blank=True)
    missing = models.JSONField(_("fehlende Indikatoren"), default=list, blank=True)
    # {indicator key: {"value": "12.5", "score": 0.731}}: the inputs of the value
    inputs = models.JSONField(_("Eingangswerte"), default=dict, blank=True)
    computed_at = models.DateTimeField(_("berechnet am"))

    objects = IndexResultQuerySet.as_manager()

    class Meta:
        ordering = ["index", "period", "region__code"]
        verbose_name = _("Indexergebnis")
        verbose_name_plural = _("Indexergebnisse")
        constraints = [
            models.UniqueConstraint(
                fields=["index", "region", "period"], name="indexresult_unique",
                violation_error_message=_("Für diesen Index, Raum und Zeitraum gibt es schon ein Ergebnis."),
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in IndexResultStatus]), name="indexresult_status_valid",
                violation_error_message=_("Unbekannter Status."),
            ),
            models.CheckConstraint(
                condition=models.Q(status="ok", value__isnull=False) | (~models.Q(status="ok") & models.Q(value__isnull=True)),
                name="indexresult_value_only_when_ok",
                violation_error_message=_("Nur berechnete Räume haben einen Indexwert (nie 0 statt fehlender Werte)."),
            ),
            models.CheckConstraint(
                condition=models.Q(period__regex=PERIOD_REGEX), name="indexresult_period_format",
                violation_error_message=_("Zeitraum muss JJJJ, JJJJ-MM oder JJJJ-MM-TT sein."),
            ),
        ]
        indexes = [models.Index(fields=["index", "period", "status"], name="indexresult_index_period_idx")]

    def __str__(self):
        return f"{self.index.key} {self.region.code} {self.period}: {self.value if self.value is not None else self.status}"
