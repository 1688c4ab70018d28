"""Shared set-up for the marketing tests: many contacts fast, and running due jobs."""

from __future__ import annotations

from typing import Any

from crmcore.jobs import registry_for
from crmcore.jobs.embedded import EmbeddedRunner
from crmcore.services.actor import SYSTEM
from crmcore.services.contacts_bulk import bulk_insert_contacts
from crmcore.services.context import current_pm


async def many_contacts(count: int, **extra: Any) -> list[int]:
    """``count`` contacts with addresses c{i}@example.com, through the bulk path."""
    ids: list[int] = []
    for start in range(0, count, 5000):
        rows = [
            {"first_name": f"C{i}", "email": f"c{i}@example.com", **extra}
            for i in range(start, min(count, start + 5000))
        ]
        ids += await bulk_insert_contacts(rows, SYSTEM)
    return ids


async def run_jobs() -> int:
    """Run every due job of the embedded queue at the clock's current time."""
    runner = EmbeddedRunner(registry_for(current_pm()), schedule=True)
    return await runner.run_until_idle()
