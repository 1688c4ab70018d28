"""REST API for the audit log (``/api/v1/audit``, needs ``audit.read``); read-only.

There is deliberately no endpoint that changes or deletes audit rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from crmcore.auth.guards import requires
from crmcore.errors import ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import list_audit

MAX_LIMIT = 500


class AuditEntry(msgspec.Struct):
    """One change: ``changes`` maps each field to ``[before, after]``; values of fields the
    reader may not see are ``"***"``."""

    id: int
    at: datetime
    actor_id: int | None
    actor_label: str
    action: str
    table: str
    record_id: int
    changes: dict[str, Any]
    plugin: str


def audit_entry(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor_id=row["actor"],
        actor_label=row["actor_label"],
        action=row["action"],
        table=row["table_name"],
        record_id=row["record_id"],
        changes=row["changes"],
        plugin=row["plugin"],
    )


@get("/audit", tags=["audit"], guards=[requires("audit.read")])
async def audit_log(
    actor: NamedDependency[Actor],
    table: FromQuery[str | None] = None,
    record: FromQuery[int | None] = None,
    limit: FromQuery[int] = 100,
    before: FromQuery[int | None] = None,
) -> list[AuditEntry]:
    """Newest first. ``record`` is a record id (combine with ``table``); ``before`` an entry
    id, to page backwards."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError.for_field("limit", f"must be between 1 and {MAX_LIMIT}")
    rows = await list_audit(actor, table=table, record_id=record, limit=limit, before_id=before)
    return [audit_entry(row) for row in rows]
