"""The embedded job queue: durable in the CRM database, retried with back-off, never twice.

Time is moved with a frozen clock; nothing here sleeps.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from crmcore.hookspecs import hookimpl
from crmcore.jobs import Job, JobError, UnknownJob, current_backend, enqueue, registry_for
from crmcore.jobs.clock import frozen_clock
from crmcore.jobs.embedded import EmbeddedRunner, claim_next, requeue_expired
from crmcore.services.transaction import write_transaction


class Probe:
    """A test plugin whose jobs record what they were given and fail on demand."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], int]] = []
        self.failures_left = 0

    async def record(self, payload: dict[str, Any], ctx: Any) -> None:
        self.calls.append(("record", payload, ctx.attempt))

    async def flaky(self, payload: dict[str, Any], ctx: Any) -> None:
        self.calls.append(("flaky", payload, ctx.attempt))
        if self.failures_left > 0:
            self.failures_left -= 1
            raise RuntimeError("the remote end is down")

    async def tick(self, payload: dict[str, Any], ctx: Any) -> None:
        self.calls.append(("tick", payload, ctx.attempt))

    @hookimpl
    def register_jobs(self) -> list[Job]:
        return [
            Job("probe.record", self.record),
            Job("probe.flaky", self.flaky, retries=3, backoff_s=10),
            Job("probe.tick", self.tick, schedule="every 10m"),
        ]


@pytest.fixture
def probe(register_test_plugin: Any) -> Probe:
    plugin = Probe()
    register_test_plugin(plugin, "probe")
    return plugin


@pytest.fixture
def runner(crm_db: Any, crm_pm: Any, probe: Probe) -> EmbeddedRunner:
    return EmbeddedRunner(registry_for(crm_pm), schedule=False)


async def test_enqueued_job_runs_once_with_its_payload(runner, probe):
    job_id = await enqueue("probe.record", {"contact_id": 7})
    assert await runner.run_until_idle() == 1
    assert probe.calls == [("record", {"contact_id": 7}, 1)]
    info = await current_backend().get(job_id)
    assert info is not None and info.status == "done" and info.attempts == 1
    assert await runner.run_until_idle() == 0


async def test_same_key_keeps_one_job(runner, probe):
    first = await enqueue("probe.record", {"n": 1}, key="welcome:7")
    second = await enqueue("probe.record", {"n": 2}, key="welcome:7")
    assert first == second
    await runner.run_until_idle()
    assert probe.calls == [("record", {"n": 1}, 1)]


async def test_job_enqueued_in_a_rolled_back_transaction_never_exists(runner, probe):
    with pytest.raises(ZeroDivisionError):
        async with write_transaction():
            await enqueue("probe.record", {"n": 1})
            1 / 0  # noqa: B018
    async with write_transaction():
        await enqueue("probe.record", {"n": 2})
    await runner.run_until_idle()
    assert [payload for _name, payload, _a in probe.calls] == [{"n": 2}]


async def test_failing_job_backs_off_exponentially_then_goes_dead(runner, probe):
    probe.failures_left = 99
    with frozen_clock() as clock:
        job_id = await enqueue("probe.flaky", {})
        await runner.run_until_idle()
        assert len(probe.calls) == 1
        info = await current_backend().get(job_id)
        assert info.status == "queued" and "remote end is down" in info.last_error
        for wait in (10, 20, 40):
            clock.advance(seconds=wait - 1)
            assert await runner.run_until_idle() == 0, "ran before its back-off elapsed"
            clock.advance(seconds=1)
            assert await runner.run_until_idle() == 1
        assert [attempt for _n, _p, attempt in probe.calls] == [1, 2, 3, 4]
        info = await current_backend().get(job_id)
        assert info.status == "dead" and info.attempts == 4
        clock.advance(days=1)
        assert await runner.run_until_idle() == 0


async def test_dead_job_retried_by_hand_succeeds(runner, probe):
    probe.failures_left = 4
    with frozen_clock() as clock:
        job_id = await enqueue("probe.flaky", {})
        for _ in range(4):
            await runner.run_until_idle()
            clock.advance(hours=1)
        assert (await current_backend().get(job_id)).status == "dead"
        info = await current_backend().retry(job_id)
        assert info.status == "queued" and info.attempts == 0
        await runner.run_until_idle()
    assert (await current_backend().get(job_id)).status == "done"


async def test_cancelled_job_does_not_run(runner, probe):
    job_id = await enqueue("probe.record", {})
    assert (await current_backend().cancel(job_id)).status == "cancelled"
    assert await runner.run_until_idle() == 0
    assert probe.calls == []


async def test_delayed_job_waits_for_its_time(runner, probe):
    with frozen_clock() as clock:
        await enqueue("probe.record", {}, at=clock.current + timedelta(days=3))
        clock.advance(days=2, hours=23)
        assert await runner.run_until_idle() == 0
        clock.advance(hours=1)
        assert await runner.run_until_idle() == 1


async def test_job_of_a_lost_worker_is_run_again_after_its_lease(runner, probe):
    with frozen_clock() as clock:
        job_id = await enqueue("probe.record", {"n": 1})
        lost = await claim_next("worker-that-dies", lease_s=60)
        assert lost is not None and str(lost["id"]) == job_id
        assert await runner.run_until_idle() == 0, "a leased job must not run twice at once"
        clock.advance(seconds=61)
        assert await requeue_expired() == 1
        assert await runner.run_until_idle() == 1
    assert probe.calls == [("record", {"n": 1}, 2)]
    info = await current_backend().get(job_id)
    assert info.status == "done" and info.attempts == 2


async def test_periodic_job_runs_once_per_slot_across_schedulers(crm_db, crm_pm, probe):
    registry = registry_for(crm_pm)
    first, second = EmbeddedRunner(registry), EmbeddedRunner(registry)
    with frozen_clock() as clock:
        await first.run_until_idle()
        await second.run_until_idle()
        assert [c[0] for c in probe.calls].count("tick") == 1
        clock.advance(minutes=10)
        await second.run_until_idle()
        await first.run_until_idle()
    assert [c[0] for c in probe.calls].count("tick") == 2


async def test_unknown_job_and_bad_payload_are_refused(crm_db, probe):
    with pytest.raises(UnknownJob, match="no job named 'probe.nope'"):
        await enqueue("probe.nope", {})
    with pytest.raises(JobError, match="JSON"):
        await enqueue("probe.record", {"when": object()})


async def test_timeout_counts_as_a_failed_attempt(crm_db, crm_pm, register_test_plugin):
    import asyncio

    async def slow(payload: dict[str, Any], ctx: Any) -> None:
        await asyncio.sleep(5)

    class Slow:
        @hookimpl
        def register_jobs(self) -> list[Job]:
            return [Job("slow.sleep", slow, retries=0, timeout_s=0.05)]

    register_test_plugin(Slow(), "slow")
    runner = EmbeddedRunner(registry_for(crm_pm), schedule=False)
    job_id = await enqueue("slow.sleep", {})
    await runner.run_until_idle()
    info = await current_backend().get(job_id)
    assert info.status == "dead" and "timed out" in info.last_error


async def test_jobs_api_lists_retries_and_cancels(crm_client, crm_app, probe):
    from crmcore.services.users import create_user
    from crmcore.testing.plugin import make_client

    job_id = await enqueue("probe.record", {"n": 1})
    listed = await crm_client.get("/api/v1/jobs", params={"status": "queued"})
    assert listed.status_code == 200
    assert job_id in [job["id"] for job in listed.json()]
    shown = (await crm_client.get(f"/api/v1/jobs/{job_id}")).json()
    assert shown["name"] == "probe.record" and shown["payload"] == {"n": 1}
    cancelled = await crm_client.post(f"/api/v1/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await crm_client.post(f"/api/v1/jobs/{job_id}/cancel")
    assert again.status_code == 409
    retried = await crm_client.post(f"/api/v1/jobs/{job_id}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "queued"
    assert (await crm_client.get("/api/v1/jobs/999999")).status_code == 404
    viewer = await create_user(
        email="jobs-viewer@example.com", password="a long password 123", role="viewer"
    )
    async with await make_client(crm_app, viewer) as client:
        assert (await client.get("/api/v1/jobs")).status_code == 403


async def test_web_app_runs_the_embedded_runner_only_when_asked(
    crm_settings, crm_pm, crm_db, probe, monkeypatch
):
    import asyncio

    from crmcore.app import create_app

    app = create_app(crm_settings, crm_pm, manage_database=False)
    async with app.lifespan():
        assert app.state.get("job_runner") is None, "test apps run no jobs by default"
    monkeypatch.setenv("CRM_EMBEDDED_JOBS", "1")
    monkeypatch.setenv("CRM_JOBS_POLL_S", "0.05")
    app = create_app(crm_settings, crm_pm, manage_database=False)
    async with app.lifespan():
        assert app.state.job_runner is not None
        await enqueue("probe.record", {"served": True})
        for _ in range(200):
            if probe.calls:
                break
            await asyncio.sleep(0.02)
    assert ("record", {"served": True}, 1) in probe.calls
    assert app.state.get("job_runner") is None


def test_jobs_cli_enqueue_list_cancel_retry_and_a_burst_worker(crm_cli):
    assert crm_cli("db", "migrate").exit_code == 0
    made = crm_cli("jobs", "enqueue", "automation.purge_jobs", "--payload", '{"days": 30}')
    assert made.exit_code == 0, made.output
    job_id = made.output.strip()
    listed = json.loads(crm_cli("jobs", "list", "--json", "--status", "queued").output)
    assert job_id in [job["id"] for job in listed]
    assert "is cancelled" in crm_cli("jobs", "cancel", job_id).output
    assert crm_cli("jobs", "cancel", job_id).exit_code == 1
    assert "is queued again" in crm_cli("jobs", "retry", job_id).output
    ran = crm_cli("worker", "--burst", "--concurrency", "2")
    assert ran.exit_code == 0, ran.output
    [job] = [j for j in json.loads(crm_cli("jobs", "list", "--json").output) if j["id"] == job_id]
    assert job["status"] == "done"
    bad = crm_cli("jobs", "enqueue", "nobody.nothing")
    assert bad.exit_code == 1 and "no job named 'nobody.nothing'" in bad.output
