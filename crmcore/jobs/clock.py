"""The time the job system, webhooks and automation read: real UTC time, or a test's clock.

Everything that schedules (retry back-off, delayed jobs, periodic slots, leases, rule delays,
task due dates set by rules) asks ``now()`` here, so a test moves time forward with a
:class:`FrozenClock` instead of sleeping.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

_override: Callable[[], datetime] | None = None


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return _override() if _override is not None else datetime.now(UTC)


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Make ``now()`` return ``clock()`` (``None`` restores real time)."""
    global _override
    _override = clock


class FrozenClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = (start or datetime.now(UTC)).astimezone(UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta | None = None, **units: float) -> datetime:
        """Move forward by ``delta`` or by keyword units (``days=3``, ``seconds=10``)."""
        self.current += delta if delta is not None else timedelta(**units)
        return self.current


@contextlib.contextmanager
def frozen_clock(start: datetime | None = None) -> Iterator[FrozenClock]:
    """Freeze ``now()`` for the block; real time comes back afterwards."""
    clock = FrozenClock(start)
    previous = _override
    set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)
