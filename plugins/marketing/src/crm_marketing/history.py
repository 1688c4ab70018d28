"""The audit trail of marketing records, in the core's audit log under this plugin's name."""

from __future__ import annotations

from typing import Any

from crmcore.services.actor import Actor
from crmcore.services.audit import record_audit


async def audit(
    actor: Actor, action: str, table: str, record_id: int, changes: dict[str, Any]
) -> None:
    """Append an audit row (inside the write transaction)."""
    await record_audit(table=table, record_id=record_id, action=action, changes=changes,
                       actor=actor, plugin="marketing")  # fmt: skip
