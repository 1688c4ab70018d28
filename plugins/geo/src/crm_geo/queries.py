"""Spatial queries over stored locations: radius, polygon, bounding box and nearest N.

Each runs one indexed SQL query (see :mod:`crm_geo.sql`) and returns :class:`Hit` values
sorted by distance (radius, nearest) or by id (polygon, box). Record scope holds as in the
core: an actor limited to their own records only finds contacts and companies they own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from crm_geo import sql as geo_sql
from crm_geo.spatial import (
    BoundingBox,
    bounding_box,
    haversine_km,
    point_in_polygon,
    polygon_bbox,
    split_antimeridian,
)
from crm_geo.validation import MAX_RADIUS_KM, check_km, check_lat, check_lon, check_polygon
from crmcore.db.runtime import current_database
from crmcore.errors import ValidationError
from crmcore.services.actor import Actor
from crmcore.services.records import engine_type, fetch, require

__all__ = [
    "KINDS",
    "Hit",
    "in_bbox",
    "nearest",
    "within_polygon",
    "within_radius",
]

KINDS = ("contact", "company")
READ = "geo.read"
_FIRST_NEAREST_KM = 5.0

# One statement per query, names included: every round trip costs more than the join
# (the exact distance test runs in Python over the candidates, keeping the SQL short to plan).
_SELECT = (
    "SELECT l.id AS location_id, l.contact, l.company, l.lat, l.lon, l.source, "
    "l.precision_m, l.label, c.first_name, c.last_name, c.email, co.name AS company_name "
    "FROM geo_location l LEFT JOIN contact c ON c.id = l.contact "
    "LEFT JOIN company co ON co.id = l.company"
)


@dataclass(frozen=True)
class Hit:
    """A contact or company found by a spatial query."""

    kind: str
    id: int
    name: str
    lat: float
    lon: float
    distance_km: float | None
    source: str
    precision_m: int
    label: str
    location_id: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(kinds))
    unknown = [kind for kind in chosen if kind not in KINDS]
    if unknown or not chosen:
        raise ValidationError.for_field("kind", f"must be among {', '.join(KINDS)}.")
    return chosen


def _scope(actor: Actor, kinds: tuple[str, ...]) -> tuple[list[str], list[Any]]:
    where = []
    args: list[Any] = []
    if kinds == ("contact",):
        where.append("l.contact IS NOT NULL")
    elif kinds == ("company",):
        where.append("l.company IS NOT NULL")
    if not actor.sees_all_records:
        where.append("COALESCE(c.owner, co.owner) = {}")
        args.append(actor.user_id)
    return where, args


async def _hits(rows: list[dict[str, Any]], distances: list[float | None]) -> list[Hit]:
    return [_hit(row, distance) for row, distance in zip(rows, distances, strict=True)]


def _hit(row: dict[str, Any], distance_km: float | None) -> Hit:
    if row["contact"] is not None:
        name = " ".join(p for p in (row["first_name"], row["last_name"]) if p)
        kind, ident, name = "contact", row["contact"], name or row["email"] or ""
    else:
        kind, ident, name = "company", row["company"], row["company_name"] or ""
    return Hit(
        kind=kind,
        id=ident,
        name=name,
        lat=row["lat"],
        lon=row["lon"],
        distance_km=distance_km,
        source=row["source"],
        precision_m=row["precision_m"],
        label=row["label"],
        location_id=row["location_id"],
    )


async def _radius_hits(
    lat: float, lon: float, km: float, where: list[str], args: list[Any], limit: int | None
) -> list[Hit]:
    """Index step in SQL, then the exact haversine over the candidates, nearest first.

    PostgreSQL uses the btree on (lat, lon) here even where the earthdistance index exists:
    measured on 100,000 contacts, planning the ``earth_box`` expression on every call cost
    more than the cube index saved. The GiST index serves :func:`nearest` instead.
    """
    index, index_args = geo_sql.box_condition(engine_type(), bounding_box(lat, lon, km))
    rows = await fetch(f"{_SELECT} WHERE {' AND '.join([index, *where])}", [*index_args, *args])
    found = []
    for row in rows:
        distance = haversine_km(lat, lon, row["lat"], row["lon"])
        if distance <= km:
            found.append((distance, row["location_id"], row))
    found.sort(key=lambda item: (item[0], item[1]))
    if limit is not None:
        found = found[:limit]
    return await _hits([row for _d, _i, row in found], [d for d, _i, _row in found])


async def within_radius(
    actor: Actor,
    lat: float,
    lon: float,
    km: float,
    *,
    kinds: Sequence[str] = KINDS,
    limit: int | None = None,
) -> list[Hit]:
    """Contacts and companies within ``km`` of (lat, lon), nearest first."""
    require(actor, READ)
    lat, lon, km = check_lat(lat), check_lon(lon), check_km(km)
    where, args = _scope(actor, _kinds(kinds))
    return await _radius_hits(lat, lon, km, where, args, limit)


async def nearest(
    actor: Actor,
    lat: float,
    lon: float,
    n: int,
    *,
    kinds: Sequence[str] = KINDS,
    max_km: float | None = None,
) -> list[Hit]:
    """The ``n`` contacts/companies nearest to (lat, lon), nearest first.

    Searches a growing radius (5 km, then four times wider) until it holds ``n`` points: the
    ``n`` nearest within a radius are the ``n`` nearest overall, so the answer is exact while
    each step stays an indexed radius query.
    """
    require(actor, READ)
    lat, lon = check_lat(lat), check_lon(lon)
    if not 1 <= n <= 1000:
        raise ValidationError.for_field("n", "must be between 1 and 1000.")
    limit_km = MAX_RADIUS_KM if max_km is None else check_km(max_km, "max_km")
    where, args = _scope(actor, _kinds(kinds))
    if await geo_sql.has_earth_index(current_database()):
        return await _nearest_by_earth(lat, lon, n, limit_km, where, args)
    radius = min(_FIRST_NEAREST_KM, limit_km)
    while True:
        hits = await _radius_hits(lat, lon, radius, where, args, n)
        if len(hits) >= n or radius >= limit_km:
            return hits
        radius = min(radius * 4.0, limit_km)


async def _nearest_by_earth(
    lat: float, lon: float, n: int, limit_km: float, where: list[str], args: list[Any]
) -> list[Hit]:
    """PostgreSQL with earthdistance: one index-ordered (KNN) scan of the GiST index.

    Straight-line distance through the Earth orders points exactly as great-circle distance
    does, so the first ``n`` rows are the ``n`` nearest; their distances are then computed
    with :func:`haversine_km` like everywhere else.
    """
    knn, knn_args = geo_sql.earth_order(lat, lon)
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    rows = await fetch(f"{_SELECT}{condition} ORDER BY {knn} LIMIT {int(n)}", [*args, *knn_args])
    found = sorted(
        (haversine_km(lat, lon, row["lat"], row["lon"]), row["location_id"], row) for row in rows
    )
    found = [item for item in found if item[0] <= limit_km]
    return await _hits([row for _d, _i, row in found], [d for d, _i, _row in found])


async def within_polygon(
    actor: Actor,
    polygon: Any,
    *,
    kinds: Sequence[str] = KINDS,
    limit: int | None = None,
) -> list[Hit]:
    """Contacts and companies inside a polygon of [lat, lon] vertices, by id."""
    require(actor, READ)
    vertices = check_polygon(polygon)
    where, args = _scope(actor, _kinds(kinds))
    index, index_args = geo_sql.box_condition(
        engine_type(), split_antimeridian(polygon_bbox(vertices))
    )
    rows = await fetch(
        f"{_SELECT} WHERE {' AND '.join([index, *where])} ORDER BY l.id", [*index_args, *args]
    )
    inside = [row for row in rows if point_in_polygon(row["lat"], row["lon"], vertices)]
    if limit is not None:
        inside = inside[:limit]
    return await _hits(inside, [None] * len(inside))


async def in_bbox(
    actor: Actor,
    min_lat: float,
    min_lon: float,
    max_lat: float,
    max_lon: float,
    *,
    kinds: Sequence[str] = KINDS,
    limit: int | None = None,
    center: tuple[float, float] | None = None,
) -> list[Hit]:
    """Contacts and companies inside a lat/lon box, by id.

    ``min_lon > max_lon`` means the box crosses the antimeridian (170 .. -170). With
    ``center`` each hit carries its distance from it.
    """
    require(actor, READ)
    min_lat, max_lat = check_lat(min_lat, "min_lat"), check_lat(max_lat, "max_lat")
    min_lon, max_lon = check_lon(min_lon, "min_lon"), check_lon(max_lon, "max_lon")
    if min_lat > max_lat:
        raise ValidationError.for_field("min_lat", "must not be above max_lat.")
    east = max_lon if max_lon >= min_lon else max_lon + 360.0
    boxes = split_antimeridian(BoundingBox(min_lat, max_lat, min_lon, east))
    where, args = _scope(actor, _kinds(kinds))
    index, index_args = geo_sql.box_condition(engine_type(), boxes)
    exact = " OR ".join("(l.lat BETWEEN {} AND {} AND l.lon BETWEEN {} AND {})" for _box in boxes)
    exact_args = [v for box in boxes for v in (box.min_lat, box.max_lat, box.min_lon, box.max_lon)]
    sql = f"{_SELECT} WHERE {' AND '.join([index, f'({exact})', *where])} ORDER BY l.id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = await fetch(sql, [*index_args, *exact_args, *args])
    distances = [
        haversine_km(center[0], center[1], row["lat"], row["lon"]) if center else None
        for row in rows
    ]
    return await _hits(rows, distances)


@dataclass(frozen=True)
class Center:
    """The point a radius query is measured from, and the record it stands for (if any)."""

    lat: float
    lon: float
    name: str
    kind: str | None = None
    id: int | None = None


async def resolve_center(
    actor: Actor,
    *,
    lat: float | None = None,
    lon: float | None = None,
    contact_id: int | None = None,
    company_id: int | None = None,
    city: str | None = None,
) -> Center:
    """A point given as coordinates, as a contact or company (its location), or as a city
    name (geocoded): "within 10 km of this point / this contact / Shiraz"."""
    from crm_geo.geocoding import geocode_text
    from crm_geo.locations import get_location, location_of

    given = [
        name
        for name, value in (
            ("lat", lat if lat is not None or lon is not None else None),
            ("contact_id", contact_id),
            ("company_id", company_id),
            ("city", city or None),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise ValidationError(
            "say where to measure from",
            {"lat": "give lat and lon, or contact_id, company_id or city (exactly one)."},
        )
    if given[0] == "lat":
        if lat is None or lon is None:
            raise ValidationError.for_field("lat", "lat and lon go together.")
        return Center(check_lat(lat), check_lon(lon), f"{lat:.5f}, {lon:.5f}")
    if given[0] == "city":
        from crmcore.services.records import plugin_manager

        place = await geocode_text(str(city), plugin_manager())
        if place is None:
            raise ValidationError.for_field("city", f"no known place is called {city!r}.")
        return Center(place.lat, place.lon, place.name)
    kind = "contact" if given[0] == "contact_id" else "company"
    ident = int(contact_id if kind == "contact" else company_id)  # type: ignore[arg-type]
    location = await location_of(**{f"{kind}_id": ident})
    if location is None:
        raise ValidationError.for_field(
            given[0], f"{kind} {ident} has no location yet; set one or geocode its address."
        )
    await get_location(location["id"], actor)  # the actor must be allowed to see it
    return Center(location["lat"], location["lon"], location["label"], kind, ident)
