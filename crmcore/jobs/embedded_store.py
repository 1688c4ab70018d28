"""The embedded queue: jobs are rows of ``automation_job`` in the CRM's own database.

Enqueueing is an INSERT, so a job enqueued inside a write transaction exists if and only if
the change it belongs to was committed. A worker *claims* a due job with one UPDATE that
moves it to ``running`` and gives the worker a lease (``locked_until``); on PostgreSQL the
candidate row is picked ``FOR UPDATE SKIP LOCKED`` so concurrent workers never block each
other or take the same job. While a job runs its worker renews the lease; a worker that dies
stops renewing, and once the lease expires any worker puts the job back in the queue (or in
the dead-letter state if that was its last attempt). A job is therefore never run by two
workers at once, and never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import traceback
import uuid
import weakref
from datetime import datetime, timedelta
from typing import Any

from crmcore.automation_app.tables import QueuedJob
from crmcore.errors import Conflict, NotFound
from crmcore.jobs import clock
from crmcore.jobs.backend import STATUSES, JobInfo
from crmcore.jobs.registry import Job, JobContext, JobRegistry

log = logging.getLogger("crmcore.jobs")

DEFAULT_LEASE_S = 60.0
DEFAULT_POLL_S = 1.0
LOST_WORKER = "the worker running this job stopped before finishing it (its lease expired)"

_wakeups: weakref.WeakSet[EmbeddedRunner] = weakref.WeakSet()


def _run_after_commit(callback: Any) -> None:
    """Wake runners once the enqueueing transaction commits (at once outside one)."""
    from crmcore.services.transaction import after_commit

    async def wake() -> None:
        callback()

    try:
        after_commit(wake)
    except RuntimeError:
        callback()


def _wake_local_runners() -> None:
    for runner in list(_wakeups):
        runner.wake()


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _info(row: dict[str, Any]) -> JobInfo:
    return JobInfo(
        id=str(row["id"]),
        name=row["name"],
        status=row["status"],
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        run_at=row["run_at"],
        key=row["key"],
        last_error=row["last_error"] or "",
        payload=_loads(row["payload"]) or {},
        created_at=row["created_at"],
        finished_at=row["finished_at"],
    )


def _job_pk(job_id: str) -> int:
    try:
        return int(job_id)
    except ValueError:
        raise NotFound(f"job {job_id!r} not found (embedded job ids are numbers)") from None


class EmbeddedBackend:
    """Queue operations on the ``automation_job`` table."""

    name = "embedded"

    async def enqueue(
        self, job: Job, payload: dict[str, Any], *, at: datetime | None, key: str | None
    ) -> str:
        now = clock.now()
        row = QueuedJob(
            name=job.name,
            payload=payload,
            key=key,
            status="queued",
            run_at=at or now,
            max_attempts=job.max_attempts,
            created_at=now,
        )
        query = QueuedJob.insert(row)
        if key is not None:
            query = query.on_conflict(target=QueuedJob.key, action="DO NOTHING")
        rows = await query
        if rows:
            job_id = rows[0]["id"]
        else:
            existing = await QueuedJob.select(QueuedJob.id).where(QueuedJob.key == key).first()
            assert existing is not None
            job_id = existing["id"]
        _run_after_commit(_wake_local_runners)
        return str(job_id)

    async def list_jobs(
        self, *, status: str | None = None, name: str | None = None, limit: int = 50
    ) -> list[JobInfo]:
        query = QueuedJob.select().order_by(QueuedJob.id, ascending=False).limit(limit)
        if status is not None:
            if status not in STATUSES:
                raise NotFound(f"unknown job status {status!r} (one of {', '.join(STATUSES)})")
            query = query.where(QueuedJob.status == status)
        if name is not None:
            query = query.where(QueuedJob.name == name)
        return [_info(row) for row in await query]

    async def get(self, job_id: str) -> JobInfo | None:
        row = await QueuedJob.select().where(QueuedJob.id == _job_pk(job_id)).first()
        return _info(row) if row else None

    async def _require(self, job_id: str) -> JobInfo:
        info = await self.get(job_id)
        if info is None:
            raise NotFound(f"job {job_id} not found")
        return info

    async def retry(self, job_id: str) -> JobInfo:
        """Put a dead or cancelled job back in the queue with a fresh set of attempts."""
        info = await self._require(job_id)
        if info.status not in ("dead", "cancelled"):
            raise Conflict(f"job {job_id} is {info.status}; only dead or cancelled jobs retry")
        await QueuedJob.update(
            {
                QueuedJob.status: "queued",
                QueuedJob.attempts: 0,
                QueuedJob.run_at: clock.now(),
                QueuedJob.finished_at: None,
                QueuedJob.locked_by: None,
                QueuedJob.locked_until: None,
            }
        ).where((QueuedJob.id == int(job_id)) & QueuedJob.status.is_in(["dead", "cancelled"]))
        _run_after_commit(_wake_local_runners)
        return await self._require(job_id)

    async def cancel(self, job_id: str) -> JobInfo:
        """Cancel a queued, running or dead job (a running one is stopped by its worker)."""
        info = await self._require(job_id)
        if info.status in ("done", "cancelled"):
            raise Conflict(f"job {job_id} is already {info.status}")
        cancellable = QueuedJob.status.is_in(["queued", "running", "dead"])
        await QueuedJob.update(
            {QueuedJob.status: "cancelled", QueuedJob.finished_at: clock.now()}
        ).where((QueuedJob.id == int(job_id)) & cancellable)
        return await self._require(job_id)

    async def close(self) -> None:
        """Nothing to close: the queue lives in the CRM database."""


async def purge_finished(older_than: timedelta, registry: JobRegistry | None = None) -> int:
    """Delete done and cancelled jobs that finished more than ``older_than`` ago.

    Jobs of periodic slots go sooner (after twice their period, at least an hour): their
    rows only need to outlive the slot for the dedup key to do its work.
    """
    now = clock.now()
    finished = QueuedJob.status.is_in(["done", "cancelled"])
    deleted = 0
    for job in registry.periodic() if registry is not None else ():
        schedule = job.parsed_schedule
        assert schedule is not None
        keep = max(timedelta(seconds=2 * schedule.period_s), timedelta(hours=1))
        rows = (
            await QueuedJob.delete()
            .where(finished & (QueuedJob.name == job.name) & (QueuedJob.finished_at < now - keep))
            .returning(QueuedJob.id)
        )
        deleted += len(rows)
    rows = (
        await QueuedJob.delete()
        .where(finished & (QueuedJob.finished_at < now - older_than))
        .returning(QueuedJob.id)
    )
    return deleted + len(rows)


def _claim_sql(engine_type: str) -> str:
    lock = "FOR UPDATE SKIP LOCKED" if engine_type == "postgres" else ""
    return (
        "UPDATE automation_job SET status = 'running', attempts = attempts + 1, "
        "locked_until = {}, locked_by = {}, started_at = {} "
        "WHERE status = 'queued' AND id = ("
        "SELECT id FROM automation_job WHERE status = 'queued' AND run_at <= {} "
        f"ORDER BY run_at, id LIMIT 1 {lock}) "
        "RETURNING id, name, payload, attempts, max_attempts"
    )


async def claim_next(worker: str, lease_s: float) -> dict[str, Any] | None:
    """Atomically take the next due job for ``worker``; returns it with its lock token."""
    now = clock.now()
    # A read first: an idle worker polling with UPDATEs would take SQLite's write lock
    # every time, for nothing.
    due = await QueuedJob.exists().where((QueuedJob.status == "queued") & (QueuedJob.run_at <= now))
    if not due:
        return None
    token = f"{worker}:{uuid.uuid4().hex[:8]}"
    sql = _claim_sql(QueuedJob._meta.db.engine_type)
    rows = await QueuedJob.raw(sql, now + timedelta(seconds=lease_s), token, now, now)
    if not rows:
        return None
    row = dict(rows[0])
    row["payload"] = _loads(row["payload"]) or {}
    row["token"] = token
    return row


async def requeue_expired() -> int:
    """Put running jobs whose lease expired back in the queue (dead on their last attempt)."""
    now = clock.now()
    expired = (QueuedJob.status == "running") & (QueuedJob.locked_until < now)
    if not await QueuedJob.exists().where(expired):
        return 0
    dead = await QueuedJob.raw(
        "UPDATE automation_job SET status = 'dead', finished_at = {}, locked_until = NULL, "
        "last_error = {} WHERE status = 'running' AND locked_until < {} "
        "AND attempts >= max_attempts RETURNING id",
        now,
        LOST_WORKER,
        now,
    )
    requeued = await QueuedJob.raw(
        "UPDATE automation_job SET status = 'queued', locked_until = NULL, locked_by = NULL, "
        "last_error = {} WHERE status = 'running' AND locked_until < {} RETURNING id",
        LOST_WORKER,
        now,
    )
    for row in dead:
        log.warning("job %s is dead: %s", row["id"], LOST_WORKER)
    for row in requeued:
        log.warning("job %s requeued: %s", row["id"], LOST_WORKER)
    return len(dead) + len(requeued)


def _owned(job_id: int, token: str) -> Any:
    return (
        (QueuedJob.id == job_id) & (QueuedJob.locked_by == token) & (QueuedJob.status == "running")
    )


async def _mark_done(job_id: int, token: str) -> None:
    await QueuedJob.update(
        {
            QueuedJob.status: "done",
            QueuedJob.finished_at: clock.now(),
            QueuedJob.locked_until: None,
            QueuedJob.last_error: "",
        }
    ).where(_owned(job_id, token))


async def _mark_failed(job_id: int, token: str, error: str, retry_at: datetime | None) -> None:
    values: dict[Any, Any] = {QueuedJob.last_error: error[-4000:], QueuedJob.locked_until: None}
    if retry_at is None:
        values.update({QueuedJob.status: "dead", QueuedJob.finished_at: clock.now()})
    else:
        values.update(
            {QueuedJob.status: "queued", QueuedJob.run_at: retry_at, QueuedJob.locked_by: None}
        )
    await QueuedJob.update(values).where(_owned(job_id, token))


async def _release(job_id: int, token: str) -> None:
    """Give an interrupted job back without counting the attempt (the runner is stopping)."""
    await QueuedJob.raw(
        "UPDATE automation_job SET status = 'queued', attempts = attempts - 1, "
        "locked_until = NULL, locked_by = NULL WHERE id = {} AND locked_by = {} "
        "AND status = 'running'",
        job_id,
        token,
    )


async def _renew(job_id: int, token: str, lease_s: float) -> bool:
    rows = (
        await QueuedJob.update({QueuedJob.locked_until: clock.now() + timedelta(seconds=lease_s)})
        .where(_owned(job_id, token))
        .returning(QueuedJob.id)
    )
    return bool(rows)


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class EmbeddedRunner:
    """Runs jobs of the embedded queue: inside ``crm serve``, in ``crm worker``, or in a test.

    Tests call :meth:`run_until_idle` with a frozen clock; servers call :meth:`start` and
    :meth:`stop`.
    """

    def __init__(
        self,
        registry: JobRegistry,
        *,
        concurrency: int = 4,
        poll_interval_s: float | None = None,
        lease_s: float | None = None,
        worker_name: str | None = None,
        schedule: bool = True,
    ) -> None:
        from crmcore.jobs.scheduler import PeriodicScheduler

        self.registry = registry
        self.concurrency = max(1, concurrency)
        self.poll_interval_s = poll_interval_s or float(
            os.environ.get("CRM_JOBS_POLL_S", DEFAULT_POLL_S)
        )
        self.lease_s = lease_s or float(os.environ.get("CRM_JOBS_LEASE_S", DEFAULT_LEASE_S))
        self.worker_name = worker_name or default_worker_name()
        self.scheduler = PeriodicScheduler(registry, EmbeddedBackend()) if schedule else None
        self.processed = 0
        self._running: dict[int, tuple[str, asyncio.Task[Any]]] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._event: asyncio.Event | None = None
        self._stopping = False
        _wakeups.add(self)

    # ------------------------------------------------------------------ one job at a time

    async def run_one(self) -> bool:
        """Claim and run one due job; False when nothing is due."""
        row = await claim_next(self.worker_name, self.lease_s)
        if row is None:
            return False
        await self._execute(row)
        return True

    async def run_until_idle(self, max_jobs: int = 100_000) -> int:
        """Requeue expired leases, enqueue due periodic slots, then run jobs until none is
        due at the clock's current time. Returns how many jobs ran."""
        await requeue_expired()
        if self.scheduler is not None:
            await self.scheduler.tick()
        count = 0
        while count < max_jobs and await self.run_one():
            count += 1
        return count

    async def _execute(self, row: dict[str, Any]) -> None:
        job_id, token = int(row["id"]), row["token"]
        job = self.registry.jobs.get(row["name"])
        if job is None:
            message = f"no job named {row['name']!r} is registered (is its plugin enabled?)"
            await _mark_failed(job_id, token, message, None)
            log.error("job %s: %s", job_id, message)
            return
        ctx = JobContext(
            job_id=str(job_id),
            name=job.name,
            attempt=row["attempts"],
            max_attempts=row["max_attempts"],
            backend="embedded",
        )
        task = asyncio.ensure_future(job.func(row["payload"], ctx))
        self._running[job_id] = (token, task)
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=job.timeout_s)
        except asyncio.CancelledError:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            if self._stopping or asyncio.current_task().cancelling():  # type: ignore[union-attr]
                await asyncio.shield(_release(job_id, token))
                raise
            # The heartbeat found the job cancelled or taken over: nothing more to record.
            log.info("job %s (%s) stopped: cancelled or taken over", job_id, job.name)
        except Exception as exc:
            if isinstance(exc, TimeoutError):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                error = f"timed out after {job.timeout_s:g}s"
            else:
                error = "".join(traceback.format_exception(exc)).strip()
            if ctx.last_attempt:
                log.error(
                    "job %s (%s) is dead after %d attempts: %s",
                    job_id,
                    job.name,
                    ctx.attempt,
                    error,
                )
                await _mark_failed(job_id, token, error, None)
            else:
                delay = job.retry_delay(ctx.attempt)
                log.warning(
                    "job %s (%s) attempt %d failed, retrying in %gs: %s",
                    job_id,
                    job.name,
                    ctx.attempt,
                    delay,
                    error.splitlines()[-1],
                )
                await _mark_failed(job_id, token, error, clock.now() + timedelta(seconds=delay))
        else:
            await _mark_done(job_id, token)
        finally:
            self._running.pop(job_id, None)
            self.processed += 1

    # ------------------------------------------------------------------ background service

    def wake(self) -> None:
        """A job was enqueued in this process: look for work now instead of at the next poll."""
        if self._event is not None:
            self._event.set()

    async def start(self, *, burst: bool = False) -> None:
        """Start worker, heartbeat and scheduler tasks on the running event loop."""
        self._stopping = False
        self._event = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._work_loop(burst), name=f"crm-job-worker-{i}")
            for i in range(self.concurrency)
        ]
        self._tasks.append(asyncio.create_task(self._upkeep_loop(), name="crm-job-upkeep"))

    async def wait(self) -> None:
        """Wait until every worker loop ended (burst mode: the queue is empty)."""
        await asyncio.gather(*self._tasks[: self.concurrency], return_exceptions=True)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop claiming; give running jobs ``grace_s`` to finish, then put them back."""
        self._stopping = True
        self.wake()
        workers, upkeep = self._tasks[: self.concurrency], self._tasks[self.concurrency :]
        for task in upkeep:
            task.cancel()
        if workers:
            done, pending = await asyncio.wait(workers, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*workers, *upkeep, return_exceptions=True)
        self._tasks = []

    async def _work_loop(self, burst: bool) -> None:
        assert self._event is not None
        while not self._stopping:
            try:
                ran = await self.run_one()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job runner %s: claiming a job failed", self.worker_name)
                ran = False
            if ran:
                continue
            if burst and not self._running:
                return
            self._event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout=self.poll_interval_s)

    async def _upkeep_loop(self) -> None:
        """Renew leases of running jobs, requeue lost ones, enqueue periodic slots."""
        interval = min(self.lease_s / 3, 5.0)
        while True:
            try:
                await self._heartbeat()
                await requeue_expired()
                if self.scheduler is not None and await self.scheduler.tick():
                    self.wake()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job runner %s: upkeep failed", self.worker_name)
            await asyncio.sleep(interval)

    async def _heartbeat(self) -> None:
        for job_id, (token, task) in list(self._running.items()):
            if not await _renew(job_id, token, self.lease_s):
                # Cancelled by someone, or our lease lapsed and another worker took it over.
                task.cancel()
