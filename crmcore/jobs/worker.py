"""``crm worker``: run jobs until stopped (SIGTERM/SIGINT) or, with ``burst``, until idle.

The backend follows the settings: the embedded runner on the CRM database, or a SAQ worker
on ``CRM_QUEUE_URL``. Both run periodic jobs (deduplicated per slot across processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from typing import Any

from crmcore.jobs.registry import registry_for

log = logging.getLogger("crmcore.jobs")

DEFAULT_SWEEP_S = 15


async def run_worker(
    settings: Any,
    pm: Any,
    *,
    concurrency: int = 4,
    burst: bool = False,
    stop: asyncio.Event | None = None,
) -> int:
    """Run jobs with the configured backend; returns how many this worker processed."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
    try:
        if settings.queue_url:
            return await _run_saq(settings.queue_url, pm, concurrency, burst, stop)
        return await _run_embedded(pm, concurrency, burst, stop)
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


async def _run_embedded(pm: Any, concurrency: int, burst: bool, stop: asyncio.Event) -> int:
    from crmcore.jobs.embedded import EmbeddedRunner

    runner = EmbeddedRunner(registry_for(pm), concurrency=concurrency)
    await runner.start(burst=burst)
    log.info("embedded job worker %s started (concurrency %d)", runner.worker_name, concurrency)
    finished = asyncio.ensure_future(runner.wait())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({finished, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    await runner.stop()
    return runner.processed


async def _run_saq(url: str, pm: Any, concurrency: int, burst: bool, stop: asyncio.Event) -> int:
    from saq import Worker

    from crmcore.jobs import use_backend
    from crmcore.jobs.saq_backend import RedisRunGuard, SaqBackend, make_queue, saq_functions
    from crmcore.jobs.scheduler import PeriodicScheduler

    registry = registry_for(pm)
    queue = make_queue(url)
    await queue.connect()
    backend = SaqBackend(url, queue)
    use_backend(url, backend)
    guard = RedisRunGuard(queue.redis, queue.name) if hasattr(queue, "redis") else None
    processed = 0

    async def count(_ctx: dict[str, Any]) -> None:
        nonlocal processed
        processed += 1

    sweep_s = int(float(os.environ.get("CRM_JOBS_SWEEP_S", DEFAULT_SWEEP_S)))
    worker = Worker(
        queue,
        functions=saq_functions(registry, guard),
        concurrency=concurrency,
        after_process=count,
        timers={"sweep": max(1, sweep_s), "schedule": 1, "abort": 1, "worker_info": 10},
        burst=burst,
        dequeue_timeout=2.0 if burst else 0.0,
        shutdown_grace_period_s=10,
    )
    worker.SIGNALS = []  # run_worker owns the signals
    scheduler = PeriodicScheduler(registry, backend)

    async def schedule_loop() -> None:
        while True:
            try:
                await scheduler.tick()
            except Exception:
                log.exception("periodic scheduler failed")
            await asyncio.sleep(1.0)

    ticker = asyncio.create_task(schedule_loop())
    running = asyncio.create_task(worker.start())
    stopped = asyncio.ensure_future(stop.wait())
    log.info("SAQ job worker %s started on queue %r", worker.id, queue.name)
    try:
        await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        ticker.cancel()
        await worker.stop()
        await asyncio.gather(running, ticker, return_exceptions=True)
        await backend.close()
    return processed
