"""Interactions: one row per touchpoint with a contact or company, on any channel.

``log_interaction`` is the one door for recording a touchpoint, whether a person typed it,
the API received it or an integration ingests it. Planned interactions (tasks) live in the
same table and are managed by :mod:`crmcore.services.tasks`; the helpers here (validation,
record scope, row shape) serve both.

**Idempotent ingestion.** An interaction from another system carries ``source`` (the system)
and ``external_id`` (its id there). The pair is unique (a partial unique index enforces it,
so concurrent ingestion cannot double it): posting the same external interaction a second
time stores nothing and raises :class:`~crmcore.errors.Conflict` (HTTP 409) naming the
stored interaction. A 409 rather than a silent 200 tells the sender its retry was a repeat,
and the stored row is never overwritten by a replay of older data.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from typing import Any

import asyncpg

from crmcore.db.runtime import current_database
from crmcore.errors import Conflict, NotFound, PermissionDenied, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import diff, record_audit
from crmcore.services.context import current_pm
from crmcore.services.interaction_input import (
    check_rules,
    decode_time_cursor,
    encode_time_cursor,
    optional_id,
    parse_datetime,
    raise_errors,
    validate_fields,
)
from crmcore.services.outbox import emit_event
from crmcore.services.pagination import Page, check_limit
from crmcore.services.transaction import after_commit, write_transaction
from crmcore.tables import CHANNELS, Company, Contact, Interaction, User

__all__ = [
    "delete_interaction",
    "get_interaction",
    "list_interactions",
    "log_interaction",
    "update_interaction",
]

UNIQUE_ERRORS = (sqlite3.IntegrityError, asyncpg.UniqueViolationError)


# --------------------------------------------------------------------------- access


def require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise PermissionDenied(f"{actor.label} lacks the permission {permission!r}")


def visible_to(actor: Actor) -> Any:
    """The Piccolo condition for interactions an ``own``-scope actor may see, or None.

    Agents see what they wrote, what they are assigned, and everything on the contacts and
    companies they own.
    """
    if actor.sees_all_records:
        return None
    uid = actor.user_id or 0
    return (
        (Interaction.author == uid)
        | (Interaction.assignee == uid)
        | (Interaction.contact.owner == uid)
        | (Interaction.company.owner == uid)
    )


async def resolve_links(
    contact_id: int | None, company_id: int | None, actor: Actor, errors: dict[str, str]
) -> tuple[int | None, int | None]:
    """Check the linked contact and company exist and are the actor's to write on.

    Without an explicit company the interaction belongs to the contact's company.
    """
    if contact_id is not None:
        contact = (
            await Contact.select(Contact.id, Contact.company, Contact.owner)
            .where(Contact.id == contact_id)
            .first()
        )
        if contact is None:
            errors["contact_id"] = f"no contact with id {contact_id}"
        else:
            if not actor.sees_all_records and contact["owner"] != actor.user_id:
                raise PermissionDenied(f"contact {contact_id} belongs to another owner")
            if company_id is None:
                company_id = contact["company"]
    if company_id is not None and "company_id" not in errors:
        company = (
            await Company.select(Company.id, Company.owner).where(Company.id == company_id).first()
        )
        if company is None:
            errors["company_id"] = f"no company with id {company_id}"
        elif contact_id is None and not actor.sees_all_records:
            if company["owner"] != actor.user_id:
                raise PermissionDenied(f"company {company_id} belongs to another owner")
    return contact_id, company_id


async def check_user(user_id: int, field_name: str, errors: dict[str, str]) -> None:
    user = await User.select(User.id, User.active).where(User.id == user_id).first()
    if user is None:
        errors[field_name] = f"no user with id {user_id}"
    elif not user["active"]:
        errors[field_name] = f"user {user_id} is deactivated"


# --------------------------------------------------------------------------- rows


def as_dict(row: dict[str, Any]) -> dict[str, Any]:
    """The public shape of an interaction or task (``*_id`` names for references)."""
    value = row.get("value")
    meta = row.get("meta") or {}
    if isinstance(meta, str):
        meta = json.loads(meta)
    return {
        "id": row["id"],
        "contact_id": row["contact"],
        "company_id": row["company"],
        "channel": row["channel"],
        "direction": row["direction"],
        "occurred_at": row["occurred_at"],
        "subject": row["subject"],
        "body": row["body"],
        "value": None if value is None else Decimal(value).quantize(Decimal("0.01")),
        "currency": row["currency"] or None,
        "source": row["source"] or None,
        "external_id": row["external_id"],
        "author_id": row["author"],
        "meta": meta,
        "status": row["status"],
        "due_at": row["due_at"],
        "assignee_id": row["assignee"],
        "completed_at": row["completed_at"],
        "completed_by_id": row["completed_by"],
        "created_at": row["created_at"],
    }


async def fetch_row(interaction_id: int, actor: Actor | None) -> dict[str, Any]:
    """The stored row (column names), or NotFound when missing or outside the actor's scope.

    ``actor=None`` skips the scope check: for re-reading a row the current write just made.
    """
    query = Interaction.select(*Interaction.all_columns()).where(Interaction.id == interaction_id)
    condition = None if actor is None else visible_to(actor)
    if condition is not None:
        query = query.where(condition)
    row = await query.output(load_json=True).first()
    if row is None:
        raise NotFound(f"interaction {interaction_id} does not exist")
    return row


async def _find_external(source: str, external_id: str) -> int | None:
    row = (
        await Interaction.select(Interaction.id)
        .where((Interaction.source == source) & (Interaction.external_id == external_id))
        .first()
    )
    return None if row is None else row["id"]


def _duplicate(source: str, external_id: str, existing: int | None) -> Conflict:
    where = f" (interaction {existing})" if existing else ""
    return Conflict(
        f"an interaction from source {source!r} with external_id {external_id!r} is already "
        f"stored{where}; it was not stored again"
    )


# --------------------------------------------------------------------------- writes


async def refresh_note_search(items: list[dict[str, Any]]) -> None:
    """Notes are searchable with their contact: re-index the contacts a note write touched."""
    ids = [i["contact_id"] for i in items if i["channel"] == "note" and i["contact_id"]]
    if ids:
        from crmcore.services.contacts import refresh_search_text

        await refresh_search_text(ids)


async def log_interaction(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Record a touchpoint and return it.

    ``data``: ``channel`` (one of :data:`crmcore.tables.CHANNELS`), ``direction``
    (inbound/outbound/internal; notes default to internal), ``occurred_at`` (default now),
    ``subject``, ``body``, ``value`` + ``currency`` (together; required for purchases),
    ``source`` + ``external_id``, ``contact_id`` and/or ``company_id`` (the company defaults
    to the contact's), ``meta`` (a JSON object). The author is the actor.

    Raises ValidationError (422) with field messages, PermissionDenied (403), and Conflict
    (409) when ``source`` + ``external_id`` is already stored: the replay stores nothing.
    Fires ``interaction_logged`` after commit and records the ``interaction.logged`` event.
    """
    require(actor, "interactions.write")
    clean = validate_fields(data, None)
    errors: dict[str, str] = {}
    contact_id = optional_id(data, "contact_id", errors)
    company_id = optional_id(data, "company_id", errors)
    raise_errors(errors)
    contact_id, company_id = await resolve_links(contact_id, company_id, actor, errors)
    raise_errors(errors)
    clean.update(contact=contact_id, company=company_id, author=actor.user_id)
    check_rules(clean)
    return await insert_interaction(clean, actor, event="interaction.logged")


async def insert_interaction(
    fields: dict[str, Any], actor: Actor, *, event: str, hook: str = "interaction_logged"
) -> dict[str, Any]:
    """Insert validated ``fields`` with audit, outbox event and after-commit hook.

    Shared by interactions and tasks; not a door of its own (callers validate first).
    """
    source, external = fields.get("source") or "", fields.get("external_id")
    pm = current_pm()
    nested = current_database().engine.current_transaction.get() is not None
    try:
        async with write_transaction():
            if external:
                existing = await _find_external(source, external)
                if existing is not None:
                    raise _duplicate(source, external, existing)
            inserted = await Interaction.insert(Interaction(**fields))
            row = as_dict(await fetch_row(int(inserted[0]["id"]), None))
            await record_audit(
                table="interaction",
                record_id=row["id"],
                action="create",
                changes=diff(None, {k: v for k, v in row.items() if v not in (None, "", {})}),
                actor=actor,
            )
            await emit_event(event, row)
            await refresh_note_search([row])
            after_commit(lambda: pm.fire(hook, interaction=row, actor=actor))
    except UNIQUE_ERRORS as exc:
        # A concurrent writer stored the same pair first (PostgreSQL; SQLite serialises
        # writers). Inside a caller's transaction the database refuses further queries, so
        # the stored id is only looked up when this call owned the transaction.
        if not external:
            raise
        existing = None if nested else await _find_external(source, external)
        raise _duplicate(source, external, existing) from exc
    return row


async def get_interaction(interaction_id: int, actor: Actor) -> dict[str, Any]:
    """One interaction or task; NotFound (404) if missing or outside the actor's records."""
    require(actor, "contacts.read")
    return as_dict(await fetch_row(interaction_id, actor))


UPDATABLE = frozenset(
    {
        "channel",
        "direction",
        "occurred_at",
        "subject",
        "body",
        "value",
        "currency",
        "source",
        "external_id",
        "meta",
        "contact_id",
        "company_id",
    }
)
TASK_UPDATABLE = frozenset({"due_at", "assignee_id"})


async def _task_changes(
    data: dict[str, Any], current: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    """Rescheduling or reassigning a task; a planned task sits at its due date."""
    clean: dict[str, Any] = {}
    if current["status"] is None:
        for key in TASK_UPDATABLE & set(data):
            errors[key] = "only a task has one (this interaction was logged, not planned)"
        return clean
    if "due_at" in data:
        try:
            clean["due_at"] = parse_datetime(data["due_at"], "due_at")
        except ValidationError as exc:
            errors.update(exc.errors)
        else:
            if current["status"] == "planned":
                clean["occurred_at"] = clean["due_at"]
    if "assignee_id" in data:
        assignee = optional_id(data, "assignee_id", errors)
        if assignee is None and "assignee_id" not in errors:
            errors["assignee_id"] = "a task needs an assignee"
        elif assignee is not None:
            await check_user(assignee, "assignee_id", errors)
            clean["assignee"] = assignee
    return clean


async def update_interaction(
    interaction_id: int, data: dict[str, Any], actor: Actor
) -> dict[str, Any]:
    """Change the given fields of an interaction; the same rules as when logging it.

    A task may also be rescheduled (``due_at``) or reassigned (``assignee_id``).

    Changing ``source``/``external_id`` onto a pair already stored is a Conflict (409).
    Records the audit diff and the ``interaction.updated`` event.
    """
    require(actor, "interactions.write")
    unknown = sorted(set(data) - UPDATABLE - TASK_UPDATABLE)
    if unknown:
        raise_errors({key: "cannot be changed here" for key in unknown})
    async with write_transaction():
        current = await fetch_row(interaction_id, actor)
        clean = validate_fields(data, current)
        errors: dict[str, str] = {}
        clean.update(await _task_changes(data, current, errors))
        raise_errors(errors)
        if "contact_id" in data or "company_id" in data:
            contact_id = (
                optional_id(data, "contact_id", errors)
                if "contact_id" in data
                else current["contact"]
            )
            company_id = (
                optional_id(data, "company_id", errors)
                if "company_id" in data
                else current["company"]
            )
            raise_errors(errors)
            clean["contact"], clean["company"] = await resolve_links(
                contact_id, company_id, actor, errors
            )
            raise_errors(errors)
        merged = {**current, **clean}
        check_rules(merged)
        changes = {k: v for k, v in clean.items() if current.get(k) != v}
        source, external = merged.get("source") or "", merged.get("external_id")
        if external and ("source" in changes or "external_id" in changes):
            existing = await _find_external(source, external)
            if existing is not None and existing != interaction_id:
                raise _duplicate(source, external, existing)
        if changes:
            await Interaction.update(changes).where(Interaction.id == interaction_id)
            before = as_dict(current)
            after = as_dict(await fetch_row(interaction_id, None))
            await record_audit(
                table="interaction",
                record_id=interaction_id,
                action="update",
                changes=diff(before, after),
                actor=actor,
            )
            await emit_event("interaction.updated", {**after, "changes": diff(before, after)})
            await refresh_note_search([before, after])
            return after
    return as_dict(current)


async def delete_interaction(interaction_id: int, actor: Actor) -> None:
    """Delete an interaction or task; the audit entry keeps what it was."""
    require(actor, "interactions.write")
    async with write_transaction():
        row = as_dict(await fetch_row(interaction_id, actor))
        await Interaction.delete().where(Interaction.id == interaction_id)
        await record_audit(
            table="interaction",
            record_id=interaction_id,
            action="delete",
            changes=diff(row, None),
            actor=actor,
        )
        await emit_event("interaction.deleted", {"id": interaction_id, "interaction": row})
        await refresh_note_search([row])


# --------------------------------------------------------------------------- lists


async def list_interactions(
    actor: Actor,
    contact_id: int | None = None,
    company_id: int | None = None,
    channel: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Interactions that happened (logged ones and completed tasks), newest first.

    Keyset pagination on (occurred_at, id): each page costs the same however deep it is,
    and rows inserted meanwhile never shift a page.
    """
    require(actor, "contacts.read")
    limit = check_limit(limit)
    if channel is not None and channel not in CHANNELS:
        raise ValidationError.for_field("channel", f"must be one of {', '.join(CHANNELS)}")
    query = (
        Interaction.select(*Interaction.all_columns())
        .where(Interaction.status.is_null() | (Interaction.status == "done"))
        .order_by(Interaction.occurred_at, Interaction.id, ascending=False)
        .limit(limit + 1)
        .output(load_json=True)
    )
    if contact_id is not None:
        query = query.where(Interaction.contact == contact_id)
    if company_id is not None:
        query = query.where(Interaction.company == company_id)
    if channel is not None:
        query = query.where(Interaction.channel == channel)
    condition = visible_to(actor)
    if condition is not None:
        query = query.where(condition)
    if cursor:
        at, last_id = decode_time_cursor(cursor)
        query = query.where(
            (Interaction.occurred_at < at)
            | ((Interaction.occurred_at == at) & (Interaction.id < last_id))
        )
    rows = await query
    items = [as_dict(row) for row in rows[:limit]]
    more = len(rows) > limit
    next_cursor = encode_time_cursor(items[-1]["occurred_at"], items[-1]["id"]) if more else None
    return Page(items=items, next=next_cursor)
