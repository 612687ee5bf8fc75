"""Boundaries: GeoJSON validation and repair, geodesic areas, point lookups."""

import json
import math
from decimal import Decimal

import pytest

from regions.geo import GeometryError, geometry_contains, normalise_geometry
from regions.models import Region

# WGS84 ellipsoid
A = 6378137.0
F = 1 / 298.257223563
E2 = F * (2 - F)


def square_of_side(lon0: float, lat0: float, side_m: float) -> dict:
    """A square of ``side_m`` metres centred on (lon0, lat0), its degrees computed
    on the WGS84 ellipsoid (meridian and prime-vertical radii of curvature), so its
    true area is side_m² independently of the code under test."""
    phi = math.radians(lat0)
    w = 1 - E2 * math.sin(phi) ** 2
    m = A * (1 - E2) / w**1.5  # metres per radian of latitude
    n = A / math.sqrt(w)  # metres per radian of longitude / cos(phi)
    dlat = math.degrees(side_m / m) / 2
    dlon = math.degrees(side_m / (n * math.cos(phi))) / 2
    ring = [[lon0 - dlon, lat0 - dlat], [lon0 + dlon, lat0 - dlat], [lon0 + dlon, lat0 + dlat],
            [lon0 - dlon, lat0 + dlat], [lon0 - dlon, lat0 - dlat]]
    return {"type": "Polygon", "coordinates": [ring]}


def box(x0, y0, x1, y1) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def outer_ring_is_closed(geometry):
    polys = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    return all(list(ring[0]) == list(ring[-1]) for poly in polys for ring in poly)


class TestNormaliseGeometry:
    def test_square_kilometre_near_berlin(self):
        info = normalise_geometry(square_of_side(13.4, 52.52, 1000))
        assert info.repaired is None
        assert isinstance(info.area_m2, Decimal)
        assert float(info.area_m2) == pytest.approx(1_000_000, rel=0.005)
        assert info.centroid == pytest.approx((13.4, 52.52), abs=1e-6)
        minx, miny, maxx, maxy = info.bbox
        assert minx < 13.4 < maxx and miny < 52.52 < maxy

    def test_area_scales_with_latitude(self):
        # the same 1° × 1° cell is smaller towards the pole
        south = normalise_geometry(box(13, 47, 14, 48)).area_m2
        north = normalise_geometry(box(13, 54, 14, 55)).area_m2
        assert north < south

    def test_hole_subtracted(self):
        outer = square_of_side(13.4, 52.52, 1000)["coordinates"][0]
        hole = square_of_side(13.4, 52.52, 500)["coordinates"][0][::-1]
        info = normalise_geometry({"type": "Polygon", "coordinates": [outer, hole]})
        assert float(info.area_m2) == pytest.approx(750_000, rel=0.005)

    def test_multipolygon_sums_parts(self):
        a = square_of_side(13.4, 52.52, 1000)["coordinates"]
        b = square_of_side(13.5, 52.52, 1000)["coordinates"]
        info = normalise_geometry({"type": "MultiPolygon", "coordinates": [a, b]})
        assert info.geometry["type"] == "MultiPolygon"
        assert float(info.area_m2) == pytest.approx(2_000_000, rel=0.005)

    def test_stored_geometry_is_plain_json_counter_clockwise(self):
        clockwise = box(13, 52, 13.1, 52.1)
        clockwise["coordinates"][0] = clockwise["coordinates"][0][::-1]
        info = normalise_geometry(clockwise)
        json.dumps(info.geometry)  # lists, not tuples → serialisable
        ring = info.geometry["coordinates"][0]
        assert isinstance(ring, list) and isinstance(ring[0], list)
        signed = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False))
        assert signed > 0  # RFC 7946: exterior rings counter-clockwise

    def test_open_ring_closed_and_reported(self):
        ring = square_of_side(13.4, 52.52, 1000)["coordinates"][0][:-1]
        info = normalise_geometry({"type": "Polygon", "coordinates": [ring]})
        assert info.repaired == "offene Ringe geschlossen"
        assert outer_ring_is_closed(info.geometry)
        assert float(info.area_m2) == pytest.approx(1_000_000, rel=0.005)

    def test_bow_tie_repaired_with_message(self):
        bow_tie = {"type": "Polygon", "coordinates": [
            [[13.0, 52.0], [13.1, 52.1], [13.1, 52.0], [13.0, 52.1], [13.0, 52.0]]
        ]}
        info = normalise_geometry(bow_tie)
        assert info.repaired.startswith("repariert")
        assert "Self-intersection" in info.repaired
        assert info.geometry["type"] == "MultiPolygon"
        assert len(info.geometry["coordinates"]) == 2  # two triangles
        full = normalise_geometry(box(13.0, 52.0, 13.1, 52.1)).area_m2
        assert float(info.area_m2) == pytest.approx(float(full) / 2, rel=0.01)

    def test_zero_area_refused(self):
        line_like = {"type": "Polygon", "coordinates": [[[13.0, 52.0], [13.1, 52.1], [13.2, 52.2], [13.0, 52.0]]]}
        with pytest.raises(GeometryError):
            normalise_geometry(line_like)

    @pytest.mark.parametrize("geometry", [
        {"type": "Point", "coordinates": [13.4, 52.5]},
        {"type": "LineString", "coordinates": [[13.4, 52.5], [13.5, 52.5]]},
        None,
        "POLYGON((0 0, 1 0, 1 1, 0 0))",
    ])
    def test_non_polygon_refused(self, geometry):
        with pytest.raises(GeometryError, match="Polygon oder MultiPolygon"):
            normalise_geometry(geometry)

    def test_utm_coordinates_refused_with_clear_message(self):
        utm = box(389_000, 5_819_000, 390_000, 5_820_000)  # ETRS89 / UTM 33N metres
        with pytest.raises(GeometryError) as exc:
            normalise_geometry(utm)
        message = str(exc.value)
        assert "WGS84" in message and "EPSG:4326" in message

    def test_latitude_out_of_range_refused(self):
        with pytest.raises(GeometryError, match="WGS84"):
            normalise_geometry(box(13, 89, 14, 91))

    def test_malformed_coordinates_refused(self):
        with pytest.raises(GeometryError):
            normalise_geometry({"type": "Polygon", "coordinates": [[["a", "b"], [1]]]})


class TestContains:
    def test_geometry_contains_and_covers_the_edge(self):
        square = box(13.0, 52.0, 13.1, 52.1)
        assert geometry_contains(square, 13.05, 52.05)
        assert geometry_contains(square, 13.0, 52.05)  # on the boundary
        assert not geometry_contains(square, 13.2, 52.05)


@pytest.mark.django_db
class TestContainingPoint:
    @pytest.fixture
    def mapped(self, tree):
        shapes = {
            "CITY": box(13.0, 52.0, 14.0, 53.0),
            "D1": box(13.0, 52.0, 13.5, 53.0),
            "D2": box(13.5, 52.0, 14.0, 53.0),
            "P11": box(13.0, 52.0, 13.5, 52.5),
            "P12": box(13.0, 52.5, 13.5, 53.0),
            # P21 has no boundary
        }
        for code, geometry in shapes.items():
            region = tree[code]
            region.set_boundary(geometry)
            region.save()
        return tree

    def test_deepest_first(self, mapped):
        assert [r.code for r in Region.objects.containing_point(13.2, 52.2)] == ["P11", "D1", "CITY"]
        assert [r.code for r in Region.objects.containing_point(13.2, 52.8)] == ["P12", "D1", "CITY"]

    def test_regions_without_boundary_never_match(self, mapped):
        assert [r.code for r in Region.objects.containing_point(13.7, 52.2)] == ["D2", "CITY"]

    def test_outside_everything(self, mapped):
        assert list(Region.objects.containing_point(10.0, 50.0)) == []

    def test_bbox_hit_but_outside_shape(self, tree):
        # an L-shaped region: the point lies in its bounding box, not in the region
        l_shape = {"type": "Polygon", "coordinates": [[
            [13.0, 52.0], [13.2, 52.0], [13.2, 52.1], [13.1, 52.1], [13.1, 52.2], [13.0, 52.2], [13.0, 52.0]
        ]]}
        d1 = tree["D1"]
        d1.set_boundary(l_shape)
        d1.save()
        assert list(Region.objects.containing_point(13.15, 52.15)) == []
        assert [r.code for r in Region.objects.containing_point(13.05, 52.15)] == ["D1"]

    def test_set_boundary_stores_derived_columns(self, tree):
        d1 = tree["D1"]
        info = d1.set_boundary(square_of_side(13.4, 52.52, 1000))
        d1.save()
        d1.refresh_from_db()
        assert d1.area_m2 == info.area_m2
        assert d1.bbox_min_lon < 13.4 < d1.bbox_max_lon
        assert d1.centroid_lat == pytest.approx(52.52, abs=1e-6)


@pytest.mark.berlin
class TestBerlinBoundaries:
    def test_prognoseraeume_areas_match_official(self, berlin_dir):
        data = json.loads((berlin_dir / "prognoseraeume_2021.geojson").read_text(encoding="utf-8"))
        assert len(data["features"]) == 58
        for feature in data["features"]:
            info = normalise_geometry(feature["geometry"])
            official = feature["properties"]["GROESSE_M2"]
            assert float(info.area_m2) == pytest.approx(official, rel=0.01), feature["properties"]["PGR_ID"]

    def test_bezirke_add_up_to_berlin(self, berlin_dir):
        data = json.loads((berlin_dir / "bezirke.geojson").read_text(encoding="utf-8"))
        total = sum(float(normalise_geometry(f["geometry"]).area_m2) for f in data["features"])
        assert total == pytest.approx(891.1e6, rel=0.01)  # Berlin: 891.1 km²
