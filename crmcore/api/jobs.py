"""REST API for background jobs: ``/api/v1/jobs`` (permission ``jobs.manage``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from crmcore.auth.guards import requires
from crmcore.errors import NotFound
from crmcore.jobs import JobInfo, current_backend
from crmcore.services.actor import Actor

__all__ = ["JobController"]


class JobOut(msgspec.Struct):
    id: str
    name: str
    status: str
    attempts: int
    max_attempts: int
    run_at: datetime | None
    key: str | None
    last_error: str
    payload: dict[str, Any]
    created_at: datetime | None
    finished_at: datetime | None


def _out(info: JobInfo) -> JobOut:
    return msgspec.convert(info.__dict__, JobOut)


class JobController(Controller):
    path = "/jobs"
    tags = ["jobs"]
    guards = [requires("jobs.manage")]

    @get("/", summary="Jobs, newest first (status: queued running done dead cancelled)")
    async def index(
        self,
        actor: NamedDependency[Actor],
        status: FromQuery[str | None] = None,
        name: FromQuery[str | None] = None,
        limit: FromQuery[int] = 50,
    ) -> list[JobOut]:
        infos = await current_backend().list_jobs(
            status=status, name=name, limit=max(1, min(limit, 500))
        )
        return [_out(info) for info in infos]

    @get("/{job_id:str}", summary="One job")
    async def show(self, job_id: FromPath[str], actor: NamedDependency[Actor]) -> JobOut:
        info = await current_backend().get(job_id)
        if info is None:
            raise NotFound(f"job {job_id} not found")
        return _out(info)

    @post("/{job_id:str}/retry", summary="Run a dead or cancelled job again", status_code=200)
    async def retry(self, job_id: FromPath[str], actor: NamedDependency[Actor]) -> JobOut:
        return _out(await current_backend().retry(job_id))

    @post("/{job_id:str}/cancel", summary="Cancel a queued, running or dead job", status_code=200)
    async def cancel(self, job_id: FromPath[str], actor: NamedDependency[Actor]) -> JobOut:
        return _out(await current_backend().cancel(job_id))
