"""The SAQ backend's queue operations (what ``crm jobs`` and ``/api/v1/jobs`` use) on a real
SAQ queue: PostgreSQL when the suite runs on PostgreSQL, Redis otherwise."""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crmcore.errors import Conflict, NotFound
from crmcore.jobs import Job
from crmcore.jobs.saq_backend import SaqBackend, split_queue_url


async def _noop(payload: dict[str, Any], ctx: Any) -> None:
    return None


PROBE = Job("probe.noop", _noop, retries=2, backoff_s=5)


@pytest.fixture
def queue_url(crm_test_database_url: str | None) -> str:
    name = f"t{uuid.uuid4().hex[:10]}"
    if crm_test_database_url:
        return f"{crm_test_database_url}?queue={name}"
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    return f"redis://127.0.0.1:6379/0?queue={name}"


def test_queue_name_comes_from_the_url():
    assert split_queue_url("redis://h:6379/2?queue=sales") == ("redis://h:6379/2", "sales")
    assert split_queue_url("postgresql://u@h/db") == ("postgresql://u@h/db", "crm")


async def test_enqueue_list_cancel_and_retry_on_saq(queue_url):
    backend = SaqBackend(queue_url)
    later = datetime.now(UTC) + timedelta(hours=1)
    job_id = await backend.enqueue(PROBE, {"n": 1}, at=later, key="probe-1")
    assert job_id == "probe-1"
    assert await backend.enqueue(PROBE, {"n": 2}, at=later, key="probe-1") == "probe-1"
    info = await backend.get(job_id)
    assert info is not None and info.status == "queued" and info.payload == {"n": 1}
    assert info.max_attempts == 3 and abs((info.run_at - later).total_seconds()) < 2
    assert [j.id for j in await backend.list_jobs(name="probe.noop")] == ["probe-1"]
    assert (await backend.cancel(job_id)).status == "cancelled"
    with pytest.raises(Conflict):
        await backend.cancel(job_id)
    assert (await backend.retry(job_id)).status == "queued"
    with pytest.raises(Conflict):
        await backend.retry(job_id)
    with pytest.raises(NotFound):
        await backend.cancel("nope")
    assert await backend.get("nope") is None
    await backend.cancel(job_id)
