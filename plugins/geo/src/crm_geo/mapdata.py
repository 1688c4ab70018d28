"""What the map page draws: a viewport, markers (clustered when dense), geofences, the
graticule and the customers-per-city heat, all in SVG coordinates.

The map is plain server-drawn SVG over a vendored base layer, so it works on a server with
no internet. Markers stay cheap however many contacts there are: up to ``MAX_POINTS`` in
view are read and clustered with :func:`crm_geo.spatial.cluster_points`; beyond that the
database counts them per grid cell itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from crm_geo import sql as geo_sql
from crm_geo.geofences import list_geofences
from crm_geo.spatial import (
    BoundingBox,
    circle_polygon,
    cluster_points,
    project_equirectangular,
    split_antimeridian,
)
from crmcore.services.actor import Actor
from crmcore.services.records import engine_type, fetch, require

__all__ = ["MapView", "build_map", "parse_viewport"]

WIDTH, HEIGHT = 1000.0, 500.0
MAX_POINTS = 2000
CLUSTER_FROM = 150
CELLS_ACROSS = 40
MIN_SPAN, MAX_SPAN = 0.05, 360.0
GRID_STEPS = (90.0, 30.0, 10.0, 5.0, 2.0, 1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01)
HEAT_CITIES = 20


@dataclass
class Marker:
    x: float
    y: float
    r: float
    count: int
    title: str
    href: str


@dataclass
class MapView:
    """Everything the template needs; coordinates are SVG pixels of a WIDTH x HEIGHT map."""

    bbox: BoundingBox
    center: tuple[float, float]
    span: float
    total_in_view: int
    clustered: bool
    markers: list[Marker] = field(default_factory=list)
    fences: list[dict[str, Any]] = field(default_factory=list)
    base_images: list[tuple[float, float, float, float]] = field(default_factory=list)
    grid: list[dict[str, Any]] = field(default_factory=list)
    heat: list[dict[str, Any]] = field(default_factory=list)
    width: float = WIDTH
    height: float = HEIGHT

    def link(self, lat: float, lon: float, span: float) -> str:
        span = min(max(span, MIN_SPAN), MAX_SPAN)
        return f"/geo/map?center={lat:.5f},{lon:.5f}&span={span:g}"


def viewport(lat: float, lon: float, span: float) -> tuple[BoundingBox, tuple[float, float]]:
    """A 2:1 box ``span`` degrees wide around (lat, lon), kept between the poles."""
    span = min(max(span, MIN_SPAN), MAX_SPAN)
    half_lat = span / 4.0
    lat = min(max(lat, -90.0 + half_lat), 90.0 - half_lat)
    return BoundingBox(lat - half_lat, lat + half_lat, lon - span / 2, lon + span / 2), (lat, lon)


def parse_viewport(center: str | None, span: str | None) -> tuple[float, float, float] | None:
    """``center=lat,lon`` and ``span=degrees`` from the query string, or ``None``."""
    if not center:
        return None
    try:
        lat_text, lon_text = center.split(",", 1)
        lat, lon = float(lat_text), float(lon_text)
        width = float(span) if span else 10.0
    except ValueError:
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and math.isfinite(width)):
        return None
    return max(-90.0, min(90.0, lat)), (lon + 180.0) % 360.0 - 180.0, width


def _scope(actor: Actor) -> tuple[str, list[Any]]:
    if actor.sees_all_records:
        return "", []
    return " AND c.owner = {}", [actor.user_id]


async def _fit(actor: Actor) -> tuple[float, float, float]:
    scope, args = _scope(actor)
    rows = await fetch(
        "SELECT min(l.lat) AS s, max(l.lat) AS n, min(l.lon) AS w, max(l.lon) AS e, "
        "count(*) AS k FROM geo_location l JOIN contact c ON c.id = l.contact WHERE 1 = 1" + scope,
        args,
    )
    row = rows[0]
    if not row["k"]:
        return 20.0, 0.0, 360.0
    span = max((row["e"] - row["w"]) * 1.2, (row["n"] - row["s"]) * 2.4, 1.0)
    return (row["s"] + row["n"]) / 2, (row["w"] + row["e"]) / 2, span


def _in_view(bbox: BoundingBox) -> tuple[str, list[Any]]:
    return geo_sql.box_condition(engine_type(), split_antimeridian(bbox))


async def _markers(actor: Actor, view: MapView) -> None:
    index, index_args = _in_view(view.bbox)
    scope, scope_args = _scope(actor)
    where = f"FROM geo_location l JOIN contact c ON c.id = l.contact WHERE {index}{scope}"
    exact = " AND l.lat BETWEEN {} AND {}"
    args = [*index_args, *scope_args, view.bbox.min_lat, view.bbox.max_lat]
    count = (await fetch(f"SELECT count(*) AS n {where}{exact}", args))[0]["n"]
    view.total_in_view = int(count)
    cell = view.span / CELLS_ACROSS
    if count > MAX_POINTS:
        view.clustered = True
        rows = await fetch(
            f"SELECT count(*) AS n, avg(l.lat) AS lat, avg(l.lon) AS lon {where}{exact} "
            f"GROUP BY floor((l.lat + 90.0) / {cell!r}), floor((l.lon + 180.0) / {cell!r})",
            args,
        )
        groups = [(row["lat"], row["lon"], int(row["n"]), None) for row in rows]
    else:
        rows = await fetch(
            f"SELECT c.id, c.first_name, c.last_name, c.email, l.lat, l.lon {where}{exact} "
            "ORDER BY c.id",
            args,
        )
        if len(rows) > CLUSTER_FROM:
            view.clustered = True
            clusters = cluster_points([(r["lat"], r["lon"]) for r in rows], cell)
            groups = [
                (k.lat, k.lon, k.count, rows[k.members[0]] if k.count == 1 else None)
                for k in clusters
            ]
        else:
            groups = [(r["lat"], r["lon"], 1, r) for r in rows]
    for lat, lon, n, row in groups:
        x, y = project_equirectangular(lat, lon, view.bbox, WIDTH, HEIGHT)
        if row is not None:
            name = " ".join(p for p in (row["first_name"], row["last_name"]) if p)
            view.markers.append(
                Marker(
                    x, y, 4.0, 1, name or row["email"] or f"#{row['id']}", f"/contacts/{row['id']}"
                )
            )
        else:
            radius = min(5.0 + 2.5 * math.sqrt(n), 28.0)
            view.markers.append(Marker(x, y, radius, n, str(n), view.link(lat, lon, view.span / 4)))


def _points(ring: list[tuple[float, float]], bbox: BoundingBox) -> str:
    return " ".join(
        "{:.1f},{:.1f}".format(*project_equirectangular(lat, lon, bbox, WIDTH, HEIGHT))
        for lat, lon in ring
    )


async def _fences(actor: Actor, view: MapView) -> None:
    for fence in await list_geofences(actor, active=True):
        if fence["kind"] == "circle":
            try:
                ring = circle_polygon(
                    fence["center_lat"], fence["center_lon"], fence["radius_km"], n=64
                )
            except ValueError:
                continue
        else:
            ring = [(v[0], v[1]) for v in fence["polygon"]]
        view.fences.append(
            {"id": fence["id"], "name": fence["name"], "points": _points(ring, view.bbox)}
        )


def _base_and_grid(view: MapView) -> None:
    bbox = view.bbox
    scale = WIDTH / (bbox.max_lon - bbox.min_lon)
    for turn in (-360.0, 0.0, 360.0):
        west, east = -180.0 + turn, 180.0 + turn
        if east > bbox.min_lon and west < bbox.max_lon:
            x = (west - bbox.min_lon) * scale
            y = (bbox.max_lat - 90.0) * scale
            view.base_images.append((x, y, 360.0 * scale, 180.0 * scale))
    step = next((s for s in GRID_STEPS if view.span / s >= 4), GRID_STEPS[-1])
    lon = math.ceil(bbox.min_lon / step) * step
    while lon <= bbox.max_lon:
        label = (lon + 180.0) % 360.0 - 180.0
        view.grid.append(
            {
                "x1": (lon - bbox.min_lon) * scale,
                "y1": 0.0,
                "x2": (lon - bbox.min_lon) * scale,
                "y2": HEIGHT,
                "label": f"{label:g}°",
            }
        )
        lon += step
    lat = math.ceil(bbox.min_lat / step) * step
    while lat <= bbox.max_lat:
        y = (bbox.max_lat - lat) * scale
        view.grid.append({"x1": 0.0, "y1": y, "x2": WIDTH, "y2": y, "label": f"{lat:g}°"})
        lat += step


async def _heat(actor: Actor, view: MapView) -> None:
    """Customers per city (their contacts' city field), biggest first, with map circles."""
    scope, args = _scope(actor)
    rows = await fetch(
        "SELECT c.city, c.country, count(*) AS n, avg(l.lat) AS lat, avg(l.lon) AS lon "
        "FROM contact c JOIN geo_location l ON l.contact = c.id "
        "WHERE c.stage = 'customer' AND c.city <> ''" + scope + " GROUP BY c.city, c.country "
        f"ORDER BY count(*) DESC, c.city LIMIT {HEAT_CITIES}",
        args,
    )
    biggest = max((row["n"] for row in rows), default=1)
    for row in rows:
        x, y = project_equirectangular(row["lat"], row["lon"], view.bbox, WIDTH, HEIGHT)
        view.heat.append(
            {
                "city": row["city"],
                "country": row["country"],
                "customers": int(row["n"]),
                "x": x,
                "y": y,
                "r": 6.0 + 30.0 * math.sqrt(row["n"] / biggest),
                "visible": 0 <= x <= WIDTH and 0 <= y <= HEIGHT,
                "href": view.link(row["lat"], row["lon"], 1.0),
            }
        )


async def build_map(actor: Actor, wanted: tuple[float, float, float] | None) -> MapView:
    """The map around ``wanted`` (lat, lon, span in degrees), or fitted to the contacts."""
    require(actor, "geo.read")
    lat, lon, span = wanted if wanted is not None else await _fit(actor)
    bbox, center = viewport(lat, lon, span)
    view = MapView(
        bbox=bbox, center=center, span=bbox.max_lon - bbox.min_lon, total_in_view=0, clustered=False
    )
    _base_and_grid(view)
    await _markers(actor, view)
    await _fences(actor, view)
    await _heat(actor, view)
    return view
