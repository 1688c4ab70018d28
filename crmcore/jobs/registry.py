"""Job definitions and the registry built from every plugin's ``register_jobs`` hook.

A job is an async function ``func(payload, ctx)`` with a name (``<plugin>.<what>``), a retry
policy and optionally a schedule. Payloads are JSON objects, so a job can cross processes and
backends unchanged.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter

MAX_BACKOFF_S = 6 * 3600.0
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_INTERVAL_RE = re.compile(r"^(?:every\s+)?(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)$")
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


class JobError(Exception):
    """A job definition or a job operation is wrong; the message says which job and why."""


class UnknownJob(JobError):
    """No enabled plugin registers a job of that name."""


@dataclass
class JobContext:
    """What a running job knows about itself."""

    job_id: str
    name: str
    attempt: int
    max_attempts: int
    backend: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def last_attempt(self) -> bool:
        """True when a failure now sends the job to the dead-letter state."""
        return self.attempt >= self.max_attempts


JobFunc = Callable[[dict[str, Any], JobContext], Awaitable[Any]]


@dataclass(frozen=True)
class Schedule:
    """When a periodic job runs: a cron expression or a fixed interval.

    Each run belongs to a *slot* (the most recent fire time); schedulers in several processes
    enqueue a slot with the same dedup key, so a slot runs once however many workers tick.
    """

    cron: str | None = None
    interval_s: float | None = None

    @classmethod
    def parse(cls, value: str | float | timedelta) -> Schedule:
        """``"*/5 * * * *"``, ``"every 30s"``, ``"5m"``, ``"1d"``, ``300`` or a timedelta."""
        if isinstance(value, timedelta):
            return cls(interval_s=value.total_seconds())
        if isinstance(value, int | float):
            if value <= 0:
                raise JobError(f"schedule interval must be positive, not {value!r}")
            return cls(interval_s=float(value))
        text = value.strip().lower()
        match = _INTERVAL_RE.match(text)
        if match:
            return cls(interval_s=float(match.group(1)) * _UNITS[match.group(2)])
        if text in ("hourly", "daily"):
            return cls(cron="0 * * * *" if text == "hourly" else "0 0 * * *")
        if croniter.is_valid(value):
            return cls(cron=value)
        raise JobError(
            f"schedule {value!r} is neither a cron expression ('0 3 * * *') nor an interval "
            "('every 30s', '5m', '1h', '1d')"
        )

    def slot(self, now: datetime) -> datetime:
        """The start of the slot ``now`` falls in (the last time the job was due)."""
        if self.interval_s is not None:
            epoch = now.timestamp()
            return datetime.fromtimestamp(epoch - (epoch % self.interval_s), UTC)
        assert self.cron is not None
        return croniter(self.cron, now + timedelta(microseconds=1)).get_prev(datetime)

    @property
    def period_s(self) -> float:
        if self.interval_s is not None:
            return self.interval_s
        base = datetime(2000, 1, 1, tzinfo=UTC)
        it = croniter(self.cron, base)
        first = it.get_next(datetime)
        return (it.get_next(datetime) - first).total_seconds()


@dataclass(frozen=True)
class Job:
    """A job type: ``func(payload, ctx)`` plus how to retry it and when to run it by itself.

    ``retries`` failures are retried (so a job runs at most ``retries + 1`` times), waiting
    ``backoff_s``, then twice that, and so on (capped at six hours); after the last failure the
    job is *dead* until someone runs ``crm jobs retry``. ``timeout_s`` bounds one attempt.
    """

    name: str
    func: JobFunc
    retries: int = 5
    backoff_s: float = 10.0
    timeout_s: float = 300.0
    schedule: str | float | timedelta | None = None

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise JobError(f"job name {self.name!r}: use '<plugin>.<name>' in lower case")
        if self.retries < 0:
            raise JobError(f"job {self.name!r}: retries must be >= 0")
        if self.schedule is not None:
            Schedule.parse(self.schedule)

    @property
    def max_attempts(self) -> int:
        return self.retries + 1

    @property
    def parsed_schedule(self) -> Schedule | None:
        return Schedule.parse(self.schedule) if self.schedule is not None else None

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return min(self.backoff_s * (2 ** max(attempt - 1, 0)), MAX_BACKOFF_S)


class JobRegistry:
    """The jobs every enabled plugin registered, by name."""

    def __init__(self, jobs: dict[str, Job] | None = None, owners: dict[str, str] | None = None):
        self.jobs: dict[str, Job] = dict(jobs or {})
        self.owners: dict[str, str] = dict(owners or {})

    @classmethod
    def from_pm(cls, pm: Any) -> JobRegistry:
        registry = cls()
        for plugin, result in pm.call_in_order("register_jobs"):
            for job in result or ():
                registry.add(job, plugin)
        return registry

    def add(self, job: Job, plugin: str = "?") -> None:
        if not isinstance(job, Job):
            raise JobError(f"plugin {plugin!r} returned {job!r} from register_jobs; expected Job")
        if job.name in self.jobs:
            raise JobError(
                f"job {job.name!r} is registered by both {self.owners[job.name]!r} and {plugin!r}"
            )
        self.jobs[job.name] = job
        self.owners[job.name] = plugin

    def get(self, name: str) -> Job:
        job = self.jobs.get(name)
        if job is None:
            raise UnknownJob(
                f"no job named {name!r} is registered (is the plugin that defines it enabled?)"
            )
        return job

    def periodic(self) -> list[Job]:
        return [job for job in self.jobs.values() if job.schedule is not None]

    def __contains__(self, name: object) -> bool:
        return name in self.jobs


_registries: weakref.WeakKeyDictionary[Any, tuple[int, JobRegistry]] = weakref.WeakKeyDictionary()


def registry_for(pm: Any) -> JobRegistry:
    """The job registry of a plugin manager, rebuilt when a plugin was registered since."""
    plugins = len(pm.get_plugins())
    cached = _registries.get(pm)
    if cached is None or cached[0] != plugins:
        cached = (plugins, JobRegistry.from_pm(pm))
        _registries[pm] = cached
    return cached[1]
