"""Server-rendered boundary maps: inline SVG, no JavaScript, no tiles, no
third-party requests.

GeoJSON lon/lat is projected equirectangularly (x scaled by cos of the mean
latitude, which is faithful enough at the scale of a city), fitted into a
viewBox, simplified to about half a viewBox unit and rounded to one decimal,
so a map of a whole city stays small. Each region is a link to its page; the
current region is marked by a hatch pattern and a thick outline (not by colour
alone). Every map comes with a table alternative (see ``MapData.rows``).
"""

import math
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import shapely
from django.core.cache import cache
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from shapely.geometry import MultiPolygon, Polygon, shape

WIDTH = 800
MAX_HEIGHT = 640
PADDING = 8
SIMPLIFY_TOLERANCE = 0.5  # viewBox units
CACHE_SECONDS = 24 * 3600

CURRENT, CHILD, CONTEXT, ANCESTOR = "current", "child", "context", "ancestor"
ROLE_ORDER = {ANCESTOR: 0, CONTEXT: 1, CHILD: 2, CURRENT: 3}  # drawing order: current region on top

# Fields needed for the map's table and cache key (boundaries are loaded only on a cache miss).
LIGHT_FIELDS = ("pk", "code", "name", "updated_at", "area_m2", "official_area_m2", "centroid_lon", "centroid_lat",
                "bbox_min_lon", "bbox_min_lat", "bbox_max_lon", "bbox_max_lat")


@dataclass
class MapRegion:
    pk: int
    code: str
    name: str
    role: str
    area_m2: Decimal | None
    centroid_lon: float | None
    centroid_lat: float | None
    bbox: tuple[float, float, float, float] | None
    updated_at: object = None
    boundary: dict | None = None

    @property
    def url(self) -> str:
        return reverse("region-detail", kwargs={"code": self.code})

    @property
    def area_km2(self) -> Decimal | None:
        return None if self.area_m2 is None else Decimal(self.area_m2) / Decimal(1_000_000)

    @property
    def role_label(self) -> str:
        return {
            CURRENT: _("dieser Raum"),
            CHILD: _("untergeordneter Raum"),
            CONTEXT: _("benachbarter Raum"),
            ANCESTOR: _("übergeordneter Raum, enthält diesen Raum"),
        }[self.role]


@dataclass
class MapData:
    """A rendered map (``svg``) and its table alternative (``rows``)."""

    svg: SafeString
    rows: list[MapRegion] = field(default_factory=list)
    interactive: bool = False

    @property
    def roles(self) -> set[str]:
        return {r.role for r in self.rows}


def _light(row: dict, role: str) -> MapRegion:
    bbox = None
    if row["bbox_min_lon"] is not None:
        bbox = (row["bbox_min_lon"], row["bbox_min_lat"], row["bbox_max_lon"], row["bbox_max_lat"])
    return MapRegion(
        pk=row["pk"], code=row["code"], name=row["name"], role=role,
        area_m2=row["official_area_m2"] if row["official_area_m2"] is not None else row["area_m2"],
        centroid_lon=row["centroid_lon"], centroid_lat=row["centroid_lat"], bbox=bbox, updated_at=row["updated_at"],
    )


def regions_for_map(region, visible) -> list[MapRegion]:
    """What to draw for ``region``: itself and its children; if the children have
    no boundaries, its siblings for context; if neither it nor its children
    have one, its shallowest descendants that do (e.g. a city's districts);
    failing that, the nearest ancestor with a boundary (where the region lies).

    ``visible`` is the user's scoped region queryset (``Region.objects.for_user``);
    this function adds no permission logic of its own. Boundaries are not loaded.
    """
    with_boundary = visible.exclude(boundary=None)
    out: list[MapRegion] = []
    if region.boundary is not None:
        out.append(_light({k: getattr(region, k) for k in LIGHT_FIELDS}, CURRENT))
    children = [_light(r, CHILD) for r in with_boundary.filter(parent_id=region.pk).values(*LIGHT_FIELDS)]
    out.extend(children)
    if children:
        return out
    if out and region.parent_id is not None:
        siblings = with_boundary.filter(parent_id=region.parent_id).exclude(pk=region.pk).values(*LIGHT_FIELDS)
        out.extend(_light(r, CONTEXT) for r in siblings)
        return out
    if not out:
        below = with_boundary.subtree(region, include_self=False).order_by("depth", "code")
        first = below.values("depth")[:1]
        out.extend(_light(r, CHILD) for r in below.filter(depth=first).values(*LIGHT_FIELDS))
    if not out and region.parent_id is not None:
        nearest = with_boundary.ancestors(region).order_by("-depth").values(*LIGHT_FIELDS)[:1]
        out.extend(_light(r, ANCESTOR) for r in nearest)
    return out


# --- Projection and SVG -------------------------------------------------------------


def _geometry_bounds(regions: list[MapRegion]):
    boxes = [r.bbox for r in regions if r.bbox is not None]
    if len(boxes) == len(regions):
        return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
    geoms = [shape(r.boundary) for r in regions]
    return shapely.union_all(geoms).bounds if geoms else None


class Projection:
    def __init__(self, bounds):
        min_lon, min_lat, max_lon, max_lat = bounds
        self.k = math.cos(math.radians((min_lat + max_lat) / 2))
        self.min_lon, self.max_lat = min_lon, max_lat
        dx = max((max_lon - min_lon) * self.k, 1e-9)
        dy = max(max_lat - min_lat, 1e-9)
        inner_w = WIDTH - 2 * PADDING
        self.scale = min(inner_w / dx, (MAX_HEIGHT - 2 * PADDING) / dy)
        self.offset_x = PADDING + (inner_w - dx * self.scale) / 2
        self.height = math.ceil(dy * self.scale + 2 * PADDING)

    def __call__(self, coords: np.ndarray) -> np.ndarray:
        out = np.empty_like(coords)
        out[:, 0] = self.offset_x + (coords[:, 0] - self.min_lon) * self.k * self.scale
        out[:, 1] = PADDING + (self.max_lat - coords[:, 1]) * self.scale
        return out


def _ring_path(coords) -> str:
    pts = np.round(np.asarray(coords)[:-1], 1)  # the closing point is implied by Z
    if len(pts) < 3:
        return ""
    parts = [f"{_num(x)} {_num(y)}" for x, y in pts]
    return "M" + "L".join(parts) + "Z"


def _num(v: float) -> str:
    text = f"{v:.1f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text == "-0" else text


def path_data(boundary: dict, projection: Projection) -> str:
    geom = shapely.transform(shape(boundary), projection)
    geom = geom.simplify(SIMPLIFY_TOLERANCE, preserve_topology=True)
    polygons = geom.geoms if isinstance(geom, MultiPolygon) else [geom] if isinstance(geom, Polygon) else []
    out = []
    for poly in polygons:
        if poly.is_empty:
            continue
        out.append(_ring_path(poly.exterior.coords))
        out.extend(_ring_path(ring.coords) for ring in poly.interiors)
    return "".join(out)


def _svg(regions: list[MapRegion], *, title: str, description: str, id_prefix: str) -> tuple[str, bool]:
    bounds = _geometry_bounds(regions)
    projection = Projection(bounds)
    interactive = any(r.role != CURRENT for r in regions)
    title_id, desc_id, hatch_id = f"{id_prefix}-title", f"{id_prefix}-desc", f"{id_prefix}-hatch"
    # A map with links must not be role="img" (that would hide the links from
    # assistive technology); it is a labelled group then.
    role = "group" if interactive else "img"
    out = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" class="map" viewBox="0 0 {} {}" role="{}" '
            'aria-labelledby="{}" aria-describedby="{}" preserveAspectRatio="xMidYMid meet">',
            WIDTH, projection.height, role, title_id, desc_id,
        ),
        format_html('<title id="{}">{}</title><desc id="{}">{}</desc>', title_id, title, desc_id, description),
        format_html(
            '<defs><pattern id="{}" patternUnits="userSpaceOnUse" width="8" height="8" patternTransform="rotate(45)">'
            '<rect width="8" height="8" class="map-hatch-bg"/><line x1="0" y1="0" x2="0" y2="8" class="map-hatch-line"/>'
            "</pattern></defs>",
            hatch_id,
        ),
    ]
    has_children = any(r.role == CHILD for r in regions)
    for r in sorted(regions, key=lambda r: (ROLE_ORDER[r.role], r.code)):
        d = path_data(r.boundary, projection)
        if not d:
            continue
        label = f"{r.name} ({r.code})"
        if r.role == CURRENT:
            # Over its children the current region is only an outline; alone, it is hatched.
            fill = "none" if has_children else f"url(#{hatch_id})"
            out.append(
                format_html(
                    '<g class="map-region map-current"><title>{}</title>'
                    '<path d="{}" fill="{}" fill-rule="evenodd" vector-effect="non-scaling-stroke"/></g>',
                    _("%(name)s – dieser Raum") % {"name": label}, mark_safe(d), fill,
                )
            )
        else:
            out.append(
                format_html(
                    '<a href="{}" class="map-region map-{}"><title>{}</title>'
                    '<path d="{}" fill-rule="evenodd" vector-effect="non-scaling-stroke"/></a>',
                    r.url, r.role, label, mark_safe(d),
                )
            )
    out.append("</svg>")
    return "".join(out), interactive


def render_map(regions: list[MapRegion], *, title: str, description: str, id_prefix: str, load_boundaries) -> MapData:
    """Render (or take from the cache) the SVG for ``regions``.

    ``load_boundaries(pks) -> {pk: geometry}`` is called only on a cache miss.
    The cache key covers every region's last change, its role, the language and
    the element ids, so an edited boundary or name shows at once.
    """
    if not regions:
        return MapData(svg=mark_safe(""), rows=[])
    key_parts = [get_language() or "", id_prefix, title, description]
    key_parts += [f"{r.pk}:{r.role}:{r.updated_at.isoformat() if r.updated_at else ''}" for r in regions]
    key = "regions-map:" + _digest("|".join(key_parts))
    cached = cache.get(key)
    if cached is None:
        boundaries = load_boundaries([r.pk for r in regions])
        drawable = [r for r in regions if boundaries.get(r.pk)]
        for r in drawable:
            r.boundary = boundaries[r.pk]
        if drawable:
            svg, interactive = _svg(drawable, title=title, description=description, id_prefix=id_prefix)
        else:
            svg, interactive = "", False
        cached = (svg, interactive)
        cache.set(key, cached, CACHE_SECONDS)
    svg, interactive = cached
    return MapData(svg=mark_safe(svg), rows=sorted(regions, key=lambda r: (-ROLE_ORDER[r.role], r.code)),
                   interactive=interactive)


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def region_map(region, visible) -> MapData:
    """The map of ``region`` for its detail page (see ``regions_for_map``)."""
    regions = regions_for_map(region, visible)
    current = next((r for r in regions if r.role == CURRENT), None)
    children = sum(1 for r in regions if r.role == CHILD)
    context = sum(1 for r in regions if r.role == CONTEXT)
    ancestor = next((r for r in regions if r.role == ANCESTOR), None)
    title = _("Karte: %(name)s") % {"name": region.name}
    parts = []
    if current is not None:
        parts.append(_("Die Grenze von %(name)s, schraffiert und dick umrandet.") % {"name": region.name})
    if children:
        parts.append(_("%(count)s untergeordnete Räume mit durchgezogener Linie, jeweils als Link.") % {"count": children})
    if context:
        parts.append(_("%(count)s benachbarte Räume gestrichelt, jeweils als Link.") % {"count": context})
    if ancestor is not None:
        parts.append(
            _("Für %(name)s ist keine Grenze hinterlegt; gezeigt wird %(ancestor)s, worin der Raum liegt.")
            % {"name": region.name, "ancestor": ancestor.name}
        )
    parts.append(_("Die Tabelle unter der Karte enthält dieselben Räume."))

    def load(pks):
        others = [pk for pk in pks if pk != region.pk]
        loaded = dict(visible.filter(pk__in=others).values_list("pk", "boundary")) if others else {}
        if current is not None:
            loaded[region.pk] = region.boundary
        return loaded

    return render_map(regions, title=title, description=" ".join(parts), id_prefix=f"karte-{region.pk}",
                      load_boundaries=load)
