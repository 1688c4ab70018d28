"""Running drip campaigns: enrolments advance through their steps when due.

The periodic job ``marketing.drip_tick`` enrols contacts that entered trigger segments
and runs every due enrolment. Each enrolment is taken with a guarded UPDATE (its step and
due time must still match), so two ticks never run the same step; send steps insert a
``marketing_send`` row for (campaign, step, contact), which the unique index makes
exactly-once, and the sending job delivers it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from crm_marketing.campaigns import SEND_JOB, get_campaign, queue_sends
from crm_marketing.drip_steps import GEOFENCE_EVENTS
from crm_marketing.segments import get_segment, segment_where
from crmcore.jobs import clock, enqueue
from crmcore.services.actor import SYSTEM, Actor
from crmcore.services.records import fetch, load_json
from crmcore.services.transaction import write_transaction

BATCH = 500
log = logging.getLogger("crm_marketing.drip")


async def enrol(campaign_id: int, contact_ids: list[int]) -> int:
    """Enrol contacts in an active drip (contacts already enrolled stay where they are);
    returns how many were new."""
    ids = sorted({int(i) for i in contact_ids})
    if not ids:
        return 0
    marks = ", ".join("{}" for _ in ids)
    return await _enrol_where(campaign_id, f"contact.id IN ({marks})", ids)


async def _enrol_where(campaign_id: int, where: str, args: list[Any]) -> int:
    now = clock.now()
    async with write_transaction():
        before = await _count(campaign_id)
        await fetch(
            "INSERT INTO marketing_enrolment (campaign, contact, step, state, next_at, "
            "enrolled_at) SELECT {}, contact.id, 0, 'active', {}, {} FROM contact "
            f"WHERE {where} ON CONFLICT DO NOTHING",
            [campaign_id, now, now, *args],
        )
        return await _count(campaign_id) - before


async def _count(campaign_id: int) -> int:
    rows = await fetch(
        "SELECT count(*) AS n FROM marketing_enrolment WHERE campaign = {}", [campaign_id]
    )
    return int(rows[0]["n"])


async def enrol_segment_triggers() -> int:
    """Enrol the members of every active drip's trigger segment (new members only)."""
    added = 0
    for row in await fetch(
        "SELECT id, trigger FROM marketing_campaign WHERE kind = 'drip' AND status = 'active'"
    ):
        trigger = load_json(row["trigger"], {})
        if "segment" in trigger:
            sql, args = segment_where(await get_segment(int(trigger["segment"])))
            added += await _enrol_where(int(row["id"]), f"({sql})", args)
    return added


async def enrol_for_event(event: str, payload: dict[str, Any]) -> None:
    """Enrol the contacts of a core event, or of a geofence event of the geo plugin, in the
    drips it triggers."""
    if event == "contact.created":
        ids = [payload.get("id") or payload.get("contact_id")]
    elif event == "contact.tagged":
        ids = list(payload.get("contact_ids") or [])
    elif event in GEOFENCE_EVENTS:
        ids = [payload.get("contact_id")]
    else:
        return
    ids = [int(i) for i in ids if i]
    tags = {str(t).lower() for t in payload.get("tags") or []}
    for row in await fetch(
        "SELECT id, trigger FROM marketing_campaign WHERE kind = 'drip' AND status = 'active'"
    ):
        trigger = load_json(row["trigger"], {})
        if trigger.get("event") != event:
            continue
        if event == "contact.tagged" and str(trigger.get("tag", "")).lower() not in tags:
            continue
        fence = trigger.get("geofence_id")
        if fence is not None and str(payload.get("geofence_id")) != str(fence):
            continue
        await enrol(int(row["id"]), ids)


def _next_window(now: datetime, start: int, end: int) -> datetime:
    """``now`` if its UTC hour is inside [start, end), else the next start of the window."""
    hour = now.hour
    inside = start <= hour < end if start < end else (hour >= start or hour < end)
    if inside:
        return now
    candidate = now.replace(hour=start % 24, minute=0, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


async def _condition(step: dict[str, Any], campaign_id: int, contact_id: int) -> bool:
    check = step["check"]
    if check == "field":
        rows = await fetch("SELECT * FROM contact WHERE id = {}", [contact_id])
        if not rows:
            return False
        row = dict(rows[0])
        field = str(step["field"])
        value = row.get(field) if field in row else load_json(row.get("custom"), {}).get(field)
        return str(value or "") == str(step.get("value") or "")
    column = "opened_at" if "opened" in check else "clicked_at"
    rows = await fetch(
        f"SELECT {column} AS at FROM marketing_send WHERE campaign = {{}} AND step = {{}} "
        "AND contact = {}",
        [campaign_id, int(step["step"]), contact_id],
    )
    happened = bool(rows and rows[0]["at"] is not None)
    return happened if not check.startswith("not_") else not happened


async def _run_step(
    step: dict[str, Any], index: int, campaign: dict[str, Any], contact_id: int, actor: Actor
) -> tuple[str, datetime | None]:
    """Run one step; returns ("next", None), ("wait", until) or ("exit", None)."""
    kind = step["type"]
    now = clock.now()
    if kind == "send":
        await queue_sends(campaign["id"], index, ("contact.id = {}", [contact_id]))
    elif kind == "wait":
        return "wait", now + timedelta(days=step.get("days", 0), hours=step.get("hours", 0))
    elif kind == "wait_until":
        until = _next_window(now, int(step["hour_from"]), int(step["hour_to"]))
        if until > now:
            return "wait", until
    elif kind == "condition":
        if not await _condition(step, campaign["id"], contact_id):
            return "exit", None
    elif kind == "add_tag":
        from crmcore.services.tags import add_tags

        await add_tags([contact_id], [str(step["tag"])], actor)
    elif kind == "set_stage":
        from crmcore.services.contacts import update_contact

        await update_contact(contact_id, {"stage": step["stage"]}, actor)
    elif kind == "create_task":
        from crm_marketing.rendering import render_text
        from crm_marketing.templates_store import contact_rows
        from crmcore.services.tasks import create_task

        contact = (await contact_rows([contact_id]))[contact_id]
        owner = (await fetch("SELECT owner FROM contact WHERE id = {}", [contact_id]))[0]["owner"]
        assignee = step.get("assignee_id") or owner
        if assignee is None:
            # A task nobody is assigned to would never be seen: the step is skipped.
            log.warning("drip %s: contact %s has no owner; task step skipped",
                        campaign["id"], contact_id)  # fmt: skip
            return "next", None
        due = now + timedelta(days=float(step.get("due_days", 1) or 1))
        task = {"contact_id": contact_id, "due_at": due.isoformat(), "assignee_id": assignee,
                "subject": render_text(str(step["title"]), contact)[:500]}  # fmt: skip
        await create_task(task, actor)
    return "next", None


async def run_due_enrolments(limit: int = BATCH) -> int:
    """Advance every due enrolment of active drips as far as it goes; returns how many
    enrolments were advanced."""
    now = clock.now()
    rows = await fetch(
        "SELECT e.id, e.campaign, e.contact, e.step, e.next_at FROM marketing_enrolment e "
        "JOIN marketing_campaign c ON c.id = e.campaign "
        "WHERE e.state = 'active' AND c.status = 'active' AND e.next_at <= {} "
        "ORDER BY e.next_at, e.id LIMIT {}",
        [now, limit],
    )
    campaigns: dict[int, dict[str, Any]] = {}
    sending: set[int] = set()
    for row in rows:
        campaign_id = int(row["campaign"])
        if campaign_id not in campaigns:
            campaigns[campaign_id] = await get_campaign(campaign_id)
        if await _advance(row, campaigns[campaign_id], now):
            sending.add(campaign_id)
    for campaign_id in sending:
        await enqueue(SEND_JOB, {"campaign_id": campaign_id})
    return len(rows)


async def _advance(row: dict[str, Any], campaign: dict[str, Any], now: datetime) -> bool:
    """Run one enrolment's steps from its current one; True if a send was queued."""
    actor = Actor(user_id=None, label=f"drip campaign {campaign['id']}",
                  permissions=SYSTEM.permissions, is_system=True)  # fmt: skip
    queued = False
    async with write_transaction():
        taken = await fetch(
            "UPDATE marketing_enrolment SET next_at = {} WHERE id = {} AND step = {} "
            "AND state = 'active' AND next_at <= {} RETURNING id",
            [now + timedelta(minutes=10), row["id"], row["step"], now],
        )
        if not taken:
            return False
        index, state, next_at = int(row["step"]), "active", None
        steps = campaign["steps"]
        while index < len(steps):
            outcome, until = await _run_step(steps[index], index, campaign, int(row["contact"]),
                                             actor)  # fmt: skip
            queued = queued or steps[index]["type"] == "send"
            index += 1
            if outcome == "exit":
                state = "exited"
                break
            if outcome == "wait":
                next_at = until
                break
        if index >= len(steps) and state == "active" and next_at is None:
            state = "done"
        await fetch(
            "UPDATE marketing_enrolment SET step = {}, state = {}, next_at = {} WHERE id = {}",
            [index, state, next_at, row["id"]],
        )
    return queued


async def drip_tick_job(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Job ``marketing.drip_tick`` (every minute): segment triggers, then due steps."""
    enrolled = await enrol_segment_triggers()
    advanced = 0
    while True:
        count = await run_due_enrolments()
        advanced += count
        if count < BATCH:
            break
    return {"enrolled": enrolled, "advanced": advanced}
