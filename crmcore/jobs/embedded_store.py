"""The embedded queue's storage: jobs are rows of ``automation_job`` in the CRM's database.

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

import json
import logging
import uuid
import weakref
from datetime import datetime, timedelta
from typing import Any

from crmcore.automation_app.tables import QueuedJob
from crmcore.errors import Conflict, NotFound
from crmcore.jobs import clock
from crmcore.jobs.backend import STATUSES, JobInfo
from crmcore.jobs.registry import Job, JobRegistry

log = logging.getLogger("crmcore.jobs")

DEFAULT_LEASE_S = 60.0
DEFAULT_POLL_S = 1.0
LOST_WORKER = "the worker running this job stopped before finishing it (its lease expired)"

_wakeups: weakref.WeakSet[Any] = weakref.WeakSet()


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


def register_local_runner(runner: Any) -> None:
    """Let enqueues in this process wake ``runner`` (held weakly) after they commit."""
    _wakeups.add(runner)


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


async def mark_done(job_id: int, token: str) -> None:
    await QueuedJob.update(
        {
            QueuedJob.status: "done",
            QueuedJob.finished_at: clock.now(),
            QueuedJob.locked_until: None,
            QueuedJob.last_error: "",
        }
    ).where(_owned(job_id, token))


async def mark_failed(job_id: int, token: str, error: str, retry_at: datetime | None) -> None:
    values: dict[Any, Any] = {QueuedJob.last_error: error[-4000:], QueuedJob.locked_until: None}
    if retry_at is None:
        values.update({QueuedJob.status: "dead", QueuedJob.finished_at: clock.now()})
    else:
        values.update(
            {QueuedJob.status: "queued", QueuedJob.run_at: retry_at, QueuedJob.locked_by: None}
        )
    await QueuedJob.update(values).where(_owned(job_id, token))


async def release(job_id: int, token: str) -> None:
    """Give an interrupted job back without counting the attempt (the runner is stopping)."""
    await QueuedJob.raw(
        "UPDATE automation_job SET status = 'queued', attempts = attempts - 1, "
        "locked_until = NULL, locked_by = NULL WHERE id = {} AND locked_by = {} "
        "AND status = 'running'",
        job_id,
        token,
    )


async def renew_lease(job_id: int, token: str, lease_s: float) -> bool:
    rows = (
        await QueuedJob.update({QueuedJob.locked_until: clock.now() + timedelta(seconds=lease_s)})
        .where(_owned(job_id, token))
        .returning(QueuedJob.id)
    )
    return bool(rows)
