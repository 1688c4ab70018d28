"""Campaigns: one-off broadcasts to a segment and drip sequences.

Starting a broadcast inserts one ``marketing_send`` row per recipient in a single
``INSERT … SELECT`` (the segment's WHERE clause, an email address, not do-not-contact),
guarded by the UNIQUE (campaign, step, contact) index, and queues the sending job in the
same transaction. Pausing flips the status; senders see it between messages and hand
their unsent claims back.
"""

from __future__ import annotations

import json
from typing import Any

from crm_marketing.drip_steps import check_steps, check_trigger
from crm_marketing.history import audit
from crm_marketing.segments import NOT_SUPPRESSED, get_segment, segment_where
from crm_marketing.tables import Campaign
from crm_marketing.templates_store import get_template
from crmcore.errors import Conflict, NotFound, ValidationError
from crmcore.jobs import clock, enqueue
from crmcore.services.actor import Actor
from crmcore.services.outbox import emit_event
from crmcore.services.records import fetch, iso, load_json, require
from crmcore.services.transaction import write_transaction

KINDS = ("broadcast", "drip")
SEND_JOB = "marketing.send_campaign"


def _shape(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "name": row["name"], "kind": row["kind"], "status": row["status"],
        "segment_id": row["segment"], "template_id": row["template"], "subject": row["subject"],
        "steps": load_json(row["steps"], []), "trigger": load_json(row["trigger"], {}),
        "created_at": iso(row["created_at"]), "started_at": iso(row["started_at"]),
        "finished_at": iso(row["finished_at"]),
    }  # fmt: skip


async def _ref(value: Any, getter: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int((await getter(int(value)))["id"])
    return int((await getter(str(value)))["id"])


async def create_campaign(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """A draft broadcast (``segment``, ``template``, ``subject``) or a drip (``steps``,
    ``trigger``). Segments and templates may be given by id or by name."""
    require(actor, "marketing.write")
    kind = data.get("kind") or "broadcast"
    if kind not in KINDS:
        raise ValidationError.for_field("kind", "must be 'broadcast' or 'drip'.")
    name = str(data.get("name") or "").strip()
    segment_id = await _ref(data.get("segment"), get_segment)
    template_id = await _ref(data.get("template"), get_template)
    if kind == "broadcast":
        errors = {}
        if segment_id is None:
            errors["segment"] = "a broadcast needs a segment."
        if template_id is None:
            errors["template"] = "a broadcast needs a template."
        if errors:
            raise ValidationError("the broadcast is incomplete.", errors)
        steps: list[dict[str, Any]] = []
        trigger: dict[str, Any] = {}
    else:
        steps = await check_steps(data.get("steps") or [])
        trigger = await check_trigger(data.get("trigger") or {})
    if not name:
        name = f"{kind} {clock.now():%Y-%m-%d %H:%M}"
    subject = str(data.get("subject") or "")[:500]
    async with write_transaction():
        rows = await Campaign.insert(
            Campaign(
                name=name[:200], kind=kind, status="draft", segment=segment_id,
                template=template_id, subject=subject, steps=json.dumps(steps),
                trigger=json.dumps(trigger), created_at=clock.now(),
            )
        )  # fmt: skip
        campaign_id = int(rows[0]["id"])
        await audit(actor, "create", "marketing_campaign", campaign_id,
                           {"name": [None, name], "kind": [None, kind]})  # fmt: skip
    return await get_campaign(campaign_id)


async def get_campaign(campaign_id: int) -> dict[str, Any]:
    rows = await fetch("SELECT * FROM marketing_campaign WHERE id = {}", [campaign_id])
    if not rows:
        raise NotFound(f"there is no campaign {campaign_id}.")
    return _shape(rows[0])


async def list_campaigns() -> list[dict[str, Any]]:
    rows = await fetch("SELECT * FROM marketing_campaign ORDER BY id DESC")
    counts = {
        r["campaign"]: r
        for r in await fetch(
            "SELECT campaign, count(*) AS total, "
            "sum(CASE WHEN state = 'sent' THEN 1 ELSE 0 END) AS sent "
            "FROM marketing_send GROUP BY campaign"
        )
    }
    result = []
    for row in rows:
        campaign = _shape(row)
        count = counts.get(row["id"]) or {}
        campaign["total"] = int(count.get("total") or 0)
        campaign["sent"] = int(count.get("sent") or 0)
        result.append(campaign)
    return result


async def _set_status(campaign_id: int, status: str, actor: Actor, **extra: Any) -> None:
    before = await get_campaign(campaign_id)
    values = {Campaign.status: status, **{getattr(Campaign, k): v for k, v in extra.items()}}
    await Campaign.update(values).where(Campaign.id == campaign_id)
    await audit(actor, "update", "marketing_campaign", campaign_id,
                       {"status": [before["status"], status]})  # fmt: skip
    await emit_event(f"marketing.campaign_{status}", {"campaign_id": campaign_id})


async def start_campaign(campaign_id: int, actor: Actor) -> dict[str, Any]:
    """Start a draft: a broadcast queues one send per mailable segment member and the
    sending job; a drip becomes active (enrolments follow its trigger). Returns the
    campaign with ``queued``, the number of messages queued."""
    require(actor, "marketing.send")
    campaign = await get_campaign(campaign_id)
    if campaign["status"] != "draft":
        raise Conflict(f"campaign {campaign_id} is {campaign['status']}, not a draft.")
    queued = 0
    async with write_transaction():
        if campaign["kind"] == "drip":
            await _set_status(campaign_id, "active", actor, started_at=clock.now())
        else:
            segment = await get_segment(int(campaign["segment_id"]))
            queued = await queue_sends(campaign_id, 0, segment_where(segment))
            await _set_status(campaign_id, "sending", actor, started_at=clock.now())
            await enqueue(SEND_JOB, {"campaign_id": campaign_id})
    return {**await get_campaign(campaign_id), "queued": queued}


async def queue_sends(campaign_id: int, step: int, where: tuple[str, list[Any]]) -> int:
    """Insert queued sends for every mailable contact matching ``where``; contacts that
    already have a send for this step are skipped by the unique index. Returns how many
    rows were added."""
    sql, args = where
    before = await _send_count(campaign_id, step)
    await fetch(
        "INSERT INTO marketing_send (campaign, step, contact, email, state, attempts, "
        "message_id, links, error, queued_at) "
        "SELECT {}, {}, contact.id, contact.email, 'queued', 0, '', '[]', '', {} FROM contact "
        f"WHERE ({sql}) AND contact.email IS NOT NULL AND contact.email <> '' "
        f"AND {NOT_SUPPRESSED} ON CONFLICT DO NOTHING",
        [campaign_id, step, clock.now(), *args],
    )
    return await _send_count(campaign_id, step) - before


async def _send_count(campaign_id: int, step: int) -> int:
    rows = await fetch(
        "SELECT count(*) AS n FROM marketing_send WHERE campaign = {} AND step = {}",
        [campaign_id, step],
    )
    return int(rows[0]["n"])


async def pause_campaign(campaign_id: int, actor: Actor) -> dict[str, Any]:
    """Stop handing messages to SMTP; messages already handed over stay sent."""
    require(actor, "marketing.send")
    campaign = await get_campaign(campaign_id)
    if campaign["status"] not in ("sending", "active"):
        raise Conflict(f"campaign {campaign_id} is {campaign['status']}; only a sending "
                       "broadcast or an active drip can be paused.")  # fmt: skip
    async with write_transaction():
        await _set_status(campaign_id, "paused", actor)
    return await get_campaign(campaign_id)


async def resume_campaign(campaign_id: int, actor: Actor) -> dict[str, Any]:
    """Continue a paused campaign where it stopped: only sends not yet made go out."""
    require(actor, "marketing.send")
    campaign = await get_campaign(campaign_id)
    if campaign["status"] != "paused":
        raise Conflict(f"campaign {campaign_id} is {campaign['status']}, not paused.")
    async with write_transaction():
        if campaign["kind"] == "drip":
            await _set_status(campaign_id, "active", actor)
        else:
            await _set_status(campaign_id, "sending", actor)
        await enqueue(SEND_JOB, {"campaign_id": campaign_id})
    return await get_campaign(campaign_id)


async def pending_sends(campaign_id: int) -> int:
    """Sends not yet handed to SMTP (queued, or claimed by a sender)."""
    rows = await fetch(
        "SELECT count(*) AS n FROM marketing_send WHERE campaign = {} "
        "AND state IN ('queued', 'sending')",
        [campaign_id],
    )
    return int(rows[0]["n"])


async def finish_if_done(campaign_id: int) -> bool:
    """Mark a sending broadcast ``sent`` once no send is pending; True if it is done."""
    if await pending_sends(campaign_id):
        return False
    campaign = await get_campaign(campaign_id)
    if campaign["kind"] == "broadcast" and campaign["status"] == "sending":
        from crmcore.services.actor import SYSTEM

        async with write_transaction():
            await _set_status(campaign_id, "sent", SYSTEM, finished_at=clock.now())
    return True
