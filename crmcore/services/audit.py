"""The audit log: append-only rows of who changed which record, field by field.

Writers call ``record_audit`` inside their write transaction. Readers get entries through
``list_audit``, which masks values of restricted fields the reader may not see.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from crmcore.permissions import mask_changes
from crmcore.services.actor import Actor
from crmcore.tables import AuditLog


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return value


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """Field-level changes as ``{field: [before, after]}`` (only fields that differ)."""
    before, after = before or {}, after or {}
    changes = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            changes[key] = [jsonable(old), jsonable(new)]
    return changes


async def record_audit(
    *,
    table: str,
    record_id: int,
    action: str,
    changes: dict[str, Any],
    actor: Actor,
    plugin: str = "core",
) -> None:
    """Append one audit row (call inside the write transaction)."""
    await AuditLog.insert(
        AuditLog(
            actor=actor.user_id,
            actor_label=actor.label,
            action=action,
            table_name=table,
            record_id=record_id,
            changes=jsonable(changes),
            plugin=plugin,
        )
    )


async def list_audit(
    reader: Actor,
    *,
    table: str | None = None,
    record_id: int | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Newest first; restricted values are masked unless ``reader`` may see them."""
    query = (
        AuditLog.select()
        .order_by(AuditLog.id, ascending=False)
        .limit(limit)
        .output(load_json=True)
    )
    if table is not None:
        query = query.where(AuditLog.table_name == table)
    if record_id is not None:
        query = query.where(AuditLog.record_id == record_id)
    if before_id is not None:
        query = query.where(AuditLog.id < before_id)
    rows = await query
    for row in rows:
        row["changes"] = mask_changes(row["table_name"], row["changes"] or {}, reader)
    return rows
