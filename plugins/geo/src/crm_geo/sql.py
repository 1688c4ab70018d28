"""Spatial SQL over ``geo_location`` for both engines, with Piccolo's ``{}`` placeholders.

Every query has two steps: an *index step* that selects a superset of candidates by
bounding box (the SQLite R*Tree, or the PostgreSQL btree on (lat, lon)), and an *exact step*
(haversine or ray casting) with the same formula and Earth radius as
:mod:`crm_geo.spatial`, in SQL for contact filters and in Python over the candidates
elsewhere, so both agree on who is inside. Nearest-N on PostgreSQL may use the GiST index on
``ll_to_earth`` instead. The R*Tree stores 32-bit floats rounded outwards, which only ever
adds candidates.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

from crm_geo.spatial import EARTH_RADIUS_KM, BoundingBox

__all__ = [
    "box_condition",
    "distance_expr",
    "distance_sql",
    "earth_order",
    "fence_condition",
    "has_earth_index",
]

# Padding of SQL boxes in degrees (about a centimetre): a point on the exact edge of a box
# must not be lost to rounding before the exact test decides.
BOX_PAD_DEG = 1e-7


def distance_expr(engine_type: str, lat: str, lon: str, alias: str = "l") -> str:
    """Great-circle distance in km from the point (``lat``, ``lon``: SQL expressions) to
    the row ``alias``: the very expression of :func:`crm_geo.spatial.haversine_km`."""
    clamp = "min" if engine_type == "sqlite" else "least"
    return (
        f"(2.0 * {EARTH_RADIUS_KM!r} * asin({clamp}(1.0, sqrt("
        f"power(sin((radians({alias}.lat) - radians({lat})) / 2.0), 2) "
        f"+ cos(radians({lat})) * cos(radians({alias}.lat)) "
        f"* power(sin(radians({alias}.lon - {lon}) / 2.0), 2)))))"
    )


def distance_sql(
    engine_type: str, lat: float, lon: float, alias: str = "l"
) -> tuple[str, list[Any]]:
    """:func:`distance_expr` from a fixed point, with its arguments."""
    return distance_expr(engine_type, "{}", "{}", alias), [float(lat), float(lat), float(lon)]


def box_condition(
    engine_type: str, boxes: Sequence[BoundingBox], alias: str = "l"
) -> tuple[str, list[Any]]:
    """Rows whose point may lie in any of ``boxes`` (each within [-180, 180]), by index."""
    args: list[Any] = []
    parts = []
    for box in boxes:
        args += [
            box.min_lat - BOX_PAD_DEG,
            box.max_lat + BOX_PAD_DEG,
            box.min_lon - BOX_PAD_DEG,
            box.max_lon + BOX_PAD_DEG,
        ]
        if engine_type == "sqlite":
            parts.append(
                "SELECT id FROM geo_location_rtree WHERE max_lat >= {} AND min_lat <= {} "
                "AND max_lon >= {} AND min_lon <= {}"
            )
        else:
            parts.append(
                f"({alias}.lat BETWEEN {{}} AND {{}} AND {alias}.lon BETWEEN {{}} AND {{}})"
            )
    if not parts:
        return "1 = 0", []
    if engine_type == "sqlite":
        return f"{alias}.id IN ({' UNION ALL '.join(parts)})", args
    return f"({' OR '.join(parts)})", args


def earth_order(lat: float, lon: float, alias: str = "l") -> tuple[str, list[Any]]:
    """PostgreSQL with earthdistance: an ORDER BY the GiST index answers nearest first."""
    return f"ll_to_earth({alias}.lat, {alias}.lon) <-> ll_to_earth({{}}, {{}})", [
        float(lat),
        float(lon),
    ]


def fence_condition(engine_type: str, alias: str = "l", fence: str = "g") -> str:
    """Whether the location ``alias`` lies inside the geofence row ``fence``: its boxes by
    index, then the circle's haversine or the polygon's ray casting over its edges."""
    if engine_type == "sqlite":
        index = (
            f"{alias}.id IN (SELECT r.id FROM geo_location_rtree r "
            f"WHERE r.max_lat >= {fence}.min_lat AND r.min_lat <= {fence}.max_lat "
            f"AND ((r.max_lon >= {fence}.min_lon AND r.min_lon <= {fence}.max_lon) "
            f"OR (r.max_lon >= {fence}.min_lon2 AND r.min_lon <= {fence}.max_lon2)))"
        )
    else:
        index = (
            f"{alias}.lat BETWEEN {fence}.min_lat AND {fence}.max_lat "
            f"AND ({alias}.lon BETWEEN {fence}.min_lon AND {fence}.max_lon "
            f"OR {alias}.lon BETWEEN {fence}.min_lon2 AND {fence}.max_lon2)"
        )
    circle = distance_expr(engine_type, f"{fence}.center_lat", f"{fence}.center_lon", alias)
    shifted = f"({alias}.lon - 360.0 * floor(({alias}.lon - {fence}.ref_lon + 180.0) / 360.0))"
    crossings = (
        f"(SELECT count(*) FROM geo_geofence_edge e WHERE e.geofence = {fence}.id "
        f"AND e.min_lat <= {alias}.lat AND {alias}.lat < e.max_lat "
        f"AND {shifted} < e.vert_lon + ({alias}.lat - e.vert_lat) * e.slope)"
    )
    return (
        f"{index} AND (({fence}.kind = 'circle' AND {circle} <= {fence}.radius_km) "
        f"OR ({fence}.kind = 'polygon' AND {crossings} % 2 = 1))"
    )


# id(database) -> (weak reference to it, answer); Database objects are not hashable.
_earth_index: dict[int, tuple[weakref.ref[Any], bool]] = {}


async def has_earth_index(database: Any) -> bool:
    """Whether the migration could create the earthdistance GiST index (asked once per
    open database: an extension appears or disappears only with a migration)."""
    if database.is_sqlite:
        return False
    cached = _earth_index.get(id(database))
    if cached is not None and cached[0]() is database:
        return cached[1]
    from crm_geo.tables import Location

    rows = await Location.raw(
        "SELECT 1 AS found FROM pg_indexes WHERE indexname = 'geo_location_earth' "
        "AND schemaname = current_schema()"
    )
    known = bool(rows)
    _earth_index[id(database)] = (weakref.ref(database), known)
    return known
