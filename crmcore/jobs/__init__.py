"""Background jobs: one small interface, two backends behind it.

* **embedded** (default): jobs are rows in the CRM's own database, run by a runner inside
  ``crm serve`` or by ``crm worker`` processes. Enqueueing inside a write transaction is
  atomic with the change.
* **SAQ** (``CRM_QUEUE_URL=postgresql://…`` or ``redis://…``): jobs live in a SAQ queue and
  ``crm worker`` processes on any number of machines run them.

Plugins define jobs with :class:`Job` in their ``register_jobs`` hook and start them with
``await enqueue("plugin.job", {...}, at=…, key=…)``. Time comes from
:mod:`crmcore.jobs.clock`, which tests move forward instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

from crmcore.jobs import clock
from crmcore.jobs.backend import STATUSES, JobInfo, QueueBackend
from crmcore.jobs.registry import (
    Job,
    JobContext,
    JobError,
    JobRegistry,
    Schedule,
    UnknownJob,
    registry_for,
)

__all__ = [
    "STATUSES",
    "Job",
    "JobContext",
    "JobError",
    "JobInfo",
    "JobRegistry",
    "QueueBackend",
    "Schedule",
    "UnknownJob",
    "backend_for",
    "clock",
    "close_backends",
    "current_backend",
    "enqueue",
    "registry_for",
    "use_backend",
]

_saq_backends: dict[tuple[str, int], Any] = {}


def _settings_and_pm() -> tuple[Any, Any]:
    from crmcore.services.context import current_pm

    pm = current_pm()
    return pm.settings, pm


def backend_for(queue_url: str | None) -> QueueBackend:
    """The backend for a queue URL (``None``: embedded); one SAQ connection per event loop."""
    if not queue_url:
        from crmcore.jobs.embedded_store import EmbeddedBackend

        return EmbeddedBackend()
    from crmcore.jobs.saq_backend import SaqBackend

    cache_key = (queue_url, id(asyncio.get_running_loop()))
    backend = _saq_backends.get(cache_key)
    if backend is None:
        backend = SaqBackend(queue_url)
        _saq_backends[cache_key] = backend
    return backend


def use_backend(queue_url: str, backend: Any) -> None:
    """Make ``backend`` the one ``enqueue`` uses for ``queue_url`` on this event loop
    (``crm worker`` shares its own SAQ connection with the jobs it runs)."""
    _saq_backends[(queue_url, id(asyncio.get_running_loop()))] = backend


def current_backend() -> QueueBackend:
    """The backend the open database's settings choose."""
    settings, _pm = _settings_and_pm()
    return backend_for(settings.queue_url if settings is not None else None)


async def close_backends() -> None:
    """Close SAQ connections opened on this event loop (app shutdown, end of a command)."""
    loop_id = id(asyncio.get_running_loop())
    for cache_key in [k for k in _saq_backends if k[1] == loop_id]:
        backend = _saq_backends.pop(cache_key)
        await backend.close()


async def enqueue(
    job_name: str,
    payload: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
    key: str | None = None,
) -> str:
    """Queue ``job_name`` with a JSON ``payload``; returns the job id.

    ``at`` delays it (timezone-aware). ``key`` deduplicates: while a job with that key is
    known to the queue, enqueueing it again returns the existing job instead of adding one.
    On the embedded backend, calling this inside ``write_transaction()`` commits or rolls
    back the job together with the change; on SAQ the job is sent right after the commit.
    """
    _settings, pm = _settings_and_pm()
    job = registry_for(pm).get(job_name)
    payload = dict(payload or {})
    try:
        json.dumps(payload)
    except (TypeError, ValueError) as exc:
        raise JobError(f"job {job_name!r}: the payload must be JSON data ({exc})") from exc
    if at is not None and at.tzinfo is None:
        raise JobError(f"job {job_name!r}: 'at' must be timezone-aware")
    return await current_backend().enqueue(job, payload, at=at, key=key)
