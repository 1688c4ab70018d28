"""Planned interactions: tasks and reminders with a due date, an assignee and a status.

A task is an interaction row whose ``status`` is set (planned, done or cancelled), so a
completed call shows up in the contact's history on the channel it was planned for. While
planned, ``occurred_at`` holds the due date; completing the task moves it to the moment
it was done.

Record scope ``own``: an agent sees the tasks assigned to them, every task on the contacts
(and companies) they own, and the tasks they planned for others: the same rule as for
interactions, so a task they can list is a task they can open and complete.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crmcore.errors import Conflict, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import diff, record_audit
from crmcore.services.context import current_pm
from crmcore.services.interaction_input import (
    decode_time_cursor,
    encode_time_cursor,
    optional_id,
    parse_datetime,
    raise_errors,
)
from crmcore.services.interactions import (
    as_dict,
    check_user,
    fetch_row,
    insert_interaction,
    require,
    resolve_links,
    visible_to,
)
from crmcore.services.outbox import emit_event
from crmcore.services.pagination import Page, check_limit
from crmcore.services.transaction import after_commit, write_transaction
from crmcore.tables import CHANNELS, TASK_STATUSES, Interaction

__all__ = ["cancel_task", "complete_task", "create_task", "list_tasks"]

DEFAULT_TASK_CHANNEL = "phone"


async def create_task(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Plan an interaction and return it (status ``planned``).

    ``data``: ``subject`` (required), ``due_at`` (required, ISO 8601 or datetime),
    ``assignee_id`` (default: the actor), ``channel`` (what is planned: a call by default),
    ``body``, ``contact_id`` and/or ``company_id`` (optional: a reminder may stand alone),
    ``meta``. Fires ``interaction_logged`` after commit and records ``task.created``.
    """
    require(actor, "interactions.write")
    errors: dict[str, str] = {}
    subject = data.get("subject")
    if not isinstance(subject, str) or not subject.strip():
        errors["subject"] = "is required: say what is to be done"
    elif len(subject) > 500:
        errors["subject"] = "must be at most 500 characters"
    body = data.get("body") or ""
    if not isinstance(body, str):
        errors["body"] = "must be text"
    channel = data.get("channel") or DEFAULT_TASK_CHANNEL
    if channel not in CHANNELS:
        errors["channel"] = f"must be one of {', '.join(CHANNELS)}"
    due_at = None
    if data.get("due_at") in (None, ""):
        errors["due_at"] = "is required: when is it due?"
    else:
        try:
            due_at = parse_datetime(data["due_at"], "due_at")
        except ValidationError as exc:
            errors.update(exc.errors)
    meta = data.get("meta") or {}
    if not isinstance(meta, dict):
        errors["meta"] = "must be an object"
    contact_id = optional_id(data, "contact_id", errors)
    company_id = optional_id(data, "company_id", errors)
    assignee_id = optional_id(data, "assignee_id", errors)
    raise_errors(errors)
    if assignee_id is None:
        assignee_id = actor.user_id
    if assignee_id is None:
        raise_errors({"assignee_id": "is required when no user is acting (e.g. from a job)"})
    await check_user(assignee_id, "assignee_id", errors)
    contact_id, company_id = await resolve_links(contact_id, company_id, actor, errors)
    raise_errors(errors)
    fields = {
        "contact": contact_id,
        "company": company_id,
        "channel": channel,
        "direction": "outbound",
        "occurred_at": due_at,
        "subject": subject.strip(),
        "body": body,
        "author": actor.user_id,
        "meta": meta,
        "status": "planned",
        "due_at": due_at,
        "assignee": assignee_id,
    }
    return await insert_interaction(fields, actor, event="task.created")


async def _finish(task_id: int, actor: Actor, status: str) -> tuple[dict, dict]:
    """Move a planned task to ``status``; returns the task before and after."""
    require(actor, "interactions.write")
    async with write_transaction():
        current = await fetch_row(task_id, actor)
        if current["status"] is None:
            raise Conflict(f"interaction {task_id} is not a task (it has no due date)")
        if current["status"] != "planned":
            raise Conflict(f"task {task_id} is already {current['status']}")
        now = datetime.now(UTC)
        values: dict[Any, Any] = {Interaction.status: status}
        if status == "done":
            values.update(
                {
                    Interaction.completed_at: now,
                    Interaction.completed_by: actor.user_id,
                    Interaction.occurred_at: now,
                }
            )
        await Interaction.update(values).where(Interaction.id == task_id)
        before, after = as_dict(current), as_dict(await fetch_row(task_id, None))
        changes = diff(before, after)
        await record_audit(
            table="interaction", record_id=task_id, action=status, changes=changes, actor=actor
        )
        event = "task.completed" if status == "done" else "task.cancelled"
        await emit_event(event, after)
        if status == "done":
            pm = current_pm()
            after_commit(lambda: pm.fire("task_completed", interaction=after, actor=actor))
    return before, after


async def complete_task(task_id: int, actor: Actor) -> dict[str, Any]:
    """Mark a planned task done, recording when and by whom.

    Records ``task.completed`` and fires ``task_completed`` after commit. Completing a task
    that is not planned (already done or cancelled) is a Conflict (409).
    """
    _before, after = await _finish(task_id, actor, "done")
    return after


async def cancel_task(task_id: int, actor: Actor) -> dict[str, Any]:
    """Cancel a planned task (records ``task.cancelled``); it stays in the audit trail."""
    _before, after = await _finish(task_id, actor, "cancelled")
    return after


def _assignee_id(assignee: int | str | None, actor: Actor) -> int | None:
    if assignee == "me":
        if actor.user_id is None:
            raise ValidationError.for_field("assignee", "'me' needs a signed-in user")
        return actor.user_id
    if assignee is None or assignee == "":
        return None
    if isinstance(assignee, int) and not isinstance(assignee, bool):
        return assignee
    if isinstance(assignee, str) and assignee.isdigit():
        return int(assignee)
    raise ValidationError.for_field("assignee", "must be a user id or 'me'")


async def list_tasks(
    actor: Actor,
    assignee: int | str | None = None,
    due_before: datetime | str | None = None,
    due_after: datetime | str | None = None,
    status: str | None = "planned",
    cursor: str | None = None,
    limit: int = 50,
    contact_id: int | None = None,
) -> Page:
    """Tasks by due date, soonest first (overdue ones lead).

    ``assignee`` is a user id, ``"me"`` or None (everyone the actor may see); ``status``
    one of planned/done/cancelled, or None for all. Keyset-paginated on (due_at, id).
    """
    require(actor, "contacts.read")
    limit = check_limit(limit)
    if status is not None and status not in TASK_STATUSES:
        raise ValidationError.for_field("status", f"must be one of {', '.join(TASK_STATUSES)}")
    query = (
        Interaction.select(*Interaction.all_columns())
        .where(Interaction.status.is_not_null())
        .order_by(Interaction.due_at, Interaction.id)
        .limit(limit + 1)
        .output(load_json=True)
    )
    if status is not None:
        query = query.where(Interaction.status == status)
    assignee_id = _assignee_id(assignee, actor)
    if assignee_id is not None:
        query = query.where(Interaction.assignee == assignee_id)
    if due_before not in (None, ""):
        query = query.where(Interaction.due_at < parse_datetime(due_before, "due_before"))
    if due_after not in (None, ""):
        query = query.where(Interaction.due_at >= parse_datetime(due_after, "due_after"))
    if contact_id is not None:
        query = query.where(Interaction.contact == contact_id)
    condition = visible_to(actor)
    if condition is not None:
        query = query.where(condition)
    if cursor:
        at, last_id = decode_time_cursor(cursor)
        query = query.where(
            (Interaction.due_at > at) | ((Interaction.due_at == at) & (Interaction.id > last_id))
        )
    rows = await query
    items = [as_dict(row) for row in rows[:limit]]
    more = len(rows) > limit
    next_cursor = encode_time_cursor(items[-1]["due_at"], items[-1]["id"]) if more else None
    return Page(items=items, next=next_cursor)
