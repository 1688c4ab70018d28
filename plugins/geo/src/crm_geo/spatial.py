"""Spherical geometry for radius queries, geofences and map drawing.

Everything works in WGS84 degrees on a spherical Earth of mean radius. The sphere is off from
the ellipsoid by at most 0.5 %, far less than the city-level precision of offline geocoding,
and it keeps every formula short enough to check by hand and to mirror in SQL.

Longitude conventions, because the antimeridian is where map code goes wrong:

- Functions that *return* positions normalise longitude to [-180, 180), except where a ring
  must stay continuous (:func:`circle_polygon`), which says so.
- Functions that *take* a polygon or a map viewport read its longitudes in the polygon's own
  frame: a geofence around Fiji may use 175..185 and still contain a contact at -178.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "EARTH_RADIUS_KM",
    "BoundingBox",
    "Cluster",
    "bounding_box",
    "circle_polygon",
    "cluster_points",
    "destination_point",
    "haversine_km",
    "normalize_lon",
    "point_in_polygon",
    "polygon_bbox",
    "project_equirectangular",
    "split_antimeridian",
]

EARTH_RADIUS_KM = 6371.0088
"""IUGG mean Earth radius; the same constant must be used wherever distances are compared."""

Polygon = Sequence[tuple[float, float]]
"""Vertices as (lat, lon) pairs; the ring may be open or closed (first vertex repeated)."""


class BoundingBox(NamedTuple):
    """A latitude/longitude rectangle in degrees, with ``min_lon <= max_lon``.

    Boxes never wrap. Boxes used in SQL stay within [-180, 180] so that
    ``lon BETWEEN min_lon AND max_lon`` is right; a region across the antimeridian is two
    such boxes (:func:`split_antimeridian`). Boxes describing a polygon or a map viewport may
    instead run past 180 in one continuous frame, which is what drawing needs.
    """

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    def contains(self, lat: float, lon: float) -> bool:
        """Whether the point lies inside or on the edge of the box."""
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon


@dataclass(frozen=True, slots=True)
class Cluster:
    """Points of one grid cell, drawn as a single marker with a count on the map."""

    lat: float
    lon: float
    count: int
    members: tuple[int, ...]
    """Indices into the input sequence, so a click on the marker can list the contacts."""


def normalize_lon(lon: float) -> float:
    """Bring a longitude into [-180, 180), the range stored in the database."""
    return (lon + 180.0) % 360.0 - 180.0


def _lon_near(lon: float, reference: float) -> float:
    """Shift ``lon`` by whole turns so it lies within half a turn of ``reference``."""
    return reference + (lon - reference + 180.0) % 360.0 - 180.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres.

    Haversine rather than the spherical law of cosines because it stays accurate for the
    short distances ("within 2 km of the office") that matter most in a CRM.
    """
    phi1 = math.radians(lat1)
    phi2 = math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2.0
    half_dlambda = math.radians(lon2 - lon1) / 2.0
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def destination_point(
    lat: float, lon: float, bearing_deg: float, distance_km: float
) -> tuple[float, float]:
    """The point reached by travelling ``distance_km`` from (lat, lon) on an initial bearing.

    Used to draw geofence circles; the returned longitude is normalised to [-180, 180).
    """
    phi1 = math.radians(lat)
    lambda1 = math.radians(lon)
    theta = math.radians(bearing_deg)
    delta = distance_km / EARTH_RADIUS_KM
    sin_phi2 = math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * math.cos(theta)
    phi2 = math.asin(max(-1.0, min(1.0, sin_phi2)))
    lambda2 = lambda1 + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(phi1),
        math.cos(delta) - math.sin(phi1) * sin_phi2,
    )
    return math.degrees(phi2), normalize_lon(math.degrees(lambda2))


def bounding_box(lat: float, lon: float, radius_km: float) -> list[BoundingBox]:
    """Boxes that together contain every point within ``radius_km`` of (lat, lon).

    This is the index-friendly prefilter of a radius query: select rows inside any of the
    boxes, then keep those whose :func:`haversine_km` is within the radius.

    Returns one box normally and two when the circle crosses the antimeridian (one on each
    side, so no box ever wraps). When the circle reaches a pole, the single box spans every
    longitude, because near a pole every meridian is close. The longitude half-width is the
    exact tangent-meridian width ``asin(sin r / cos lat)``, not the common ``r / cos lat``
    approximation, which is too narrow for large radii.
    """
    if radius_km < 0:
        raise ValueError(f"radius_km must not be negative, got {radius_km}")
    angular = radius_km / EARTH_RADIUS_KM
    phi = math.radians(lat)
    min_lat = math.degrees(phi - angular)
    max_lat = math.degrees(phi + angular)
    if max_lat >= 90.0 or min_lat <= -90.0:
        return [BoundingBox(max(min_lat, -90.0), min(max_lat, 90.0), -180.0, 180.0)]
    half_width = math.degrees(math.asin(math.sin(angular) / math.cos(phi)))
    return split_antimeridian(BoundingBox(min_lat, max_lat, lon - half_width, lon + half_width))


def split_antimeridian(box: BoundingBox) -> list[BoundingBox]:
    """Turn a box in any continuous longitude frame into one or two boxes within [-180, 180].

    Use it before putting a polygon's or a viewport's box into SQL.
    """
    if box.max_lon - box.min_lon >= 360.0:
        return [BoundingBox(box.min_lat, box.max_lat, -180.0, 180.0)]
    shift = normalize_lon(box.min_lon) - box.min_lon
    min_lon = box.min_lon + shift
    max_lon = box.max_lon + shift
    if max_lon <= 180.0:
        return [BoundingBox(box.min_lat, box.max_lat, min_lon, max_lon)]
    return [
        BoundingBox(box.min_lat, box.max_lat, min_lon, 180.0),
        BoundingBox(box.min_lat, box.max_lat, -180.0, max_lon - 360.0),
    ]


def point_in_polygon(lat: float, lon: float, polygon: Polygon) -> bool:
    """Whether (lat, lon) lies inside a geofence polygon, by ray casting.

    The polygon is treated as planar in lat/lon, which is what users draw on a map. Its
    longitudes must be continuous (no jump from 179 to -179), and the point's longitude is
    read in the polygon's frame, so fences across the antimeridian work. Fences spanning
    more than 180 degrees of longitude or enclosing a pole are not supported. Points exactly
    on an edge may fall either way.
    """
    if len(polygon) < 3:
        raise ValueError(f"a polygon needs at least 3 vertices, got {len(polygon)}")
    lon = _lon_near(lon, polygon[0][1])
    inside = False
    prev_lat, prev_lon = polygon[-1]
    for vert_lat, vert_lon in polygon:
        if (vert_lat > lat) != (prev_lat > lat):
            crossing_lon = vert_lon + (lat - vert_lat) * (prev_lon - vert_lon) / (
                prev_lat - vert_lat
            )
            if lon < crossing_lon:
                inside = not inside
        prev_lat, prev_lon = vert_lat, vert_lon
    return inside


def polygon_bbox(polygon: Polygon) -> BoundingBox:
    """The smallest box around a polygon, to prefilter candidates before ray casting.

    Longitudes are in the polygon's own frame, so a fence across the antimeridian gives a
    box past 180 that fits it on a map; pass it through :func:`split_antimeridian` for SQL.
    """
    if not polygon:
        raise ValueError("cannot take the bounding box of an empty polygon")
    lats = [vertex[0] for vertex in polygon]
    lons = [vertex[1] for vertex in polygon]
    return BoundingBox(min(lats), max(lats), min(lons), max(lons))


def circle_polygon(
    lat: float, lon: float, radius_km: float, n: int = 32
) -> list[tuple[float, float]]:
    """An open ring of ``n`` vertices approximating a circle, for drawing radius geofences.

    Longitudes stay continuous around the centre (they may pass 180 or -180) so the ring
    draws without a seam and works with :func:`point_in_polygon`. A circle enclosing a pole
    has no such ring, so it is refused rather than drawn inside out.
    """
    if n < 3:
        raise ValueError(f"a circle needs at least 3 vertices, got n={n}")
    if radius_km <= 0:
        raise ValueError(f"radius_km must be positive, got {radius_km}")
    distance_to_pole_km = math.radians(90.0 - abs(lat)) * EARTH_RADIUS_KM
    if radius_km >= distance_to_pole_km:
        raise ValueError(
            f"a {radius_km} km circle around ({lat}, {lon}) encloses a pole; "
            "use a smaller radius or a latitude band instead"
        )
    ring = []
    for step in range(n):
        vert_lat, vert_lon = destination_point(lat, lon, 360.0 * step / n, radius_km)
        ring.append((vert_lat, _lon_near(vert_lon, lon)))
    return ring


def cluster_points(points: Iterable[tuple[float, float]], cell_deg: float) -> list[Cluster]:
    """Group (lat, lon) points into grid cells of ``cell_deg`` degrees for map markers.

    A fixed grid is stable while panning (a point never jumps between clusters as the
    viewport moves), and it is linear in the number of points. Clusters come biggest first;
    each centroid is the mean of its members, so the marker sits where the contacts are.
    """
    if cell_deg <= 0:
        raise ValueError(f"cell_deg must be positive, got {cell_deg}")
    cells: dict[tuple[int, int], list[tuple[int, float, float]]] = {}
    for index, (lat, lon) in enumerate(points):
        lon = normalize_lon(lon)
        key = (math.floor((lat + 90.0) / cell_deg), math.floor((lon + 180.0) / cell_deg))
        cells.setdefault(key, []).append((index, lat, lon))
    clusters = [
        Cluster(
            lat=sum(member[1] for member in members) / len(members),
            lon=sum(member[2] for member in members) / len(members),
            count=len(members),
            members=tuple(member[0] for member in members),
        )
        for members in cells.values()
    ]
    clusters.sort(key=lambda cluster: (-cluster.count, cluster.lat, cluster.lon))
    return clusters


def project_equirectangular(
    lat: float, lon: float, bbox: BoundingBox, width: float, height: float
) -> tuple[float, float]:
    """SVG (x, y) of a point on a ``width`` x ``height`` map showing ``bbox``.

    Equirectangular because it is what tile-free SVG maps and background images of the world
    use, and it is invertible by eye. ``y`` grows downwards as in SVG. A viewport across the
    antimeridian is given in one continuous frame (e.g. ``min_lon=170, max_lon=190``); the
    point's longitude is read in that frame. Points outside the box map outside the canvas.
    """
    lat_span = bbox.max_lat - bbox.min_lat
    lon_span = bbox.max_lon - bbox.min_lon
    if lat_span <= 0 or lon_span <= 0:
        raise ValueError(f"the map viewport {bbox} has no area")
    lon = _lon_near(lon, (bbox.min_lon + bbox.max_lon) / 2.0)
    x = (lon - bbox.min_lon) / lon_span * width
    y = (bbox.max_lat - lat) / lat_span * height
    return x, y
