"""Segments: saved filter trees over contacts (the core's filter system, so plugin filters
such as ``geo.within_km`` work) and static lists. Counts and members are computed by the
database: a segment compiles to one WHERE clause over ``contact``.

A person who creates, counts or previews a segment is its filter tree's reader: a filter
comparing a contact field their role may not read (field-level access) is refused with the
core's 403 (``FilterNotAllowed``), so a segment cannot probe a hidden field one count at a
time. Sending (a background job) and the CLI act as the system and compile every filter."""

from __future__ import annotations

import json
from typing import Any

from crm_marketing.history import audit
from crm_marketing.tables import Segment, SegmentMember
from crmcore.errors import Conflict, FilterNotAllowed, NotFound, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.filters import compile_filter_tree
from crmcore.services.records import engine_type, fetch, iso, load_json, plugin_manager, require
from crmcore.services.transaction import write_transaction

NOT_SUPPRESSED = (
    "NOT EXISTS (SELECT 1 FROM marketing_do_not_contact dnc "
    "WHERE dnc.contact = contact.id AND dnc.channel = 'email')"
)


def _shape(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "filter": load_json(row["filter"], {}),
        "static": bool(row["static"]),
        "created_at": iso(row["created_at"]),
    }


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError.for_field("name", "a segment needs a name.")
    if len(name.strip()) > 200:
        raise ValidationError.for_field("name", "is too long (at most 200 characters).")
    return name.strip()


def segment_where(segment: dict[str, Any], reader: Actor | None = None) -> tuple[str, list[Any]]:
    """The segment as a boolean SQL expression over ``contact`` (``{}`` placeholders).

    With a ``reader``, a filter on a field they may not read raises FilterNotAllowed;
    without one (sending, drips: the system) every filter compiles."""
    if segment["static"]:
        return (
            "contact.id IN (SELECT m.contact FROM marketing_segment_member m WHERE m.segment = {})",
            [segment["id"]],
        )
    return compile_filter_tree(
        segment["filter"] or {"and": []}, plugin_manager(), engine_type(), reader
    )


async def create_segment(
    name: str, tree: dict[str, Any] | None, actor: Actor, *, static: bool = False
) -> dict[str, Any]:
    """Save a filter tree (checked by compiling it with ``actor`` as its reader) or an
    empty static list."""
    require(actor, "marketing.write")
    name = _check_name(name)
    tree = {} if static else (tree or {"and": []})
    if not isinstance(tree, dict):
        raise ValidationError.for_field("filter", "the filter must be a JSON object.")
    if not static:
        compile_filter_tree(tree, plugin_manager(), engine_type(), actor)
    async with write_transaction():
        if await Segment.exists().where(Segment.name == name):
            raise Conflict(f"there is already a segment named {name!r}.")
        rows = await Segment.insert(Segment(name=name, filter=json.dumps(tree), static=static))
        segment_id = int(rows[0]["id"])
        await audit(actor, "create", "marketing_segment", segment_id,
                           {"name": [None, name], "filter": [None, tree]})  # fmt: skip
    return await get_segment(segment_id)


async def get_segment(segment_id_or_name: int | str) -> dict[str, Any]:
    column = "id" if isinstance(segment_id_or_name, int) else "name"
    rows = await fetch(
        f"SELECT * FROM marketing_segment WHERE {column} = {{}}", [segment_id_or_name]
    )
    if not rows:
        raise NotFound(f"there is no segment {segment_id_or_name!r}.")
    return _shape(rows[0])


async def list_segments() -> list[dict[str, Any]]:
    rows = await fetch("SELECT * FROM marketing_segment ORDER BY name")
    return [_shape(row) for row in rows]


async def counted_segments(reader: Actor) -> list[dict[str, Any]]:
    """Every segment with its ``count`` for ``reader``: None for a segment whose filter
    compares a field they may not read (listing the others is not refused for it)."""
    counted = []
    for segment in await list_segments():
        try:
            count: int | None = await count_segment(segment, reader=reader)
        except FilterNotAllowed:
            count = None
        counted.append({**segment, "count": count})
    return counted


async def delete_segment(segment_id: int, actor: Actor) -> None:
    require(actor, "marketing.write")
    segment = await get_segment(segment_id)
    async with write_transaction():
        await SegmentMember.delete().where(SegmentMember.segment == segment_id)
        await Segment.delete().where(Segment.id == segment_id)
        await audit(actor, "delete", "marketing_segment", segment_id,
                           {"name": [segment["name"], None]})  # fmt: skip


async def count_segment(
    segment: dict[str, Any], *, mailable: bool = False, reader: Actor | None = None
) -> int:
    """How many contacts match; ``mailable`` counts only those a broadcast would reach
    (an email address, not unsubscribed or do-not-contact). ``reader`` as for
    :func:`segment_where`."""
    where, args = segment_where(segment, reader)
    if mailable:
        where = f"({where}) AND contact.email IS NOT NULL AND {NOT_SUPPRESSED}"
    rows = await fetch(f"SELECT count(*) AS n FROM contact WHERE {where}", args)
    return int(rows[0]["n"])


async def segment_members(
    segment: dict[str, Any], *, limit: int = 50, offset: int = 0, reader: Actor | None = None
) -> list[dict[str, Any]]:
    """A page of matching contacts (id, names, email), by id. ``reader`` as for
    :func:`segment_where`."""
    where, args = segment_where(segment, reader)
    rows = await fetch(
        "SELECT contact.id, contact.first_name, contact.last_name, contact.email, "
        f"contact.stage FROM contact WHERE {where} ORDER BY contact.id LIMIT {{}} OFFSET {{}}",
        [*args, int(limit), int(offset)],
    )
    return [dict(row) for row in rows]


async def add_to_list(segment_id: int, contact_ids: list[int], actor: Actor) -> int:
    """Put contacts on a static list; returns how many were added (present ones are kept)."""
    require(actor, "marketing.write")
    segment = await get_segment(segment_id)
    if not segment["static"]:
        raise ValidationError.for_field("segment", "only static lists take contacts by hand.")
    ids = sorted({int(i) for i in contact_ids})
    if not ids:
        return 0
    async with write_transaction():
        marks = ", ".join("{}" for _ in ids)
        known = {r["id"] for r in await fetch(f"SELECT id FROM contact WHERE id IN ({marks})", ids)}
        missing = [i for i in ids if i not in known]
        if missing:
            raise ValidationError.for_field("contact_ids", f"there is no contact {missing[0]}.")
        before = {
            r["contact"]
            for r in await fetch(
                f"SELECT contact FROM marketing_segment_member WHERE segment = {{}} "
                f"AND contact IN ({marks})",
                [segment_id, *ids],
            )
        }
        new = [i for i in ids if i not in before]
        if new:
            await SegmentMember.insert(*[SegmentMember(segment=segment_id, contact=i) for i in new])
    return len(new)


async def remove_from_list(segment_id: int, contact_ids: list[int], actor: Actor) -> None:
    require(actor, "marketing.write")
    async with write_transaction():
        await SegmentMember.delete().where(
            (SegmentMember.segment == segment_id) & SegmentMember.contact.is_in(list(contact_ids))
        )
