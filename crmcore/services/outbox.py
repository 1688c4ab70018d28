"""The outbox: events recorded in the same transaction as the change they describe.

Delivery (webhooks, automation) reads the outbox after commit, so an event exists if and
only if its change was committed.
"""

from __future__ import annotations

from typing import Any

from crmcore.services.audit import jsonable
from crmcore.tables import OutboxEvent


async def emit_event(event: str, payload: dict[str, Any]) -> int:
    """Record ``event`` (``contact.created``, ``geo.geofence_entered``…) in the outbox.

    Call inside the write transaction; returns the event id.
    """
    rows = await OutboxEvent.insert(OutboxEvent(event=event, payload=jsonable(payload)))
    return int(rows[0]["id"])
