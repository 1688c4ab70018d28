"""Enqueues periodic jobs: one job per schedule slot, however many processes tick.

Each slot is enqueued with the dedup key ``periodic:<job>:<slot time>``; the queue keeps one
job per key, so two workers (or a worker and ``crm serve``) ticking at once add one job.
A process that starts after a slot began enqueues that slot once (catch-up); slots missed
while nothing ran are not replayed one by one.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from crmcore.jobs import clock
from crmcore.jobs.registry import JobRegistry

log = logging.getLogger("crmcore.jobs")


def slot_key(job_name: str, slot: datetime) -> str:
    return f"periodic:{job_name}:{slot.isoformat()}"


class PeriodicScheduler:
    """Remembers the last slot it enqueued per job, so a tick costs nothing between slots."""

    def __init__(self, registry: JobRegistry, backend: Any) -> None:
        self.registry = registry
        self.backend = backend
        self._last: dict[str, datetime] = {}

    async def tick(self) -> int:
        """Enqueue the current slot of every periodic job not enqueued yet; return how many."""
        now = clock.now()
        added = 0
        for job in self.registry.periodic():
            schedule = job.parsed_schedule
            assert schedule is not None
            slot = schedule.slot(now)
            if self._last.get(job.name) == slot:
                continue
            try:
                await self.backend.enqueue(job, {}, at=slot, key=slot_key(job.name, slot))
            except Exception:
                log.exception("could not enqueue periodic job %s", job.name)
                continue
            self._last[job.name] = slot
            added += 1
        return added
