"""The SAQ backend: jobs in a SAQ queue on PostgreSQL or Redis, run by ``crm worker`` processes.

Chosen when ``CRM_QUEUE_URL`` (settings ``queue_url``) is a ``postgresql://`` or ``redis://``
URL; ``?queue=NAME`` picks the queue name (default ``crm``). SAQ keeps a job in the queue's
own storage, so an enqueue cannot share the CRM's write transaction: inside one it is sent
right after the commit. Workers heartbeat every running job; SAQ's sweeper requeues a job
whose heartbeat stopped (a killed worker), so it is retried, not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from crmcore.errors import Conflict, NotFound
from crmcore.jobs.backend import STATUSES, JobInfo
from crmcore.jobs.registry import MAX_BACKOFF_S, Job, JobContext, JobRegistry

log = logging.getLogger("crmcore.jobs")

DEFAULT_QUEUE = "crm"
RESULT_TTL_S = 7 * 86400
DEFAULT_HEARTBEAT_S = 60

_STATUS_FROM_SAQ = {
    "new": "queued",
    "queued": "queued",
    "active": "running",
    "aborting": "running",
    "complete": "done",
    "failed": "dead",
    "aborted": "cancelled",
}


def heartbeat_s() -> int:
    """How long a running job may go silent before SAQ's sweeper retries it."""
    return max(1, int(float(os.environ.get("CRM_JOBS_LEASE_S", DEFAULT_HEARTBEAT_S))))


def split_queue_url(url: str) -> tuple[str, str]:
    """``redis://h/0?queue=crm`` → (``redis://h/0``, ``crm``)."""
    parts = urlparse(url)
    query = dict(parse_qsl(parts.query))
    name = query.pop("queue", DEFAULT_QUEUE)
    return urlunparse(parts._replace(query=urlencode(query))), name


def make_queue(url: str) -> Any:
    from saq import Queue

    bare, name = split_queue_url(url)
    if bare.startswith("postgresql://"):
        bare = "postgres://" + bare[len("postgresql://") :]
    if bare.startswith("postgres://"):
        return Queue.from_url(bare, name=name, min_size=1, max_size=10)
    if bare.startswith(("redis://", "rediss://")):
        return Queue.from_url(bare, name=name)
    raise ValueError(f"queue URL {url!r}: use postgresql://… or redis://…")


def _dt(epoch: float | int | None, millis: bool = False) -> datetime | None:
    if not epoch:
        return None
    return datetime.fromtimestamp(epoch / 1000 if millis else epoch, UTC)


def job_info(job: Any) -> JobInfo:
    status = job.status.value if hasattr(job.status, "value") else str(job.status)
    return JobInfo(
        id=job.key,
        name=job.function,
        status=_STATUS_FROM_SAQ.get(status, status),
        attempts=job.attempts,
        max_attempts=job.retries,
        run_at=_dt(job.scheduled) or _dt(job.queued, millis=True),
        key=job.key,
        last_error=job.error or "",
        payload=dict((job.kwargs or {}).get("payload") or {}),
        created_at=_dt(job.queued, millis=True),
        finished_at=_dt(job.completed, millis=True),
    )


class SaqBackend:
    """Queue operations on a SAQ queue.

    A *persistent* backend keeps one connection for the life of the process (``crm worker``
    and ``crm serve`` set one up and close it on shutdown); otherwise every operation
    connects and disconnects, so a command that enqueues a job leaves nothing open.
    """

    name = "saq"

    def __init__(self, url: str, queue: Any = None, *, persistent: bool = False) -> None:
        self.url = url
        self.persistent = persistent or queue is not None
        self.queue = queue
        self._connected = queue is not None
        self._lock = asyncio.Lock()

    async def connect(self) -> Any:
        async with self._lock:
            if self.queue is None:
                self.queue = make_queue(self.url)
            if not self._connected:
                await self.queue.connect()
                self._connected = True
        return self.queue

    @contextlib.asynccontextmanager
    async def _use(self) -> AsyncIterator[Any]:
        if self.persistent:
            yield await self.connect()
            return
        queue = make_queue(self.url)
        await queue.connect()
        try:
            yield queue
        finally:
            await queue.disconnect()

    async def enqueue(
        self, job: Job, payload: dict[str, Any], *, at: datetime | None, key: str | None
    ) -> str:
        from crmcore.services.transaction import after_commit

        key = key or uuid.uuid4().hex

        async def send() -> None:
            await self._send(job, payload, at, key)

        try:
            after_commit(send)
        except RuntimeError:
            await send()
        return key

    async def _send(self, job: Job, payload: dict[str, Any], at: datetime | None, key: str) -> None:
        async with self._use() as queue:
            await self._send_on(queue, job, payload, at, key)

    async def _send_on(
        self, queue: Any, job: Job, payload: dict[str, Any], at: datetime | None, key: str
    ) -> None:
        if key.startswith("periodic:") and hasattr(queue, "redis"):
            # Redis forgets a key once its job completed; remember slots separately.
            once = await queue.redis.set(f"crm:once:{key}", 1, nx=True, ex=RESULT_TTL_S)
            if not once:
                return
        await queue.enqueue(
            job.name,
            key=key,
            payload=payload,
            scheduled=int(at.timestamp()) if at else 0,
            retries=job.max_attempts,
            timeout=max(1, int(job.timeout_s)),
            heartbeat=heartbeat_s(),
            retry_delay=job.backoff_s,
            retry_backoff=MAX_BACKOFF_S,
            ttl=RESULT_TTL_S,
        )

    async def list_jobs(
        self, *, status: str | None = None, name: str | None = None, limit: int = 50
    ) -> list[JobInfo]:
        from saq.job import Status

        if status is not None and status not in STATUSES:
            raise NotFound(f"unknown job status {status!r} (one of {', '.join(STATUSES)})")
        wanted = [s for s in Status if status is None or _STATUS_FROM_SAQ[s.value] == status]
        found: list[JobInfo] = []
        async with self._use() as queue:
            async for job in queue.iter_jobs(statuses=wanted):
                if name is None or job.function == name:
                    found.append(job_info(job))
        found.sort(key=lambda info: info.created_at or datetime.min.replace(tzinfo=UTC))
        return list(reversed(found))[:limit]

    @staticmethod
    async def _job(queue: Any, job_id: str) -> Any:
        job = await queue.job(job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

    async def get(self, job_id: str) -> JobInfo | None:
        async with self._use() as queue:
            job = await queue.job(job_id)
        return job_info(job) if job is not None else None

    async def retry(self, job_id: str) -> JobInfo:
        async with self._use() as queue:
            job = await self._job(queue, job_id)
            info = job_info(job)
            if info.status not in ("dead", "cancelled"):
                raise Conflict(f"job {job_id} is {info.status}; only dead or cancelled jobs retry")
            job.attempts = 0  # a fresh set of attempts; the first waits at most backoff_s
            await queue.retry(job, error=job.error)
            return job_info(await self._job(queue, job_id))

    async def cancel(self, job_id: str) -> JobInfo:
        from saq.job import Status

        async with self._use() as queue:
            job = await self._job(queue, job_id)
            info = job_info(job)
            if info.status in ("done", "cancelled"):
                raise Conflict(f"job {job_id} is already {info.status}")
            message = "cancelled by an administrator"
            await queue.abort(job, message)
            current = await self._job(queue, job_id)
            if info.status != "running" and current.status == Status.ABORTING:
                # Redis leaves a job that was waiting for its time "aborting": no worker
                # holds it to finish the abort, so finish it here.
                await queue.finish(current, Status.ABORTED, error=message)
                if hasattr(queue, "redis"):
                    await queue.redis.delete(current.abort_id)
                current = await self._job(queue, job_id)
            return job_info(current)

    async def close(self) -> None:
        if self._connected and self.queue is not None:
            await self.queue.disconnect()
            self._connected = False


class RedisRunGuard:
    """Makes SAQ on Redis run a job once even when its sweeper retries a job that is in
    fact running (SAQ sweeps a job caught between dequeue and its first status update).

    An execution holds ``crm:running:<key>`` (renewed with the heartbeat, expiring with
    it); a finished one leaves ``crm:done:<key>``. A second execution of the same key
    finds either and ends without running the job again.
    """

    def __init__(self, redis: Any, queue_name: str) -> None:
        self.redis = redis
        self.prefix = f"crm:{queue_name}"

    async def start(self, key: str) -> bool:
        if await self.redis.exists(f"{self.prefix}:done:{key}"):
            return False
        return bool(
            await self.redis.set(f"{self.prefix}:running:{key}", 1, nx=True, ex=heartbeat_s())
        )

    async def renew(self, key: str) -> None:
        await self.redis.expire(f"{self.prefix}:running:{key}", heartbeat_s())

    async def finish(self, key: str, ok: bool) -> None:
        if ok:
            await self.redis.set(f"{self.prefix}:done:{key}", 1, ex=RESULT_TTL_S)
        await self.redis.delete(f"{self.prefix}:running:{key}")


def saq_functions(
    registry: JobRegistry, guard: RedisRunGuard | None = None
) -> list[tuple[str, Any]]:
    """SAQ worker functions wrapping every registered job: build the context, heartbeat."""
    return [(job.name, _wrap(job, guard)) for job in registry.jobs.values()]


def _wrap(job: Job, guard: RedisRunGuard | None) -> Any:
    async def run(ctx: dict[str, Any], *, payload: dict[str, Any] | None = None) -> Any:
        saq_job = ctx["job"]
        if guard is not None and not await guard.start(saq_job.key):
            log.info(
                "job %s (%s) is running or done elsewhere; not run again", saq_job.key, job.name
            )
            return {"duplicate": True}
        context = JobContext(
            job_id=saq_job.key,
            name=job.name,
            attempt=saq_job.attempts,
            max_attempts=saq_job.retries,
            backend="saq",
        )
        beat = asyncio.create_task(_heartbeat(saq_job, guard))
        ok = False
        try:
            result = await job.func(payload or {}, context)
            ok = True
            return result
        finally:
            beat.cancel()
            if guard is not None:
                await guard.finish(saq_job.key, ok)

    run.__qualname__ = job.name
    return run


async def _heartbeat(saq_job: Any, guard: RedisRunGuard | None) -> None:
    interval = max(saq_job.heartbeat / 3, 0.5) if saq_job.heartbeat else 20.0
    while True:
        await asyncio.sleep(interval)
        try:
            await saq_job.update()
            if guard is not None:
                await guard.renew(saq_job.key)
        except Exception:
            log.warning("could not renew the heartbeat of job %s", saq_job.key, exc_info=True)
