"""Geofences: named circles or polygons (around a store, a district, a trade fair).

The one door for writing them. A fence is stored with its shape (for the API and the map),
its bounding box as index-friendly longitude ranges, and for polygons its edges ready for
ray casting in SQL (``geo_geofence_edge``), so the ``geo.inside_area`` filter is one query.
"""

from __future__ import annotations

from typing import Any

from crm_geo.spatial import (
    BoundingBox,
    bounding_box,
    haversine_km,
    point_in_polygon,
    polygon_bbox,
    split_antimeridian,
)
from crm_geo.sql import BOX_PAD_DEG
from crm_geo.tables import Geofence, GeofenceEdge
from crm_geo.validation import check_km, check_lat, check_lon, check_polygon
from crmcore.errors import NotFound, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import diff, record_audit
from crmcore.services.outbox import emit_event
from crmcore.services.records import fetch, iso, load_json, now, require
from crmcore.services.transaction import write_transaction

__all__ = [
    "KINDS",
    "contains",
    "create_geofence",
    "delete_geofence",
    "fences_at",
    "get_geofence",
    "list_geofences",
    "update_geofence",
]

READ = "geo.read"
WRITE = "geo.write"
PLUGIN = "geo"
KINDS = ("circle", "polygon")
AUDITED = ("name", "description", "kind", "center_lat", "center_lon", "radius_km", "polygon")
AUDITED_ALL = (*AUDITED, "active")


def as_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "kind": row["kind"],
        "center_lat": row["center_lat"],
        "center_lon": row["center_lon"],
        "radius_km": row["radius_km"],
        "polygon": [list(vertex) for vertex in load_json(row["polygon"], [])],
        "active": bool(row["active"]),
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def contains(fence: dict[str, Any], lat: float, lon: float) -> bool:
    """Whether (lat, lon) is inside the fence: the same test as the SQL filter."""
    if fence["kind"] == "circle":
        return (
            haversine_km(fence["center_lat"], fence["center_lon"], lat, lon) <= fence["radius_km"]
        )
    return point_in_polygon(lat, lon, [tuple(v) for v in fence["polygon"]])


def _text(value: Any, field: str, limit: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError.for_field(field, "must be text.")
    value = value.strip()
    if required and not value:
        raise ValidationError.for_field(field, "is required.")
    if len(value) > limit:
        raise ValidationError.for_field(field, f"must be at most {limit} characters.")
    return value


def _clean(data: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    merged = {**(current or {}), **data}
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}

    def attempt(field: str, fn: Any, *args: Any) -> None:
        try:
            clean[field] = fn(*args)
        except ValidationError as exc:
            errors.update(exc.errors)

    attempt("name", _text, merged.get("name"), "name", 200, True)
    attempt("description", _text, merged.get("description"), "description", 2000, False)
    kind = merged.get("kind") or ("polygon" if data.get("polygon") else "circle")
    if kind not in KINDS:
        errors["kind"] = f"must be one of {', '.join(KINDS)}."
    elif kind == "circle":
        attempt("center_lat", check_lat, merged.get("center_lat"), "center_lat")
        attempt("center_lon", check_lon, merged.get("center_lon"), "center_lon")
        attempt("radius_km", check_km, merged.get("radius_km"), "radius_km")
        if clean.get("radius_km") == 0.0:
            errors["radius_km"] = "must be more than 0."
        clean["polygon"] = []
    else:
        attempt("polygon", check_polygon, merged.get("polygon"), "polygon")
        clean.update(center_lat=None, center_lon=None, radius_km=None)
    active = merged.get("active", True)
    if not isinstance(active, bool):
        errors["active"] = "must be true or false."
    if errors:
        raise ValidationError("the geofence is not valid", errors)
    clean.update(kind=kind, active=active)
    if kind == "polygon":
        clean["polygon"] = [list(v) for v in clean["polygon"]]
    return clean


def _boxes(clean: dict[str, Any]) -> list[BoundingBox]:
    if clean["kind"] == "circle":
        return bounding_box(clean["center_lat"], clean["center_lon"], clean["radius_km"])
    return split_antimeridian(polygon_bbox([tuple(v) for v in clean["polygon"]]))


def _index_columns(clean: dict[str, Any]) -> dict[str, float]:
    boxes = _boxes(clean)
    second = boxes[1] if len(boxes) > 1 else None
    return {
        "ref_lon": float(clean["polygon"][0][1]) if clean["kind"] == "polygon" else 0.0,
        "min_lat": min(b.min_lat for b in boxes) - BOX_PAD_DEG,
        "max_lat": max(b.max_lat for b in boxes) + BOX_PAD_DEG,
        "min_lon": boxes[0].min_lon - BOX_PAD_DEG,
        "max_lon": boxes[0].max_lon + BOX_PAD_DEG,
        "min_lon2": second.min_lon - BOX_PAD_DEG if second else 1.0,
        "max_lon2": second.max_lon + BOX_PAD_DEG if second else 0.0,
    }


def _edges(fence_id: int, polygon: list[list[float]]) -> list[GeofenceEdge]:
    """The polygon's non-horizontal edges, as :func:`crm_geo.sql.fence_condition` reads them."""
    edges = []
    prev_lat, prev_lon = polygon[-1]
    for vert_lat, vert_lon in polygon:
        if vert_lat != prev_lat:
            edges.append(
                GeofenceEdge(
                    geofence=fence_id,
                    min_lat=min(vert_lat, prev_lat),
                    max_lat=max(vert_lat, prev_lat),
                    vert_lat=vert_lat,
                    vert_lon=vert_lon,
                    slope=(prev_lon - vert_lon) / (prev_lat - vert_lat),
                )
            )
        prev_lat, prev_lon = vert_lat, vert_lon
    return edges


async def _row(fence_id: int) -> dict[str, Any] | None:
    rows = await fetch("SELECT * FROM geo_geofence WHERE id = {}", [int(fence_id)])
    return rows[0] if rows else None


async def get_geofence(fence_id: int, actor: Actor) -> dict[str, Any]:
    require(actor, READ)
    row = await _row(fence_id)
    if row is None:
        raise NotFound(f"geofence {fence_id} does not exist")
    return as_dict(row)


async def list_geofences(actor: Actor, *, active: bool | None = None) -> list[dict[str, Any]]:
    """Every geofence by name (there are tens, not millions)."""
    require(actor, READ)
    sql = "SELECT * FROM geo_geofence"
    args: list[Any] = []
    if active is not None:
        sql += " WHERE active = {}"
        args.append(active)
    return [as_dict(row) for row in await fetch(sql + " ORDER BY name, id", args)]


async def fences_at(lat: float, lon: float) -> list[dict[str, Any]]:
    """Active geofences containing (lat, lon): those in its latitude band, tested exactly."""
    rows = await fetch(
        "SELECT * FROM geo_geofence WHERE active = {} AND min_lat <= {} AND max_lat >= {} "
        "ORDER BY id",
        [True, lat, lat],
    )
    fences = [as_dict(row) for row in rows]
    return [fence for fence in fences if contains(fence, lat, lon)]


async def _store(fence_id: int | None, clean: dict[str, Any], actor: Actor) -> int:
    values = {**clean, **_index_columns(clean), "updated_at": now()}
    if fence_id is None:
        rows = await Geofence.insert(Geofence(**values, created_by=actor.user_id))
        fence_id = int(rows[0]["id"])
    else:
        await Geofence.update(values).where(Geofence.id == fence_id)
        await GeofenceEdge.delete().where(GeofenceEdge.geofence == fence_id)
    if clean["kind"] == "polygon":
        await GeofenceEdge.insert(*_edges(fence_id, clean["polygon"]))
    return fence_id


async def create_geofence(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """A new circle (center_lat, center_lon, radius_km) or polygon ([[lat, lon], …])."""
    require(actor, WRITE)
    clean = _clean(data, None)
    async with write_transaction():
        fence_id = await _store(None, clean, actor)
        fence = as_dict(await _row(fence_id))  # type: ignore[arg-type]
        await record_audit(
            table="geo_geofence",
            record_id=fence_id,
            action="create",
            changes=diff(None, {k: fence[k] for k in AUDITED_ALL}),
            actor=actor,
            plugin=PLUGIN,
        )
        await emit_event("geo.geofence_created", fence)
    return fence


async def update_geofence(fence_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Change a fence; switching kind drops the other kind's shape."""
    require(actor, WRITE)
    before = await get_geofence(fence_id, actor)
    current = dict(before)
    if data.get("kind") and data["kind"] != before["kind"]:
        for key in ("center_lat", "center_lon", "radius_km", "polygon"):
            current.pop(key, None)
    clean = _clean(data, current)
    async with write_transaction():
        await _store(fence_id, clean, actor)
        fence = as_dict(await _row(fence_id))  # type: ignore[arg-type]
        changes = diff({k: before[k] for k in AUDITED_ALL}, {k: fence[k] for k in AUDITED_ALL})
        await record_audit(
            table="geo_geofence",
            record_id=fence_id,
            action="update",
            changes=changes,
            actor=actor,
            plugin=PLUGIN,
        )
        await emit_event("geo.geofence_updated", fence)
    return fence


async def delete_geofence(fence_id: int, actor: Actor) -> None:
    """Delete a fence, its edges and who was inside it (cascade)."""
    require(actor, WRITE)
    before = await get_geofence(fence_id, actor)
    async with write_transaction():
        await Geofence.delete().where(Geofence.id == fence_id)
        await record_audit(
            table="geo_geofence",
            record_id=fence_id,
            action="delete",
            changes=diff({k: before[k] for k in AUDITED_ALL}, None),
            actor=actor,
            plugin=PLUGIN,
        )
        await emit_event("geo.geofence_deleted", before)
