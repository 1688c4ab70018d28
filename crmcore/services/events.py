"""Dispatching the outbox: after commit, every event reaches webhooks, rules and plugins.

Events are written to ``outbox_event`` in the transaction of their change
(:func:`crmcore.services.outbox.emit_event`). The periodic job
``automation.dispatch_events`` reads undispatched events in id order and, in one
transaction per batch, creates a delivery job per subscribed webhook and a run job per
matching automation rule, then marks the events dispatched. After that commit the
``event_emitted`` hook is called for each event. On the embedded queue the jobs and the
mark commit together, so an event is fanned out exactly once; on PostgreSQL the batch is
locked ``FOR UPDATE``, so two dispatchers never take the same events.
"""

from __future__ import annotations

import json
from typing import Any

from crmcore.db.runtime import current_database
from crmcore.jobs import clock
from crmcore.services.automation_runs import enabled_event_rules, trigger_rules_for_event
from crmcore.services.context import current_pm
from crmcore.services.transaction import after_commit, write_transaction
from crmcore.services.webhooks import active_webhooks, create_deliveries
from crmcore.tables import OutboxEvent

DISPATCH_JOB = "automation.dispatch_events"
BATCH_SIZE = 200

# Events this built-in emits itself; the others declare theirs through ``event_types``.
AUTOMATION_EVENT_TYPES: tuple[str, ...] = ("contact.erased",)


def known_event_types(pm: Any) -> list[str]:
    """Every event name the core and the enabled plugins declare, sorted."""
    names: set[str] = set()
    for _plugin, result in pm.call_in_order("event_types"):
        names.update(result or ())
    return sorted(names)


async def _claim_batch(limit: int) -> list[dict[str, Any]]:
    lock = " FOR UPDATE" if current_database().engine.engine_type == "postgres" else ""
    rows = await OutboxEvent.raw(
        "SELECT id, event, payload, created_at FROM outbox_event "
        f"WHERE dispatched_at IS NULL ORDER BY id LIMIT {{}}{lock}",
        limit,
    )
    for row in rows:
        if isinstance(row["payload"], str):
            row["payload"] = json.loads(row["payload"])
    return rows


async def dispatch_events(batch_size: int = BATCH_SIZE) -> int:
    """Fan out every undispatched event; returns how many were dispatched."""
    pm = current_pm()
    total = 0
    if not await OutboxEvent.exists().where(OutboxEvent.dispatched_at.is_null()):
        return total  # nothing new: no write transaction (and no SQLite write lock)
    while True:
        async with write_transaction():
            events = await _claim_batch(batch_size)
            if not events:
                return total
            webhooks = await active_webhooks()
            rules = await enabled_event_rules()
            for event in events:
                await create_deliveries(event["id"], event["event"], webhooks)
                await trigger_rules_for_event(event["id"], event["event"], event["payload"], rules)
            await OutboxEvent.update({OutboxEvent.dispatched_at: clock.now()}).where(
                OutboxEvent.id.is_in([e["id"] for e in events])
            )
            for event in events:
                after_commit(
                    lambda e=event: pm.fire("event_emitted", event=e["event"], payload=e["payload"])
                )
        total += len(events)
        if len(events) < batch_size:
            return total


async def dispatch_job(payload: dict[str, Any], ctx: Any) -> int:
    """Job body of ``automation.dispatch_events``."""
    return await dispatch_events()
