"""Server-side web sessions, kept in the ``web_session`` table.

The browser holds a random session key in an HttpOnly, SameSite=Lax cookie (Secure when the
site is served over https); the database holds only its SHA-256, so a leaked database or
backup cannot be replayed as a login. Each session carries its own CSRF token. A new key is
issued at every login (no session fixation) and logout deletes the row.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crmcore.tables import WebSession

COOKIE_NAME = "crm_session"
SESSION_LIFETIME = timedelta(days=14)
# Sliding expiry is refreshed at most this often, so browsing does not write on every click.
TOUCH_INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True)
class WebSessionInfo:
    id: int
    user_id: int
    csrf_token: str
    expires_at: datetime


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


async def create_session(user_id: int, *, ip: str = "", user_agent: str = "") -> tuple[str, str]:
    """Start a session; returns ``(cookie key, csrf token)``. Only the key's hash is stored."""
    key = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    await WebSession.insert(
        WebSession(
            key_hash=hash_key(key),
            user=user_id,
            csrf_token=csrf_token,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_LIFETIME,
            ip=ip[:64],
            user_agent=user_agent[:300],
        )
    )
    return key, csrf_token


async def load_session(key: str) -> WebSessionInfo | None:
    """The unexpired session for a cookie key, extending its life when it is in use."""
    if not key or len(key) > 200:
        return None
    row = await WebSession.select().where(WebSession.key_hash == hash_key(key)).first()
    if row is None:
        return None
    now = datetime.now(UTC)
    expires_at = _aware(row["expires_at"])
    if expires_at <= now:
        await WebSession.delete().where(WebSession.id == row["id"])
        return None
    if now - _aware(row["last_seen_at"]) >= TOUCH_INTERVAL:
        expires_at = now + SESSION_LIFETIME
        await WebSession.update(
            {WebSession.last_seen_at: now, WebSession.expires_at: expires_at}
        ).where(WebSession.id == row["id"])
    return WebSessionInfo(
        id=row["id"], user_id=row["user"], csrf_token=row["csrf_token"], expires_at=expires_at
    )


async def end_session(key: str) -> None:
    await WebSession.delete().where(WebSession.key_hash == hash_key(key))


async def end_sessions_of(user_id: int) -> None:
    """Log a user out everywhere (password change, account disabled)."""
    await WebSession.delete().where(WebSession.user == user_id)


async def purge_expired_sessions() -> int:
    """Delete expired sessions; returns how many (for a periodic job)."""
    rows = await (
        WebSession.delete()
        .where(WebSession.expires_at <= datetime.now(UTC))
        .returning(WebSession.id)
    )
    return len(rows)


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cookie_settings(secure: bool) -> dict[str, Any]:
    """Attributes of the session cookie (for ``Response.set_cookie``)."""
    return {
        "key": COOKIE_NAME,
        "httponly": True,
        "samesite": "lax",
        "secure": secure,
        "path": "/",
        "max_age": int(SESSION_LIFETIME.total_seconds()),
    }
