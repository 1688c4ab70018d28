"""Locations of contacts and companies: the one door for writing them.

A contact or company has at most one location, the best position the CRM knows, with its
source (``geocoded`` from the address, ``gps`` from a check-in, ``manual``, ``ip``) and
precision. Every write validates, runs in one transaction with its audit entry and outbox
event (``geo.location_set`` / ``geo.location_deleted``).
"""

from __future__ import annotations

from typing import Any

from crm_geo.tables import Location
from crm_geo.validation import check_lat, check_lon
from crmcore.errors import Conflict, NotFound, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import diff, record_audit
from crmcore.services.outbox import emit_event
from crmcore.services.pagination import check_limit, decode_cursor, encode_cursor
from crmcore.services.records import fetch, iso, now, require
from crmcore.services.transaction import write_transaction

__all__ = [
    "READ",
    "SOURCES",
    "WRITE",
    "create_location",
    "delete_location",
    "get_location",
    "list_locations",
    "location_of",
    "save_location",
    "update_location",
]

READ = "geo.read"
WRITE = "geo.write"
PLUGIN = "geo"
SOURCES = ("geocoded", "gps", "manual", "ip")
MAX_PRECISION_M = 20_000_000
FIELDS = ("contact_id", "company_id", "lat", "lon", "source", "precision_m", "label")


def as_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "contact_id": row["contact"],
        "company_id": row["company"],
        "lat": row["lat"],
        "lon": row["lon"],
        "source": row["source"],
        "precision_m": row["precision_m"],
        "label": row["label"],
        "recorded_at": iso(row["recorded_at"]),
    }


async def _row(location_id: int) -> dict[str, Any] | None:
    rows = await fetch("SELECT * FROM geo_location WHERE id = {}", [int(location_id)])
    return rows[0] if rows else None


async def _owner_of(kind: str, ident: int) -> tuple[bool, int | None]:
    table = "contact" if kind == "contact" else "company"
    rows = await fetch(f"SELECT owner FROM {table} WHERE id = {{}}", [int(ident)])
    return (True, rows[0]["owner"]) if rows else (False, None)


async def _check_target(kind: str, ident: int, actor: Actor) -> None:
    exists, owner = await _owner_of(kind, ident)
    if not exists or not (actor.sees_all_records or owner == actor.user_id):
        raise NotFound(f"{kind} {ident} does not exist")


def _target(data: dict[str, Any]) -> tuple[str, int]:
    contact_id, company_id = data.get("contact_id"), data.get("company_id")
    if (contact_id is None) == (company_id is None):
        raise ValidationError(
            "a location belongs to a contact or to a company",
            {"contact_id": "give contact_id or company_id, not both and not neither."},
        )
    kind, value = ("contact", contact_id) if contact_id is not None else ("company", company_id)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError.for_field(f"{kind}_id", "must be an id (a whole number).")
    return kind, value


def _clean(data: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    merged = {**(current or {}), **data}
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for field, check in (("lat", check_lat), ("lon", check_lon)):
        try:
            clean[field] = check(merged.get(field), field)
        except ValidationError as exc:
            errors.update(exc.errors)
    source = merged.get("source") or "manual"
    if source not in SOURCES:
        errors["source"] = f"must be one of {', '.join(SOURCES)}."
    precision = merged.get("precision_m") or 0
    if isinstance(precision, bool) or not isinstance(precision, int | float):
        errors["precision_m"] = "must be a number of metres."
    elif not 0 <= precision <= MAX_PRECISION_M:
        errors["precision_m"] = f"must be between 0 and {MAX_PRECISION_M} metres."
    label = merged.get("label") or ""
    if not isinstance(label, str) or len(label) > 300:
        errors["label"] = "must be text of at most 300 characters."
    if errors:
        raise ValidationError("the location is not valid", errors)
    clean.update(source=source, precision_m=int(precision), label=label.strip())
    return clean


async def location_of(*, contact_id: int | None = None, company_id: int | None = None) -> Any:
    """The stored location of a contact or company (a dict), or ``None``."""
    column, value = ("contact", contact_id) if contact_id is not None else ("company", company_id)
    rows = await fetch(f"SELECT * FROM geo_location WHERE {column} = {{}}", [int(value)])
    return as_dict(rows[0]) if rows else None


async def get_location(location_id: int, actor: Actor) -> dict[str, Any]:
    require(actor, READ)
    row = await _row(location_id)
    if row is None:
        raise NotFound(f"location {location_id} does not exist")
    kind, ident = ("contact", row["contact"]) if row["contact"] else ("company", row["company"])
    await _check_target(kind, ident, actor)
    return as_dict(row)


async def list_locations(
    actor: Actor,
    *,
    contact_id: int | None = None,
    company_id: int | None = None,
    source: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], str | None]:
    """Locations newest first, a keyset page at a time; returns (items, next cursor)."""
    require(actor, READ)
    limit = check_limit(limit)
    where, args = [], []
    for column, value in (("l.contact", contact_id), ("l.company", company_id)):
        if value is not None:
            where.append(f"{column} = {{}}")
            args.append(int(value))
    if source:
        if source not in SOURCES:
            raise ValidationError.for_field("source", f"must be one of {', '.join(SOURCES)}.")
        where.append("l.source = {}")
        args.append(source)
    if not actor.sees_all_records:
        where.append("COALESCE(c.owner, co.owner) = {}")
        args.append(actor.user_id)
    after = decode_cursor(cursor)
    if after is not None:
        where.append("l.id < {}")
        args.append(after)
    sql = (
        "SELECT l.* FROM geo_location l LEFT JOIN contact c ON c.id = l.contact "
        "LEFT JOIN company co ON co.id = l.company"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = await fetch(sql + f" ORDER BY l.id DESC LIMIT {limit + 1}", args)
    more = len(rows) > limit
    rows = rows[:limit]
    return [as_dict(r) for r in rows], encode_cursor(rows[-1]["id"]) if more else None


async def _write(
    kind: str,
    ident: int,
    clean: dict[str, Any],
    existing: dict[str, Any] | None,
    actor: Actor,
) -> dict[str, Any]:
    values = {**clean, "recorded_at": now()}
    async with write_transaction():
        if existing is None:
            rows = await Location.insert(Location(**{kind: ident}, **values))
            location_id = rows[0]["id"]
        else:
            location_id = existing["id"]
            await Location.update(values).where(Location.id == location_id)
        location = as_dict(await _row(location_id))  # type: ignore[arg-type]
        before = {k: existing[k] for k in FIELDS} if existing else None
        await record_audit(
            table="geo_location",
            record_id=location_id,
            action="create" if existing is None else "update",
            changes=diff(before, {k: location[k] for k in FIELDS}),
            actor=actor,
            plugin=PLUGIN,
        )
        await emit_event("geo.location_set", location)
    return location


async def create_location(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Give a contact or company its location; 409 if it already has one."""
    require(actor, WRITE)
    kind, ident = _target(data)
    clean = _clean(data, None)
    await _check_target(kind, ident, actor)
    existing = await location_of(**{f"{kind}_id": ident})
    if existing is not None:
        raise Conflict(
            f"{kind} {ident} already has location {existing['id']}; change that one "
            f"(PATCH /api/v1/geo/locations/{existing['id']}) instead"
        )
    return await _write(kind, ident, clean, None, actor)


async def save_location(
    actor: Actor,
    *,
    lat: float,
    lon: float,
    source: str,
    precision_m: int = 0,
    label: str = "",
    contact_id: int | None = None,
    company_id: int | None = None,
) -> dict[str, Any]:
    """Create or replace the location of a contact or company (geocoding, check-ins)."""
    require(actor, WRITE)
    kind, ident = _target({"contact_id": contact_id, "company_id": company_id})
    clean = _clean(
        {"lat": lat, "lon": lon, "source": source, "precision_m": precision_m, "label": label},
        None,
    )
    existing = await location_of(**{f"{kind}_id": ident})
    return await _write(kind, ident, clean, existing, actor)


async def update_location(location_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Change the position, source, precision or label of a location."""
    require(actor, WRITE)
    existing = await get_location(location_id, actor)
    moved = {k: v for k, v in data.items() if k in ("lat", "lon", "source", "precision_m", "label")}
    if "contact_id" in data or "company_id" in data:
        raise ValidationError.for_field(
            "contact_id", "a location cannot move to another record; delete and create it."
        )
    clean = _clean(moved, existing)
    kind = "contact" if existing["contact_id"] is not None else "company"
    return await _write(kind, existing[f"{kind}_id"], clean, existing, actor)


async def delete_location(location_id: int, actor: Actor) -> None:
    require(actor, WRITE)
    existing = await get_location(location_id, actor)
    async with write_transaction():
        await Location.delete().where(Location.id == existing["id"])
        await record_audit(
            table="geo_location",
            record_id=existing["id"],
            action="delete",
            changes=diff({k: existing[k] for k in FIELDS}, None),
            actor=actor,
            plugin=PLUGIN,
        )
        await emit_event("geo.location_deleted", existing)
