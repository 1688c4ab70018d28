"""Merging two records of the same person into one, losing nothing.

``merge_contacts`` runs in ONE write transaction: it re-links the merged contact's
interactions (tasks included), stage history and external ids to the survivor, asks every
plugin to re-link its own rows (the ``contact_merged`` hook, awaited inside the transaction:
an exception there aborts the whole merge), writes the survivor's new values through
``update_contact`` (so the usual rules, audit entry and search text apply), records a
``merge`` audit entry on both contacts (the merged one's holds its full last state) and the
outbox event ``contact.merged``, and finally deletes the merged contact.
"""

from __future__ import annotations

from typing import Any

from crmcore.db.runtime import current_database
from crmcore.errors import CRMError, NotFound, ValidationError
from crmcore.permissions import redact
from crmcore.services.actor import Actor
from crmcore.services.audit import diff, jsonable, record_audit
from crmcore.services.contacts import contact_dicts, refresh_search_text, update_contact
from crmcore.services.outbox import emit_event
from crmcore.services.records import fetch, require
from crmcore.services.transaction import write_transaction

__all__ = ["MERGEABLE", "MergeError", "merge_contacts", "merge_preview"]

# Fields whose value is taken from one of the two contacts (``fields`` picks which).
MERGEABLE = (
    "first_name",
    "last_name",
    "title",
    "company_id",
    "email",
    "phone",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
    "stage",
    "source",
    "owner_id",
    "language",
    "birthday",
)
CHOICES = ("survivor", "merged")
MAX_ID = 2**63 - 1  # ids are 64-bit in both databases


class MergeError(CRMError):
    """A plugin could not re-link its rows; nothing was merged."""

    status_code = 409


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _check_fields(fields: dict[str, str]) -> None:
    errors: dict[str, str] = {}
    for name, choice in fields.items():
        known = name in MERGEABLE or name == "custom" or name.startswith("custom.")
        if not known:
            errors[name] = f"is not a field a merge chooses; use one of {', '.join(MERGEABLE)}"
        elif choice not in CHOICES:
            errors[name] = "choose 'survivor' or 'merged'"
    if errors:
        raise ValidationError(
            "; ".join(f"{k}: {v}" for k, v in errors.items()),
            {f"fields.{k}": v for k, v in errors.items()},
        )


def _pick(
    name: str, survivor: dict[str, Any], merged: dict[str, Any], fields: dict[str, str]
) -> Any:
    """The chosen side's value; by default the survivor's, unless it is empty."""
    choice = fields.get(name)
    if choice == "merged" or (
        choice is None and _empty(survivor.get(name)) and not _empty(merged.get(name))
    ):
        return merged.get(name)
    return survivor.get(name)


def _union(first: list[str], *others: list[str], fold: bool = False) -> list[str]:
    result: list[str] = []
    seen: set[str] = set()
    for values in (first, *others):
        for value in values:
            if value is None:
                continue
            marker = value.lower() if fold else value
            if marker not in seen:
                seen.add(marker)
                result.append(value)
    return result


def merged_values(
    survivor: dict[str, Any], merged: dict[str, Any], fields: dict[str, str] | None = None
) -> dict[str, Any]:
    """The survivor's fields after a merge (as ``update_contact`` takes them)."""
    fields = fields or {}
    values = {name: _pick(name, survivor, merged, fields) for name in MERGEABLE}
    primary_email = values.pop("email")
    primary_phone = values.pop("phone")
    values["emails"] = _union(
        [primary_email] if primary_email else [], survivor["emails"], merged["emails"]
    )
    values["phones"] = _union(
        [primary_phone] if primary_phone else [], survivor["phones"], merged["phones"]
    )
    values["tags"] = _union(survivor["tags"], merged["tags"], fold=True)
    if fields.get("custom") == "merged":
        custom = {**survivor["custom"], **merged["custom"]}
    else:
        custom = {**merged["custom"], **survivor["custom"]}
    for name, choice in fields.items():
        if name.startswith("custom."):
            key = name[len("custom.") :]
            side = merged if choice == "merged" else survivor
            if key in side["custom"]:
                custom[key] = side["custom"][key]
            else:
                custom.pop(key, None)
    values["custom"] = custom
    return values


async def _load_pair(
    survivor_id: int, merged_id: int, actor: Actor
) -> tuple[dict[str, Any], dict[str, Any]]:
    if int(survivor_id) == int(merged_id):
        raise ValidationError.for_field("merged_id", "a contact cannot be merged into itself")
    for contact_id in (survivor_id, merged_id):
        if not 0 < int(contact_id) <= MAX_ID:
            raise NotFound(f"contact {contact_id} does not exist")
    found = await contact_dicts([int(survivor_id), int(merged_id)])
    pair = []
    for contact_id in (int(survivor_id), int(merged_id)):
        contact = found.get(contact_id)
        if contact is None or not (actor.sees_all_records or contact["owner_id"] == actor.user_id):
            raise NotFound(f"contact {contact_id} does not exist")
        pair.append(contact)
    return pair[0], pair[1]


async def merge_preview(
    survivor_id: int, merged_id: int, actor: Actor, fields: dict[str, str] | None = None
) -> dict[str, Any]:
    """What a merge would store, without storing anything (the duplicates page shows it)."""
    require(actor, "contacts.merge")
    _check_fields(fields or {})
    survivor, merged = await _load_pair(survivor_id, merged_id, actor)
    return {
        "survivor": redact("contact", survivor, actor),
        "merged": redact("contact", merged, actor),
        "result": redact("contact", merged_values(survivor, merged, fields), actor),
    }


async def _relink(survivor_id: int, merged_id: int) -> dict[str, int]:
    """Point the core's rows at the survivor; returns how many of each moved."""
    moved: dict[str, int] = {}
    for table in ("interaction", "stage_change", "data_external_id"):
        rows = await fetch(
            f"UPDATE {table} SET contact = {{}} WHERE contact = {{}} RETURNING id",
            [survivor_id, merged_id],
        )
        moved[table] = len(rows)
    return moved


async def merge_contacts(
    survivor_id: int,
    merged_id: int,
    actor: Actor,
    fields: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Merge contact ``merged_id`` into ``survivor_id`` and return the survivor.

    ``fields`` maps a field (``email``, ``stage``, ``custom`` or ``custom.<key>``…) to
    ``"survivor"`` or ``"merged"``: whose value the survivor keeps. Unnamed fields keep the
    survivor's value unless it is empty. Emails, phones and tags are always the union of
    both (the chosen primary first). Raises :class:`MergeError` if a plugin's
    ``contact_merged`` hook fails; then nothing at all has changed.
    """
    require(actor, "contacts.merge")
    require(actor, "contacts.write")
    fields = dict(fields or {})
    _check_fields(fields)
    pm = current_database().pm
    async with write_transaction():
        survivor, merged = await _load_pair(survivor_id, merged_id, actor)
        values = merged_values(survivor, merged, fields)
        moved = await _relink(survivor["id"], merged["id"])
        if pm is not None:
            try:
                await pm.acall(
                    "contact_merged",
                    survivor_id=survivor["id"],
                    merged_id=merged["id"],
                    actor=actor,
                )
            except CRMError:
                raise
            except Exception as exc:
                raise MergeError(
                    f"a plugin could not move its data from contact {merged['id']} to "
                    f"{survivor['id']} ({type(exc).__name__}: {exc}); nothing was merged"
                ) from exc
        await record_audit(
            table="contact",
            record_id=merged["id"],
            action="merge",
            changes={"merged_into": [None, survivor["id"]], **diff(_snapshot(merged), None)},
            actor=actor,
        )
        await fetch("DELETE FROM contact WHERE id = {}", [merged["id"]])
        await update_contact(survivor["id"], values, actor)
        await refresh_search_text([survivor["id"]])
        after = (await contact_dicts([survivor["id"]]))[survivor["id"]]
        changes = diff(_snapshot(survivor), _snapshot(after))
        await record_audit(
            table="contact",
            record_id=survivor["id"],
            action="merge",
            changes={"merged_id": [None, merged["id"]], "fields": [None, fields], **changes},
            actor=actor,
        )
        await emit_event(
            "contact.merged",
            {
                "survivor_id": survivor["id"],
                "merged_id": merged["id"],
                "fields": fields,
                "moved": moved,
                "contact": jsonable(after),
            },
        )
    return redact("contact", after, actor)


def _snapshot(contact: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in contact.items() if k not in ("id", "name", "created_at", "updated_at")}
