"""Privacy requests: everything the CRM stores about a person, exported or erased.

``export_contact`` gathers one JSON document: the contact, its stage history, interactions
and tasks, the audit entries about them, automation runs, and a section from every plugin
(``export_contact_data``), without the fields the requester may not read.
``erase_contact`` removes the person everywhere in one transaction: plugins first
(``erase_contact_data``), then the core: the values in audit rows of the contact, its
interactions and the plugin records that pointed at it (scrubbed, not deleted, so the
history of *who changed what when* stays), outbox events and queued jobs that mention the
person, then the contact itself with its emails, phones, tags, stage history and
interactions. What is left is one audit entry saying that an erasure happened, by whom and
when, with no personal data, and a ``contact.erased`` event (just the id) so subscribed
systems can erase their copies.
"""

from __future__ import annotations

import json
from typing import Any

from crmcore.automation_app.tables import QueuedJob, RuleRun, WebhookAttempt
from crmcore.db.runtime import current_database
from crmcore.errors import NotFound, PermissionDenied
from crmcore.jobs import clock
from crmcore.permissions import mask_changes, redact, withheld_fields
from crmcore.services.actor import Actor
from crmcore.services.audit import jsonable, record_audit
from crmcore.services.context import current_pm
from crmcore.services.outbox import emit_event
from crmcore.services.transaction import write_transaction
from crmcore.tables import AuditLog, Contact, Interaction, OutboxEvent, StageChange

EXPORT_FORMAT = "crmcore.privacy-export/1"
ERASED_PAYLOAD_KEY = "erased"


def _require(actor: Actor) -> None:
    if not actor.can("privacy.manage"):
        raise PermissionDenied(f"{actor.label} lacks the permission 'privacy.manage'")


def _load(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def _contact(contact_id: int) -> dict[str, Any]:
    from crmcore.services.contacts import contact_dicts

    contact = (await contact_dicts([int(contact_id)])).get(int(contact_id))
    if contact is None:
        raise NotFound(f"contact {contact_id} not found")
    return contact


async def _interaction_ids(contact_id: int) -> list[int]:
    rows = await Interaction.select(Interaction.id).where(Interaction.contact == contact_id)
    return [row["id"] for row in rows]


async def _audit_rows(contact_id: int, interaction_ids: list[int]) -> list[dict[str, Any]]:
    where = (AuditLog.table_name == "contact") & (AuditLog.record_id == contact_id)
    if interaction_ids:
        where = where | (
            (AuditLog.table_name == "interaction") & AuditLog.record_id.is_in(interaction_ids)
        )
    rows = await AuditLog.select().where(where).order_by(AuditLog.id).output(load_json=True)
    return [
        {
            "at": row["at"],
            "actor": row["actor_label"],
            "action": row["action"],
            "table": row["table_name"],
            "record_id": row["record_id"],
            "changes": row["changes"],
        }
        for row in rows
    ]


async def export_contact(contact_id: int, actor: Actor) -> dict[str, Any]:
    """One JSON-able document with everything stored about the contact that ``actor`` may
    read: fields restricted by a permission they lack are left out, by the core and by
    each plugin (``export_contact_data`` receives the actor), and listed under
    ``withheld``. The system actor (``crm privacy export``) gets the complete document."""
    from crmcore.services.interactions import as_dict

    _require(actor)
    contact = await _contact(contact_id)
    interactions = [
        as_dict(row)
        for row in await Interaction.select()
        .where(Interaction.contact == contact["id"])
        .order_by(Interaction.occurred_at)
    ]
    audit = await _audit_rows(contact["id"], [i["id"] for i in interactions])
    stages = (
        await StageChange.select(
            StageChange.from_stage, StageChange.to_stage, StageChange.changed_at
        )
        .where(StageChange.contact == contact["id"])
        .order_by(StageChange.id)
    )
    runs = (
        await RuleRun.select(
            RuleRun.rule, RuleRun.status, RuleRun.steps, RuleRun.started_at, RuleRun.finished_at
        )
        .where(RuleRun.contact == contact["id"])
        .order_by(RuleRun.id)
        .output(load_json=True)
    )
    plugins: dict[str, Any] = {}
    for plugin, section in await current_pm().acall(
        "export_contact_data", contact_id=contact["id"], actor=actor
    ):
        if section:
            plugins[plugin] = section
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": clock.now(),
        "contact_id": contact["id"],
        "core": {
            "contact": redact("contact", contact, actor),
            "stage_history": stages,
            "interactions": [redact("interaction", i, actor) for i in interactions],
            "audit": [
                {**row, "changes": _masked(row["table"], row["changes"], actor)} for row in audit
            ],
            "automation_runs": runs,
        },
        "plugins": plugins,
        "withheld": withheld_fields(actor),
    }
    return jsonable(document)


def _masked(table: str, changes: Any, actor: Actor) -> Any:
    return mask_changes(table, changes, actor) if isinstance(changes, dict) else changes


def _identifiers(contact: dict[str, Any]) -> list[str]:
    """Strings that identify the person, searched for in free-form stored data."""
    found = [*contact.get("emails", []), *contact.get("phones", [])]
    full = " ".join(p for p in (contact.get("first_name"), contact.get("last_name")) if p)
    if full:
        found.append(full)
    return [value for value in dict.fromkeys(found) if value and len(value) >= 4]


def _like_patterns(identifiers: list[str]) -> list[str]:
    """LIKE patterns for the identifiers as typed and as JSON stores them escaped."""
    patterns: list[str] = []
    for value in identifiers:
        for form in (value, json.dumps(value)[1:-1]):
            pattern = f"%{form}%"
            if pattern not in patterns:
                patterns.append(pattern)
    return patterns


def _mentions(stored: Any, contact_ids: list[int], identifiers: list[str], event: str = "") -> bool:
    """Does a stored JSON value hold the person's identifiers, or is it an event about them?"""
    from crmcore.services.automation_runs import contacts_of_event

    data = _load(stored)
    text = json.dumps(data, default=str, ensure_ascii=False)
    if any(value in text for value in identifiers):
        return True
    return (
        bool(event)
        and isinstance(data, dict)
        and any(c in contact_ids for c in contacts_of_event(event, data))
    )


async def _scrub_outbox(contact_ids: list[int], identifiers: list[str]) -> int:
    """Replace the payload of every event about the person with a marker."""
    patterns = _like_patterns(identifiers) + [f"%{c}%" for c in contact_ids]
    like = " OR ".join("CAST(payload AS TEXT) LIKE {}" for _ in patterns)
    rows = await OutboxEvent.raw(
        f"SELECT id, event, payload FROM outbox_event WHERE {like}", *patterns
    )
    ids = [
        row["id"]
        for row in rows
        if _mentions(row["payload"], contact_ids, identifiers, row["event"])
    ]
    if ids:
        await OutboxEvent.update(
            {OutboxEvent.payload: {ERASED_PAYLOAD_KEY: True, "contact_id": contact_ids[0]}}
        ).where(OutboxEvent.id.is_in(ids))
    return len(ids)


async def _scrub_jobs(identifiers: list[str]) -> int:
    """Queued jobs holding personal data lose their payload and are cancelled."""
    patterns = _like_patterns(identifiers)
    if not patterns:
        return 0
    like = " OR ".join("CAST(payload AS TEXT) LIKE {}" for _ in patterns)
    rows = await QueuedJob.raw(f"SELECT id, payload FROM automation_job WHERE {like}", *patterns)
    ids = [row["id"] for row in rows if _mentions(row["payload"], [], identifiers)]
    if ids:
        await QueuedJob.update(
            {
                QueuedJob.payload: {ERASED_PAYLOAD_KEY: True},
                QueuedJob.status: "cancelled",
                QueuedJob.last_error: "cancelled: its payload held data of an erased person",
                QueuedJob.finished_at: clock.now(),
            }
        ).where(QueuedJob.id.is_in(ids) & QueuedJob.status.is_in(["queued", "dead"]))
        await QueuedJob.update({QueuedJob.payload: {ERASED_PAYLOAD_KEY: True}}).where(
            QueuedJob.id.is_in(ids)
        )
    return len(ids)


async def _scrub_delivery_errors(identifiers: list[str]) -> int:
    """Receivers sometimes echo the body in their error answer, which the log keeps."""
    count = 0
    for pattern in _like_patterns(identifiers):
        rows = (
            await WebhookAttempt.update({WebhookAttempt.error: "[erased]"})
            .where(WebhookAttempt.error.like(pattern))
            .returning(WebhookAttempt.id)
        )
        count += len(rows)
    return count


def _points_at(changes: Any, contact_ids: list[int]) -> bool:
    """Does an audit diff link its record to the person (``contact`` or ``contact_id``)?"""
    if not isinstance(changes, dict):
        return False
    for key in ("contact", "contact_id"):
        pair = changes.get(key)
        if isinstance(pair, list) and any(value in contact_ids for value in pair):
            return True
    return False


async def _scrub_other_audit(contact_ids: list[int], identifiers: list[str]) -> int:
    """Audit rows of records other than the contact and its interactions that belonged to
    the person (a plugin's row linked to the contact, e.g. an employee record) or that hold
    their identifiers. The plugins delete such rows in ``erase_contact_data``; the audit
    entries of those rows are scrubbed here so no plugin has to remember it."""
    from crmcore.services.audit_admin import scrub_audit_for

    text = "CAST(changes AS TEXT) LIKE {}"
    names = _like_patterns(identifiers)
    ids = [f"%{c}%" for c in contact_ids]
    linked = f"({text} AND ({' OR '.join(text for _ in ids)}))"
    like = " OR ".join([text] * len(names) + [linked])
    rows = await AuditLog.raw(
        "SELECT table_name, record_id, changes FROM audit_log "
        f"WHERE table_name NOT IN ('contact', 'interaction') AND ({like})",
        *names,
        '%"contact%',
        *ids,
    )
    records = {
        (row["table_name"], row["record_id"])
        for row in rows
        if _points_at(_load(row["changes"]), contact_ids)
        or _mentions(row["changes"], [], identifiers)
    }
    scrubbed = 0
    for table, record_id in sorted(records):
        scrubbed += await scrub_audit_for(table, record_id)
    return scrubbed


async def _merged_into(contact_id: int) -> list[int]:
    """Ids of contacts merged into this one (directly or through earlier merges): their
    audit rows describe the same person."""
    found: list[int] = []
    frontier = [contact_id]
    while frontier:
        current = frontier.pop()
        rows = (
            await AuditLog.select(AuditLog.changes)
            .where(
                (AuditLog.table_name == "contact")
                & (AuditLog.record_id == current)
                & (AuditLog.action == "merge")
            )
            .output(load_json=True)
        )
        for row in rows:
            merged = ((row["changes"] or {}).get("merged_id") or [None, None])[1]
            if isinstance(merged, int) and merged not in found and merged != contact_id:
                found.append(merged)
                frontier.append(merged)
    return found


async def erase_contact(contact_id: int, actor: Actor) -> dict[str, Any]:
    """Erase the person everywhere; returns counts of what was removed (no personal data)."""
    from crmcore.services.audit_admin import scrub_audit_for

    _require(actor)
    pm = current_pm()
    sqlite = current_database().is_sqlite
    async with write_transaction():
        if sqlite:
            # Overwrite freed pages with zeros instead of leaving the person in the file.
            await Contact.raw("PRAGMA secure_delete = ON")
        contact = await _contact(contact_id)
        contact_id = contact["id"]
        identifiers = _identifiers(contact)
        interaction_ids = await _interaction_ids(contact_id)
        plugins = [name for name, _ in await pm.acall("erase_contact_data", contact_id=contact_id)]
        person = [contact_id, *await _merged_into(contact_id)]
        scrubbed = 0
        for record_id in person:
            scrubbed += await scrub_audit_for("contact", record_id)
        for interaction_id in interaction_ids:
            scrubbed += await scrub_audit_for("interaction", interaction_id)
        scrubbed += await _scrub_other_audit(person, identifiers)
        summary = {
            "contact_id": contact_id,
            "interactions": len(interaction_ids),
            "audit_rows_scrubbed": scrubbed,
            "events_scrubbed": await _scrub_outbox(person, identifiers),
            "jobs_scrubbed": await _scrub_jobs(identifiers),
            "delivery_errors_scrubbed": await _scrub_delivery_errors(identifiers),
            "plugins": plugins,
        }
        await Interaction.delete().where(Interaction.contact == contact_id)
        await Contact.delete().where(Contact.id == contact_id)
        await record_audit(
            table="contact",
            record_id=contact_id,
            action="erase",
            changes={"erasure": [None, {k: v for k, v in summary.items() if k != "contact_id"}]},
            actor=actor,
            plugin="automation",
        )
        await emit_event("contact.erased", {"id": contact_id})
        if sqlite and await _has_table("contact_fts"):
            # FTS5 keeps deleted terms in old index segments until they are merged.
            await Contact.raw("INSERT INTO contact_fts (contact_fts) VALUES ('optimize')")
    return summary


async def _has_table(name: str) -> bool:
    rows = await Contact.raw(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = {}", name
    )
    return bool(rows)
