"""Two real ``crm worker`` processes on one queue: every job runs exactly once, and a worker
killed in the middle of a job leaves it to be retried, not lost.

Runs for both backends: the embedded queue (in the SQLite file or the PostgreSQL database)
and SAQ (on the PostgreSQL test database, or on Redis when the suite runs on SQLite).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from piccolo.querystring import QueryString

from crmcore.db.migrate import migrate
from crmcore.db.runtime import open_database
from crmcore.jobs import close_backends, current_backend, enqueue, use_backend
from crmcore.jobs.saq_backend import SaqBackend
from crmcore.plugins import get_plugin_manager
from crmcore.settings import Settings, load_settings

PROBE_BODY = """
import asyncio
import os

from piccolo.querystring import QueryString

from crmcore.db.runtime import current_database
from crmcore.jobs import Job


async def _effect(key, attempt):
    await current_database().engine.run_querystring(
        QueryString(
            "INSERT INTO probe_effect (key, pid, attempt) VALUES ({}, {}, {})",
            key, os.getpid(), attempt,
        )
    )


async def effect(payload, ctx):
    await _effect(payload["key"], ctx.attempt)


async def slow(payload, ctx):
    await _effect("slow-start", ctx.attempt)
    if ctx.attempt == 1:
        await asyncio.sleep(3600)
    await _effect("slow-done", ctx.attempt)


@hookimpl
def register_jobs():
    return [
        Job("probe.effect", effect, retries=3, backoff_s=1),
        Job("probe.slow", slow, retries=3, backoff_s=1, timeout_s=3600),
    ]
"""

JOBS = 1000
LEASE_S = 2

# Marked at collection time so anyio parametrizes together with pytest.mark.parametrize.
pytestmark = pytest.mark.anyio


def _redis_available() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


both_backends = pytest.mark.parametrize("backend_name", ["embedded", "saq"])


@pytest.fixture
def queue_settings(
    backend_name: str,
    crm_fresh_settings: Settings,
    make_distribution: Callable[..., Path],
    site_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """Settings of a fresh instance with the probe plugin installed and the chosen queue."""
    make_distribution("crm-probe", "probe", body=PROBE_BODY)
    monkeypatch.syspath_prepend(str(site_dir))
    monkeypatch.setenv("CRM_JOBS_LEASE_S", str(LEASE_S))
    env = {
        "CRM_HOME": str(crm_fresh_settings.home),
        "CRM_DATABASE_URL": crm_fresh_settings.database_url,
        "CRM_LOAD_PLUGINS": "probe",
        "CRM_SECRET_KEY": "test-secret",
    }
    if backend_name == "saq":
        if crm_fresh_settings.is_sqlite:
            if not _redis_available():
                pytest.skip("Redis is not running on 127.0.0.1:6379")
            env["CRM_QUEUE_URL"] = f"redis://127.0.0.1:6379/0?queue=t{uuid.uuid4().hex[:10]}"
        else:
            env["CRM_QUEUE_URL"] = crm_fresh_settings.database_url
    return load_settings(home=crm_fresh_settings.home, env=env)


@pytest.fixture
async def queue_db(queue_settings: Settings) -> AsyncIterator[Any]:
    pm = get_plugin_manager(queue_settings, load_plugins=["probe"])
    db = await open_database(queue_settings.database_url, pm)
    if queue_settings.queue_url:
        # One connection for the thousand enqueues (commands connect per operation).
        use_backend(queue_settings.queue_url, SaqBackend(queue_settings.queue_url, persistent=True))
    await migrate(db)
    await db.engine.run_ddl(
        "CREATE TABLE probe_effect (key VARCHAR(100) NOT NULL, pid INTEGER NOT NULL, "
        "attempt INTEGER NOT NULL)"
    )
    try:
        yield db
    finally:
        await close_backends()
        await db.close()


@pytest.fixture
def start_worker(queue_settings: Settings, site_dir: Path) -> Iterator[Callable[[], Any]]:
    procs: list[subprocess.Popen[bytes]] = []
    env = {
        **os.environ,
        "CRM_HOME": str(queue_settings.home),
        "CRM_DATABASE_URL": queue_settings.database_url,
        "CRM_LOAD_PLUGINS": "probe",
        "CRM_SECRET_KEY": "test-secret",
        "CRM_JOBS_LEASE_S": str(LEASE_S),
        "CRM_JOBS_SWEEP_S": "1",
        "CRM_JOBS_POLL_S": "0.2",
        "PYTHONPATH": os.pathsep.join([str(site_dir), os.environ.get("PYTHONPATH", "")]),
    }
    if queue_settings.queue_url:
        env["CRM_QUEUE_URL"] = queue_settings.queue_url
    log_dir = queue_settings.home / "worker-logs"
    log_dir.mkdir(exist_ok=True)

    def start() -> subprocess.Popen[bytes]:
        """Start one ``crm worker`` with its output in worker-logs/."""
        log = open(log_dir / f"worker-{len(procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "crmcore", "worker", "--concurrency", "4"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _rows(db: Any, sql: str) -> list[dict[str, Any]]:
    return await db.engine.run_querystring(QueryString(sql))


def _worker_output(logs: Path) -> str:
    return "\n".join(p.read_text()[-3000:] for p in sorted(logs.glob("*.log")))


async def _wait_for(
    db: Any, sql: str, expected: int, within_s: float, logs: Path, workers: list[Any]
) -> None:
    """Poll until ``sql`` counts ``expected``; fail at once if every worker has exited."""
    deadline = time.monotonic() + within_s
    count = -1
    while time.monotonic() < deadline:
        count = (await _rows(db, sql))[0]["n"]
        if count >= expected:
            return
        if all(w.poll() is not None for w in workers):
            break
        await asyncio.sleep(0.2)
    output = _worker_output(logs)
    raise AssertionError(f"{sql}: {count} of {expected} after {within_s}s\n{output}")


@both_backends
async def test_two_workers_run_a_thousand_jobs_each_exactly_once(
    queue_db, queue_settings, start_worker
):
    logs = queue_settings.home / "worker-logs"
    workers = [start_worker(), start_worker()]
    keys = [f"job-{n}" for n in range(JOBS)]
    for key in keys:
        await enqueue("probe.effect", {"key": key})
    count = "SELECT COUNT(*) AS n FROM probe_effect"
    await _wait_for(queue_db, count, JOBS, 180, logs, workers)
    await asyncio.sleep(1.0)  # a duplicate run, if any, would land now
    rows = await _rows(queue_db, "SELECT key, pid FROM probe_effect")
    assert len(rows) == JOBS, "some job ran more than once"
    assert sorted(r["key"] for r in rows) == sorted(keys)
    pids = {r["pid"] for r in rows}
    assert pids == {w.pid for w in workers}, "both workers should have taken jobs"
    assert not await current_backend().list_jobs(status="dead")


@both_backends
async def test_job_of_a_killed_worker_is_retried_not_lost(queue_db, queue_settings, start_worker):
    logs = queue_settings.home / "worker-logs"
    workers = [start_worker(), start_worker()]
    job_id = await enqueue("probe.slow", {})
    started = "SELECT COUNT(*) AS n FROM probe_effect WHERE key = 'slow-start'"
    await _wait_for(queue_db, started, 1, 60, logs, workers)
    # The job outlives its lease several times over: the worker running it keeps renewing
    # it, so the other live worker must not start it a second time.
    await asyncio.sleep(3 * LEASE_S)
    [running] = await _rows(queue_db, "SELECT pid FROM probe_effect WHERE key = 'slow-start'")
    doomed = next(w for w in workers if w.pid == running["pid"])
    survivor = next(w for w in workers if w is not doomed)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    finished = "SELECT COUNT(*) AS n FROM probe_effect WHERE key = 'slow-done'"
    await _wait_for(queue_db, finished, 1, 90, logs, [survivor])
    rows = await _rows(queue_db, "SELECT key, pid, attempt FROM probe_effect ORDER BY attempt")
    starts = [r for r in rows if r["key"] == "slow-start"]
    done = [r for r in rows if r["key"] == "slow-done"]
    assert starts[0]["pid"] == doomed.pid and starts[0]["attempt"] == 1
    assert len(done) == 1 and done[0]["attempt"] == 2 and done[0]["pid"] == survivor.pid
    deadline = time.monotonic() + 20
    while (info := await current_backend().get(job_id)).status != "done":
        assert time.monotonic() < deadline, info
        await asyncio.sleep(0.2)
