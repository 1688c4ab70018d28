"""The embedded queue: jobs stored in the CRM database (:mod:`crmcore.jobs.embedded_store`)
and the runner that claims due jobs, runs them and renews their leases.

The runner runs inside ``crm serve`` (the ``automation`` built-in's startup hook), inside
``crm worker`` processes, and in tests, which call :meth:`EmbeddedRunner.run_until_idle`
with a frozen clock instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import traceback
from datetime import timedelta
from typing import Any

from crmcore.jobs import clock
from crmcore.jobs.embedded_store import (
    DEFAULT_LEASE_S,
    DEFAULT_POLL_S,
    EmbeddedBackend,
    claim_next,
    mark_done,
    mark_failed,
    purge_finished,
    register_local_runner,
    release,
    renew_lease,
    requeue_expired,
)
from crmcore.jobs.registry import JobContext, JobRegistry

__all__ = [
    "EmbeddedBackend",
    "EmbeddedRunner",
    "claim_next",
    "default_worker_name",
    "purge_finished",
    "requeue_expired",
]

log = logging.getLogger("crmcore.jobs")


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
        register_local_runner(self)

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
            await mark_failed(job_id, token, message, None)
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
                await asyncio.shield(release(job_id, token))
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
                await mark_failed(job_id, token, error, None)
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
                await mark_failed(job_id, token, error, clock.now() + timedelta(seconds=delay))
        else:
            await mark_done(job_id, token)
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
            if not await renew_lease(job_id, token, self.lease_s):
                # Cancelled by someone, or our lease lapsed and another worker took it over.
                task.cancel()
