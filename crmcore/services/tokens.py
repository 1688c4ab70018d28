"""API tokens: random secrets shown once, stored as SHA-256 hashes.

A token is ``crm_`` followed by 43 URL-safe characters (256 bits). The database keeps its
hash and a short prefix so people can tell their tokens apart in listings; nothing stored
can be turned back into a usable token. A token may be limited to some permissions
(``scopes``): it then acts with the permissions its user's role and its scopes share.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crmcore.errors import NotFound, ValidationError
from crmcore.services.actor import SYSTEM, Actor
from crmcore.services.audit import record_audit
from crmcore.services.roles import validate_permissions
from crmcore.services.transaction import write_transaction
from crmcore.tables import ApiToken, User

TOKEN_PREFIX = "crm_"
DISPLAY_PREFIX_LENGTH = 12
# last_used_at is written at most this often per token, so busy API clients cost no writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_DURATION_RE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class TokenInfo:
    id: int
    user_id: int
    scopes: tuple[str, ...]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_expiry(value: str, now: datetime | None = None) -> datetime:
    """``30d``, ``12h``, ``2w``, ``90m`` from now, or an ISO date / date-time (UTC if naive)."""
    now = now or datetime.now(UTC)
    text = value.strip()
    match = _DURATION_RE.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        if amount <= 0:
            raise ValidationError.for_field("expires", "must be in the future")
        return now + timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError.for_field(
            "expires", f"{value!r}: use a duration like 30d, 12h, 2w or an ISO date"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment <= now:
        raise ValidationError.for_field("expires", f"{value!r} is in the past")
    return moment


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "user_id": row["user"],
        "user_email": row.get("user_email"),
        "name": row["name"],
        "prefix": row["prefix"],
        "scopes": list(row["scopes"] or []),
        "created_at": row["created_at"],
        "expires_at": row["expires_at"],
        "revoked_at": row["revoked_at"],
        "last_used_at": row["last_used_at"],
    }


async def create_token(
    *,
    user_id: int,
    name: str = "",
    scopes: Iterable[str] = (),
    expires_at: datetime | None = None,
    actor: Actor = SYSTEM,
) -> str:
    """Create a token for ``user_id`` and return it in plain text; it is never shown again."""
    cleaned = validate_permissions(scopes)
    if expires_at is not None:
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        if expires_at <= datetime.now(UTC):
            raise ValidationError.for_field("expires", "must be in the future")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with write_transaction():
        if not await User.exists().where(User.id == user_id):
            raise NotFound(f"no user with id {user_id}")
        rows = await ApiToken.insert(
            ApiToken(
                user=user_id,
                name=name.strip()[:100],
                prefix=token[:DISPLAY_PREFIX_LENGTH],
                token_hash=hash_token(token),
                scopes=cleaned,
                expires_at=expires_at,
            )
        )
        await record_audit(
            table="api_token",
            record_id=rows[0]["id"],
            action="create",
            changes={
                "user": [None, user_id],
                "name": [None, name],
                "prefix": [None, token[:DISPLAY_PREFIX_LENGTH]],
                "scopes": [None, cleaned],
                "expires_at": [None, expires_at],
            },
            actor=actor,
        )
    return token


def _select() -> Any:
    return ApiToken.select(
        ApiToken.all_columns(exclude=[ApiToken.token_hash]),
        ApiToken.user.email.as_alias("user_email"),
    ).output(load_json=True)


async def list_tokens(user_id: int | None = None) -> list[dict[str, Any]]:
    """Tokens (of one user, or all), newest first; never their secret."""
    query = _select().order_by(ApiToken.id, ascending=False)
    if user_id is not None:
        query = query.where(ApiToken.user == user_id)
    return [_public(row) for row in await query]


async def revoke_token(
    token_id: int, *, owner_id: int | None = None, actor: Actor = SYSTEM
) -> dict[str, Any]:
    """Revoke a token at once. With ``owner_id``, only that user's token may be revoked."""
    async with write_transaction():
        row = await _select().where(ApiToken.id == token_id).first()
        if row is None or (owner_id is not None and row["user"] != owner_id):
            raise NotFound(f"no token with id {token_id}")
        if row["revoked_at"] is None:
            now = datetime.now(UTC)
            await ApiToken.update({ApiToken.revoked_at: now}).where(ApiToken.id == token_id)
            await record_audit(
                table="api_token",
                record_id=token_id,
                action="revoke",
                changes={"revoked_at": [None, now]},
                actor=actor,
            )
            row["revoked_at"] = now
    return _public(row)


async def authenticate_token(token: str) -> TokenInfo | None:
    """The live token for a presented secret, or None (unknown, revoked or expired).

    Records the time of use, at most once per minute per token.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = (
        await ApiToken.select(
            ApiToken.id,
            ApiToken.user,
            ApiToken.scopes,
            ApiToken.expires_at,
            ApiToken.revoked_at,
            ApiToken.last_used_at,
        )
        .where(ApiToken.token_hash == hash_token(token))
        .output(load_json=True)
        .first()
    )
    if row is None or row["revoked_at"] is not None:
        return None
    now = datetime.now(UTC)
    if row["expires_at"] is not None and _aware(row["expires_at"]) <= now:
        return None
    last = row["last_used_at"]
    if last is None or now - _aware(last) >= LAST_USED_RESOLUTION:
        await ApiToken.update({ApiToken.last_used_at: now}).where(ApiToken.id == row["id"])
    return TokenInfo(id=row["id"], user_id=row["user"], scopes=tuple(row["scopes"] or ()))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
