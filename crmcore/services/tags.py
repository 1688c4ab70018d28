"""Tags: labels on contacts (and companies), managed one by one or applied in bulk.

Tag names are part of a contact's search text, so every change to which contacts carry
which tag, or to a tag's name, refreshes the search text of the contacts concerned.
"""

from __future__ import annotations

from typing import Any

from crmcore.errors import Conflict, NotFound, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import record_audit
from crmcore.services.companies import clean_tag_names, tag_ids
from crmcore.services.contacts import contact_dicts, refresh_search_text
from crmcore.services.outbox import emit_event
from crmcore.services.records import fetch, now, placeholders, plugin_manager, require
from crmcore.services.transaction import after_commit, write_transaction
from crmcore.tables import Contact, ContactTag, Tag

__all__ = [
    "add_tags",
    "create_tag",
    "delete_tag",
    "get_tag",
    "list_tags",
    "remove_tag",
    "update_tag",
]

CHUNK = 500


def _tag_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "color": row["color"],
        "contact_count": int(row.get("contact_count") or 0),
    }


_SELECT = (
    "SELECT tag.id, tag.name, tag.color, "
    "(SELECT count(*) FROM contact_tag WHERE contact_tag.tag = tag.id) AS contact_count FROM tag"
)


async def list_tags() -> list[dict[str, Any]]:
    """Every tag with the number of contacts carrying it, by name."""
    return [_tag_dict(row) for row in await fetch(f"{_SELECT} ORDER BY lower(tag.name)")]


async def get_tag(tag_id: int) -> dict[str, Any]:
    rows = await fetch(f"{_SELECT} WHERE tag.id = {{}}", [int(tag_id)])
    if not rows:
        raise NotFound(f"tag {tag_id} does not exist")
    return _tag_dict(rows[0])


def _clean_color(color: Any) -> str:
    text = str(color or "").strip()
    if len(text) > 16:
        raise ValidationError.for_field("color", "is too long (at most 16 characters).")
    return text


def _clean_name(name: Any) -> str:
    names = clean_tag_names([name] if name is not None else [])
    if not names:
        raise ValidationError.for_field("name", "a tag needs a name.")
    return names[0]


async def _name_taken(name: str, except_id: int | None = None) -> bool:
    rows = await fetch("SELECT id FROM tag WHERE lower(name) = lower(CAST({} AS TEXT))", [name])
    return any(row["id"] != except_id for row in rows)


async def create_tag(name: str, actor: Actor, *, color: str = "") -> dict[str, Any]:
    """Create a tag (names are unique, ignoring case)."""
    require(actor, "contacts.write")
    name, color = _clean_name(name), _clean_color(color)
    async with write_transaction():
        if await _name_taken(name):
            raise Conflict(f"a tag called {name!r} already exists")
        rows = await Tag.insert(Tag(name=name, color=color))
        tag = await get_tag(rows[0]["id"])
        await record_audit(
            table="tag",
            record_id=tag["id"],
            action="create",
            changes={"name": [None, name], "color": [None, color]},
            actor=actor,
        )
        await emit_event("tag.created", tag)
    return tag


async def _tagged_contacts(tag_id: int) -> list[int]:
    rows = await ContactTag.select(ContactTag.contact).where(ContactTag.tag == tag_id)
    return [row["contact"] for row in rows]


async def update_tag(tag_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Rename or recolour a tag; renaming refreshes the search text of its contacts."""
    require(actor, "settings.manage")
    unknown = set(data) - {"name", "color", "id", "contact_count"}
    if unknown:
        raise ValidationError(
            f"unknown tag fields: {', '.join(sorted(unknown))}",
            {name: "is not a tag field" for name in unknown},
        )
    async with write_transaction():
        before = await get_tag(tag_id)
        values: dict[str, Any] = {}
        if "name" in data:
            values["name"] = _clean_name(data["name"])
            if await _name_taken(values["name"], except_id=before["id"]):
                raise Conflict(f"a tag called {values['name']!r} already exists")
        if "color" in data:
            values["color"] = _clean_color(data["color"])
        changes = {k: [before[k], v] for k, v in values.items() if before[k] != v}
        if not changes:
            return before
        await Tag.update(values).where(Tag.id == before["id"])
        if "name" in changes:
            await refresh_search_text(await _tagged_contacts(before["id"]))
        after = await get_tag(before["id"])
        await record_audit(
            table="tag", record_id=before["id"], action="update", changes=changes, actor=actor
        )
        await emit_event("tag.updated", {"id": before["id"], "changes": changes, "tag": after})
    return after


async def delete_tag(tag_id: int, actor: Actor) -> None:
    """Delete a tag; the contacts that carried it lose it."""
    require(actor, "settings.manage")
    async with write_transaction():
        before = await get_tag(tag_id)
        contact_ids = await _tagged_contacts(before["id"])
        await Tag.delete().where(Tag.id == before["id"])
        await refresh_search_text(contact_ids)
        await record_audit(
            table="tag",
            record_id=before["id"],
            action="delete",
            changes={"name": [before["name"], None], "color": [before["color"], None]},
            actor=actor,
        )
        await emit_event("tag.deleted", before)


async def _visible_ids(contact_ids: list[int], actor: Actor) -> list[int]:
    ids = sorted({int(i) for i in contact_ids})
    found: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for row in await fetch(
            f"SELECT id, owner FROM contact WHERE id IN ({placeholders(chunk)})", chunk
        ):
            if actor.sees_all_records or row["owner"] == actor.user_id:
                found.add(row["id"])
    missing = [i for i in ids if i not in found]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + ("…" if len(missing) > 10 else "")
        raise NotFound(f"these contacts do not exist: {shown}")
    return ids


async def _tags_of(ids: list[int]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for row in await fetch(
            "SELECT contact_tag.contact AS contact, tag.name AS name FROM contact_tag "
            f"JOIN tag ON tag.id = contact_tag.tag WHERE contact_tag.contact IN "
            f"({placeholders(chunk)}) ORDER BY tag.name",
            chunk,
        ):
            tags[row["contact"]].append(row["name"])
    return tags


async def _record_tag_changes(
    before: dict[int, list[str]], changed: list[int], event: str, names: list[str], actor: Actor
) -> None:
    """Audit, events and hooks for contacts whose tags changed in this transaction."""
    stamp = now()
    after = await _tags_of(changed)
    for start in range(0, len(changed), CHUNK):
        chunk = changed[start : start + CHUNK]
        await Contact.update({"updated_at": stamp}).where(Contact.id.is_in(chunk))
    await refresh_search_text(changed)
    for contact_id in changed:
        await record_audit(
            table="contact",
            record_id=contact_id,
            action="update",
            changes={"tags": [before[contact_id], after[contact_id]]},
            actor=actor,
        )
    await emit_event(event, {"contact_ids": changed, "tags": names})
    pm = plugin_manager()
    if pm is None or not changed:
        return
    contacts = {}
    for start in range(0, len(changed), CHUNK):
        contacts.update(await contact_dicts(changed[start : start + CHUNK]))

    async def fire_all() -> None:
        for contact_id in changed:
            await pm.fire(
                "contact_saved",
                contact=contacts[contact_id],
                created=False,
                changes={"tags": (before[contact_id], after[contact_id])},
                actor=actor,
            )

    after_commit(fire_all)


async def add_tags(contact_ids: list[int], names: list[str], actor: Actor) -> int:
    """Tag many contacts at once (tags are created if new); returns how many contacts
    gained a tag. One transaction, one audit entry per changed contact."""
    require(actor, "contacts.write")
    names = clean_tag_names(names)
    if not names:
        raise ValidationError.for_field("tags", "name at least one tag.")
    async with write_transaction():
        ids = await _visible_ids(contact_ids, actor)
        before = await _tags_of(ids)
        tag_map = await tag_ids(names)
        # Tags may exist under another capitalisation: compare by id, not by name.
        have: set[tuple[int, int]] = set()
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            rows = await ContactTag.select(ContactTag.contact, ContactTag.tag).where(
                ContactTag.contact.is_in(chunk)
            )
            have.update((row["contact"], row["tag"]) for row in rows)
        new = [
            ContactTag(contact=c, tag=t)
            for c in ids
            for t in tag_map.values()
            if (c, t) not in have
        ]
        for start in range(0, len(new), CHUNK):
            await ContactTag.insert(*new[start : start + CHUNK])
        changed = sorted({row.contact for row in new})
        if changed:
            await _record_tag_changes(before, changed, "contact.tagged", names, actor)
    return len(changed)


async def remove_tag(contact_ids: list[int], name: str, actor: Actor) -> int:
    """Take a tag off many contacts; returns how many contacts lost it."""
    require(actor, "contacts.write")
    name = _clean_name(name)
    async with write_transaction():
        ids = await _visible_ids(contact_ids, actor)
        rows = await fetch("SELECT id FROM tag WHERE lower(name) = lower(CAST({} AS TEXT))", [name])
        if not rows:
            raise NotFound(f"there is no tag called {name!r}")
        tag_id = rows[0]["id"]
        before = await _tags_of(ids)
        changed: list[int] = []
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            carrying = await ContactTag.select(ContactTag.contact).where(
                ContactTag.contact.is_in(chunk) & (ContactTag.tag == tag_id)
            )
            changed.extend(row["contact"] for row in carrying)
            await ContactTag.delete().where(
                ContactTag.contact.is_in(chunk) & (ContactTag.tag == tag_id)
            )
        changed = sorted(set(changed))
        if changed:
            await _record_tag_changes(before, changed, "contact.untagged", [name], actor)
    return len(changed)
