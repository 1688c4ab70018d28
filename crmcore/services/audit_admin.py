"""The one sanctioned way to change audit rows: scrubbing a person's data for erasure.

``audit_log`` is append-only: database triggers refuse UPDATE and DELETE (migration
``2026-11-22T07:51:35`` of ``crm_core``). A privacy erasure must still remove the personal
values the audit rows of an erased record hold. ``scrub_audit_for`` replaces every value in
those rows with ``[erased]`` (which fields changed, who changed them and when stay) and
lifts the protection only for its own transaction:

* PostgreSQL: ``SET LOCAL crm.audit_scrub = 'on'``, which the trigger function checks; the
  setting ends with the transaction.
* SQLite: triggers cannot read session state, so the update trigger is dropped and created
  again inside the same IMMEDIATE transaction; no other writer can run in between, and a
  rollback restores it.
"""

from __future__ import annotations

from typing import Any

from crmcore.db.runtime import current_database
from crmcore.services.transaction import write_transaction
from crmcore.tables import AuditLog

ERASED = "[erased]"

_SQLITE_UPDATE_TRIGGER = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OF "
    "id, at, actor_label, action, table_name, record_id, changes, plugin ON audit_log BEGIN "
    "SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END"
)


def _scrubbed(changes: dict[str, Any]) -> dict[str, Any]:
    return {field: [ERASED, ERASED] for field in changes}


async def scrub_audit_for(table: str, record_id: int) -> int:
    """Erase the values in every audit row of one record; returns how many rows changed.

    Call it inside the erasure's write transaction (it joins it) or on its own.
    """
    async with write_transaction():
        rows = (
            await AuditLog.select(AuditLog.id, AuditLog.changes)
            .where((AuditLog.table_name == table) & (AuditLog.record_id == record_id))
            .output(load_json=True)
        )
        if not rows:
            return 0
        sqlite = current_database().is_sqlite
        if sqlite:
            await AuditLog.raw("DROP TRIGGER audit_log_no_update")
        else:
            await AuditLog.raw("SET LOCAL crm.audit_scrub = 'on'")
        for row in rows:
            await AuditLog.update({AuditLog.changes: _scrubbed(row["changes"] or {})}).where(
                AuditLog.id == row["id"]
            )
        if sqlite:
            await AuditLog.raw(_SQLITE_UPDATE_TRIGGER)
        else:
            await AuditLog.raw("SET LOCAL crm.audit_scrub = 'off'")
    return len(rows)
