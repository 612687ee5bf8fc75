"""Boundaries: GeoJSON geometries (RFC 7946, WGS84) validated with shapely.

No PostGIS is required: boundaries are stored as GeoJSON (JSONB) with a
bounding box in indexed columns; point lookups prefilter by bbox in SQL and
test exactly with shapely.
"""

import math
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape
from shapely.validation import explain_validity, make_valid

EARTH_RADIUS_M = 6378137.0  # WGS84 semi-major axis, as used by common GIS tools


class GeometryError(ValueError):
    """A geometry that cannot be used, with a German message for the user."""


@dataclass
class GeometryInfo:
    geometry: dict
    area_m2: Decimal
    centroid: tuple[float, float]
    bbox: tuple[float, float, float, float]
    repaired: str | None  # why it had to be repaired, or None


def _check_coordinates(geom) -> None:
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        raise GeometryError(
            "Koordinaten außerhalb von WGS84 (Längengrad −180…180, Breitengrad −90…90): "
            "die Datei ist wohl in einem anderen Koordinatensystem (z. B. ETRS89/UTM) – bitte nach EPSG:4326 umrechnen."
        )


def _polygonal(geom):
    """Keep only the polygonal parts of a (repaired) geometry."""
    if isinstance(geom, (Polygon, MultiPolygon)):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, (Polygon, MultiPolygon))]
    polys = []
    for p in parts:
        polys.extend(p.geoms if isinstance(p, MultiPolygon) else [p])
    return MultiPolygon(polys) if polys else None


def _close_rings(geometry: dict) -> tuple[dict, bool]:
    """GeoJSON demands closed rings; close open ones (and say so)."""
    closed_any = False

    def close(ring):
        nonlocal closed_any
        if len(ring) >= 3 and list(ring[0]) != list(ring[-1]):
            closed_any = True
            return list(ring) + [ring[0]]
        return ring

    if geometry.get("type") == "Polygon":
        return {**geometry, "coordinates": [close(r) for r in geometry["coordinates"]]}, closed_any
    if geometry.get("type") == "MultiPolygon":
        return {**geometry, "coordinates": [[close(r) for r in poly] for poly in geometry["coordinates"]]}, closed_any
    return geometry, False


def normalise_geometry(geometry: dict) -> GeometryInfo:
    """Validate a GeoJSON geometry; repair what can be repaired, refuse the rest."""
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        raise GeometryError(f"Grenze muss ein Polygon oder MultiPolygon sein, nicht {kind!r}.")
    geometry, closed = _close_rings(geometry)
    try:
        geom = shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise GeometryError(f"Ungültige Koordinaten: {exc}") from exc
    if geom.is_empty:
        raise GeometryError("Die Grenze ist leer.")
    _check_coordinates(geom)
    repaired = "offene Ringe geschlossen" if closed else None
    if not geom.is_valid:
        reason = explain_validity(geom)
        fixed = _polygonal(make_valid(geom))
        if fixed is None or fixed.is_empty or fixed.area == 0:
            raise GeometryError(f"Ungültige Geometrie, nicht reparierbar: {reason}")
        geom = fixed
        repaired = f"repariert ({reason})"
    if geom.area == 0:
        raise GeometryError("Die Grenze hat keine Fläche.")
    geom = shapely.geometry.polygon.orient(geom, 1.0) if isinstance(geom, Polygon) else MultiPolygon(
        [shapely.geometry.polygon.orient(p, 1.0) for p in geom.geoms]
    )
    centroid = geom.centroid
    return GeometryInfo(
        geometry=mapping(geom) | {"coordinates": _lists(mapping(geom)["coordinates"])},
        area_m2=Decimal(str(round(geodesic_area(geom), 2))),
        centroid=(centroid.x, centroid.y),
        bbox=geom.bounds,
        repaired=repaired,
    )


def _lists(coords):
    """shapely's mapping() gives tuples; store plain JSON lists."""
    if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], (int, float)):
        return list(coords)
    return [_lists(c) for c in coords]


def _ring_area(coords) -> float:
    """Area of a ring on the sphere (Chamberlain & Duquette, 2007), in m²."""
    n = len(coords)
    if n < 3:
        return 0.0
    total = 0.0
    for i in range(n):
        lon1, lat1 = coords[i - 1][0], coords[i - 1][1]
        lon2, lat2 = coords[i][0], coords[i][1]
        total += math.radians(lon2 - lon1) * (2 + math.sin(math.radians(lat1)) + math.sin(math.radians(lat2)))
    return abs(total * EARTH_RADIUS_M * EARTH_RADIUS_M / 2.0)


def geodesic_area(geom) -> float:
    polys = geom.geoms if isinstance(geom, MultiPolygon) else [geom]
    area = 0.0
    for p in polys:
        area += _ring_area(list(p.exterior.coords))
        for hole in p.interiors:
            area -= _ring_area(list(hole.coords))
    return area


@lru_cache(maxsize=4096)
def _prepared(geometry_json: str):
    import json

    geom = shape(json.loads(geometry_json))
    shapely.prepare(geom)
    return geom


def geometry_contains(geometry: dict, lon: float, lat: float) -> bool:
    import json

    return _prepared(json.dumps(geometry, sort_keys=True)).covers(Point(lon, lat))


def simplify_geometry(geometry: dict, tolerance_deg: float, precision: int = 5) -> dict:
    """Simplified copy for shipping/display (topology kept, coordinates rounded)."""
    geom = shape(geometry).simplify(tolerance_deg, preserve_topology=True)
    geom = shapely.set_precision(geom, 10 ** -precision)
    if not geom.is_valid:
        geom = _polygonal(make_valid(geom))
    return {"type": geom.geom_type, "coordinates": _lists(mapping(geom)["coordinates"])}
