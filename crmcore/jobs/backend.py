"""What every queue backend offers, and the job record the CLI and API show."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from crmcore.jobs.registry import Job

STATUSES = ("queued", "running", "done", "dead", "cancelled")


@dataclass
class JobInfo:
    """One job as ``crm jobs list`` and ``GET /api/v1/jobs`` show it, whatever the backend."""

    id: str
    name: str
    status: str
    attempts: int
    max_attempts: int
    run_at: datetime | None
    key: str | None = None
    last_error: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    finished_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("run_at", "created_at", "finished_at"):
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        return data


class QueueBackend(Protocol):
    """The operations ``crmcore.jobs`` needs from a queue (embedded or SAQ)."""

    name: str

    async def enqueue(
        self, job: Job, payload: dict[str, Any], *, at: datetime | None, key: str | None
    ) -> str: ...

    async def list_jobs(
        self, *, status: str | None = None, name: str | None = None, limit: int = 50
    ) -> list[JobInfo]: ...

    async def get(self, job_id: str) -> JobInfo | None: ...

    async def retry(self, job_id: str) -> JobInfo: ...

    async def cancel(self, job_id: str) -> JobInfo: ...

    async def close(self) -> None: ...
