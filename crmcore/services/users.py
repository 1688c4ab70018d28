"""Users of the CRM: accounts, passwords, roles, languages and time zones.

Every change goes through a function here (CLI, API and ``crm init`` alike), inside a write
transaction with its audit row. Password hashes never leave this module: the dicts it
returns hold the public fields only, and audit rows record that a password changed, never
its value or hash.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

from crmcore.auth.passwords import (
    hash_password_async,
    needs_rehash,
    password_problem,
    verify_password_async,
)
from crmcore.errors import Conflict, NotFound, ValidationError
from crmcore.services.actor import SYSTEM, Actor
from crmcore.services.audit import diff, record_audit
from crmcore.services.outbox import emit_event
from crmcore.services.roles import get_role
from crmcore.services.transaction import write_transaction
from crmcore.tables import User

LANGUAGES = ("en", "fa")
AUDITED_FIELDS = ("email", "name", "active", "language", "timezone", "role")


def normalize_email(email: str) -> str:
    """Lower-cased, syntax-checked address (no DNS lookups: instances may be offline)."""
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError.for_field("email", str(exc)) from exc
    return result.normalized.lower()


def _check_password(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise ValidationError.for_field("password", problem)


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValidationError.for_field(
            "language", f"must be one of {', '.join(LANGUAGES)}, not {language!r}"
        )


def _check_timezone(timezone: str) -> None:
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError.for_field(
            "timezone", f"unknown time zone {timezone!r} (use an IANA name like Asia/Tehran)"
        ) from exc


_PUBLIC_COLUMNS = (
    User.id,
    User.email,
    User.name,
    User.active,
    User.language,
    User.timezone,
    User.created_at,
    User.last_login_at,
    User.role.name.as_alias("role"),
)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "email": row["email"],
        "name": row["name"],
        "active": bool(row["active"]),
        "language": row["language"],
        "timezone": row["timezone"],
        "role": row["role"],
        "created_at": row["created_at"],
        "last_login_at": row["last_login_at"],
    }


def _audited(user: dict[str, Any]) -> dict[str, Any]:
    return {k: user[k] for k in AUDITED_FIELDS}


async def list_users() -> list[dict[str, Any]]:
    rows = await User.select(*_PUBLIC_COLUMNS).order_by(User.id)
    return [_public(row) for row in rows]


async def get_user(user_id: int) -> dict[str, Any]:
    row = await User.select(*_PUBLIC_COLUMNS).where(User.id == user_id).first()
    if row is None:
        raise NotFound(f"no user with id {user_id}")
    return _public(row)


async def get_user_by_email(email: str) -> dict[str, Any]:
    address = email.strip().lower()
    row = await User.select(*_PUBLIC_COLUMNS).where(User.email == address).first()
    if row is None:
        raise NotFound(f"no user with email {address!r} (`crm users list` shows them)")
    return _public(row)


async def create_user(
    *,
    email: str,
    password: str,
    role: str = "viewer",
    name: str = "",
    language: str = "en",
    timezone: str = "UTC",
    active: bool = True,
    actor: Actor = SYSTEM,
) -> dict[str, Any]:
    """Create a user with a role (``admin``, ``manager``, ``agent``, ``viewer`` or custom).

    Returns the public fields, including ``id``. Raises ValidationError for a malformed
    email, a short password or an unknown role/language/time zone, Conflict for an email
    already in use.
    """
    address = normalize_email(email)
    _check_password(password)
    _check_language(language)
    _check_timezone(timezone)
    try:
        role_row = await get_role(role)
    except NotFound as exc:
        raise ValidationError.for_field("role", exc.message) from exc
    password_hash = await hash_password_async(password)
    async with write_transaction():
        if await User.exists().where(User.email == address):
            raise Conflict(f"a user with email {address!r} already exists")
        rows = await User.insert(
            User(
                email=address,
                name=name.strip(),
                password_hash=password_hash,
                active=active,
                language=language,
                timezone=timezone,
                role=role_row["id"],
            )
        )
        user = await get_user(rows[0]["id"])
        await record_audit(
            table="crm_user",
            record_id=user["id"],
            action="create",
            changes=diff(None, _audited(user)),
            actor=actor,
        )
        await emit_event("user.created", {"id": user["id"], "email": address, "role": role})
    return user


async def update_user(
    user_id: int,
    *,
    name: str | None = None,
    language: str | None = None,
    timezone: str | None = None,
    role: str | None = None,
    active: bool | None = None,
    actor: Actor = SYSTEM,
) -> dict[str, Any]:
    """Change profile fields, role or active state; records one audit row of what changed.

    Disabling a user also ends their sessions and makes their API tokens unusable (they are
    checked against ``active`` on every request).
    """
    values: dict[Any, Any] = {}
    if name is not None:
        values[User.name] = name.strip()
    if language is not None:
        _check_language(language)
        values[User.language] = language
    if timezone is not None:
        _check_timezone(timezone)
        values[User.timezone] = timezone
    if active is not None:
        values[User.active] = active
    if role is not None:
        try:
            values[User.role] = (await get_role(role))["id"]
        except NotFound as exc:
            raise ValidationError.for_field("role", exc.message) from exc
    async with write_transaction():
        before = await get_user(user_id)
        if values:
            await User.update(values).where(User.id == user_id)
        if active is False:
            from crmcore.auth.sessions import end_sessions_of

            await end_sessions_of(user_id)
        after = await get_user(user_id)
        changes = diff(_audited(before), _audited(after))
        if changes:
            await record_audit(
                table="crm_user", record_id=user_id, action="update", changes=changes, actor=actor
            )
            await emit_event("user.updated", {"id": user_id, "changes": changes})
    return after


async def set_password(user_id: int, password: str, *, actor: Actor = SYSTEM) -> None:
    """Replace the password and end the user's sessions (other browsers must log in again)."""
    _check_password(password)
    password_hash = await hash_password_async(password)
    async with write_transaction():
        await get_user(user_id)
        await User.update({User.password_hash: password_hash}).where(User.id == user_id)
        from crmcore.auth.sessions import end_sessions_of

        await end_sessions_of(user_id)
        # The audit row says that the password changed, never what it is.
        await record_audit(
            table="crm_user",
            record_id=user_id,
            action="set_password",
            changes={"password": ["***", "***"]},
            actor=actor,
        )


async def authenticate(email: str, password: str) -> dict[str, Any] | None:
    """The active user with this email and password, or None.

    Takes as long for an unknown email as for a wrong password. Upgrades the stored hash
    when the hashing parameters have been raised since it was made.
    """
    address = email.strip().lower()
    row = (
        await User.select(User.id, User.password_hash, User.active)
        .where(User.email == address)
        .first()
    )
    stored = row["password_hash"] if row else ""
    if not await verify_password_async(stored, password):
        return None
    if not row or not row["active"]:
        return None
    values: dict[Any, Any] = {User.last_login_at: datetime.now(UTC)}
    if needs_rehash(stored):
        values[User.password_hash] = await hash_password_async(password)
    await User.update(values).where(User.id == row["id"])
    return await get_user(row["id"])


@dataclass(frozen=True)
class UserAccess:
    """A signed-in user's public fields plus what their role grants."""

    user: dict[str, Any]
    role_permissions: tuple[str, ...]
    record_scope: str


async def load_user_for_request(user_id: int) -> UserAccess | None:
    """The active user with their role's permissions and scope, for building an Actor.

    A user without a role gets no permissions and sees only their own records.
    """
    row = (
        await User.select(
            *_PUBLIC_COLUMNS,
            User.role.permissions.as_alias("role_permissions"),
            User.role.record_scope.as_alias("role_scope"),
        )
        .where((User.id == user_id) & (User.active == True))  # noqa: E712 - SQL comparison
        .output(load_json=True)
        .first()
    )
    if row is None:
        return None
    return UserAccess(
        user=_public(row),
        role_permissions=tuple(row["role_permissions"] or ()),
        record_scope=row["role_scope"] or "own",
    )


__all__ = [
    "LANGUAGES",
    "UserAccess",
    "authenticate",
    "create_user",
    "get_user",
    "get_user_by_email",
    "list_users",
    "load_user_for_request",
    "normalize_email",
    "set_password",
    "update_user",
]
