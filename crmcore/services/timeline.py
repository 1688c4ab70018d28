"""A contact's timeline: everything that happened with them, newest first, in one list.

The core contributes interactions, tasks and lifecycle stage changes; plugins contribute
their own entries through the ``timeline_entries`` hook (a geofence visit, a campaign
email opened, a project milestone). Each source returns at most ``limit`` of its newest
entries; the merge keeps the ``limit`` newest of all.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from crmcore.errors import NotFound
from crmcore.services.actor import Actor
from crmcore.services.context import current_pm
from crmcore.services.interaction_input import parse_datetime
from crmcore.services.interactions import as_dict, require
from crmcore.services.pagination import check_limit
from crmcore.tables import Contact, Interaction, StageChange

__all__ = ["TimelineEntry", "contact_timeline"]

log = logging.getLogger("crmcore.timeline")


@dataclass
class TimelineEntry:
    """One item of a contact's timeline.

    ``kind`` says what it is (``interaction``, ``task``, ``stage``, or a plugin's own word),
    ``at`` when it happened (or is due), ``plugin`` who contributed it, ``url`` where a
    person can see more, ``data`` anything else a page or client may use (JSON values).
    """

    kind: str
    at: datetime
    title: str
    body: str = ""
    channel: str | None = None
    plugin: str = "core"
    url: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _interaction_entry(row: dict[str, Any]) -> TimelineEntry:
    item = as_dict(row)
    is_task = item["status"] is not None
    title = item["subject"] or f"{item['channel']} ({item['direction']})"
    data: dict[str, Any] = {
        "id": item["id"],
        "direction": item["direction"],
        "author_id": item["author_id"],
    }
    if item["value"] is not None:
        data.update(value=str(item["value"]), currency=item["currency"])
    if is_task:
        data.update(
            status=item["status"],
            due_at=item["due_at"].isoformat() if item["due_at"] else None,
            assignee_id=item["assignee_id"],
            completed_by_id=item["completed_by_id"],
        )
    return TimelineEntry(
        kind="task" if is_task else "interaction",
        at=_aware(item["occurred_at"]),
        title=title,
        body=item["body"],
        channel=item["channel"],
        data=data,
    )


def _stage_entry(row: dict[str, Any]) -> TimelineEntry:
    before = row["from_stage"]
    title = f"Stage: {before} → {row['to_stage']}" if before else f"Stage: {row['to_stage']}"
    return TimelineEntry(
        kind="stage",
        at=_aware(row["changed_at"]),
        title=title,
        data={"from": before, "to": row["to_stage"], "changed_by_id": row["changed_by"]},
    )


async def _check_contact(contact_id: int, actor: Actor) -> None:
    row = await Contact.select(Contact.id, Contact.owner).where(Contact.id == contact_id).first()
    if row is None or (not actor.sees_all_records and row["owner"] != actor.user_id):
        raise NotFound(f"contact {contact_id} does not exist")


async def contact_timeline(
    contact_id: int, actor: Actor, limit: int = 50, before: str | datetime | None = None
) -> list[TimelineEntry]:
    """The ``limit`` newest entries about a contact (strictly older than ``before``).

    Merges the contact's interactions and tasks (cancelled tasks left out; a planned task
    sits at its due date, a done one at its completion), stage changes, and every plugin's
    ``timeline_entries``. Plugin entries are labelled with the plugin's name.
    """
    require(actor, "contacts.read")
    limit = check_limit(limit)
    cutoff = None if before in (None, "") else parse_datetime(before, "before")
    await _check_contact(contact_id, actor)

    interactions = (
        Interaction.select(*Interaction.all_columns())
        .where(Interaction.contact == contact_id)
        .where(Interaction.status.is_null() | (Interaction.status != "cancelled"))
        .order_by(Interaction.occurred_at, Interaction.id, ascending=False)
        .limit(limit)
        .output(load_json=True)
    )
    stages = (
        StageChange.select()
        .where(StageChange.contact == contact_id)
        .order_by(StageChange.changed_at, StageChange.id, ascending=False)
        .limit(limit)
    )
    if cutoff is not None:
        interactions = interactions.where(Interaction.occurred_at < cutoff)
        stages = stages.where(StageChange.changed_at < cutoff)
    entries = [_interaction_entry(row) for row in await interactions]
    entries += [_stage_entry(row) for row in await stages]

    pm = current_pm()
    for plugin, result in await pm.acall("timeline_entries", contact_id=contact_id, limit=limit):
        for entry in result or ():
            if not isinstance(entry, TimelineEntry):
                log.warning("plugin %r returned a %s from timeline_entries", plugin, type(entry))
                continue
            entry.at = _aware(entry.at)
            if entry.plugin == "core":
                entry.plugin = plugin
            if cutoff is None or entry.at < cutoff:
                entries.append(entry)

    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]
