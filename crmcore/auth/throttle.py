"""Login throttling from the ``login_attempt`` table.

Five failed logins within 15 minutes, for one account or from one IP address, block further
attempts for that account or address until the oldest of those failures is 15 minutes old.
A successful login clears the count for its account and address. Blocked attempts are not
recorded (the password is not even checked), so hammering does not extend the block.
Counting in the database makes the limit hold across every app process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crmcore.tables import LoginAttempt

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Throttled:
    retry_after: int  # seconds
    reason: str  # "account" | "ip"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def _retry_after(column: Any, value: str, now: datetime) -> int | None:
    since = now - WINDOW
    last_success = (
        await LoginAttempt.select(LoginAttempt.at)
        .where((column == value) & (LoginAttempt.success == True))  # noqa: E712
        .where(LoginAttempt.at > since)
        .order_by(LoginAttempt.at, ascending=False)
        .first()
    )
    if last_success is not None:
        since = _aware(last_success["at"])
    failures = (
        await LoginAttempt.select(LoginAttempt.at)
        .where((column == value) & (LoginAttempt.success == False))  # noqa: E712
        .where(LoginAttempt.at > since)
        .order_by(LoginAttempt.at, ascending=False)
        .limit(MAX_FAILURES)
    )
    if len(failures) < MAX_FAILURES:
        return None
    oldest = _aware(failures[-1]["at"])
    return max(1, math.ceil((oldest + WINDOW - now).total_seconds()))


async def check_throttle(email: str, ip: str) -> Throttled | None:
    """Whether a login for ``email`` from ``ip`` must wait, and for how long."""
    now = datetime.now(UTC)
    account = await _retry_after(LoginAttempt.email, email.strip().lower(), now)
    address = await _retry_after(LoginAttempt.ip, ip, now) if ip else None
    if account is None and address is None:
        return None
    if (account or 0) >= (address or 0):
        return Throttled(retry_after=account or 0, reason="account")
    return Throttled(retry_after=address or 0, reason="ip")


async def record_attempt(email: str, ip: str, success: bool) -> None:
    await LoginAttempt.insert(
        LoginAttempt(
            email=email.strip().lower()[:320],
            ip=ip[:64],
            at=datetime.now(UTC),
            success=success,
        )
    )


async def purge_old_attempts(keep: timedelta = timedelta(days=30)) -> int:
    """Drop attempts older than ``keep`` (login history is kept that long); returns how many."""
    rows = await (
        LoginAttempt.delete()
        .where(LoginAttempt.at < datetime.now(UTC) - keep)
        .returning(LoginAttempt.id)
    )
    return len(rows)
