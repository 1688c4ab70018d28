"""What the record services (contacts, companies, tags, custom fields) share: raw SQL with
Piccolo's ``{}`` placeholders on either engine, permission checks, and value shaping."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from crmcore.db.runtime import current_database
from crmcore.errors import PermissionDenied, ValidationError
from crmcore.services.actor import Actor
from crmcore.tables import Contact

DEFAULT_REGION = "IR"


def engine_type() -> str:
    """``"sqlite"`` or ``"postgres"``: the dialect raw SQL must be written in."""
    return current_database().engine.engine_type


async def fetch(sql: str, args: list[Any] | tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Run raw SQL (``{}`` placeholders) inside the current transaction, if any."""
    return await Contact.raw(sql, *args)


def plugin_manager() -> Any:
    """The plugin manager the database was opened with (``None`` in bare scripts)."""
    return current_database().pm


def default_region() -> str:
    """The region national phone numbers are read in (setting ``default_region``)."""
    pm = plugin_manager()
    settings = getattr(pm, "settings", None)
    return (getattr(settings, "default_region", None) or DEFAULT_REGION).upper()


def require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise PermissionDenied(f"{actor.label} lacks the permission {permission!r}.")


def now() -> datetime:
    return datetime.now(UTC)


def load_json(value: Any, default: Any) -> Any:
    """JSON columns come back as text from SQLite and from asyncpg's ``json`` type."""
    if value is None:
        return default
    if isinstance(value, str):
        return json.loads(value) if value else default
    return value


def iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def parse_datetime(value: Any, field: str) -> datetime:
    """An aware datetime from a datetime, a date or an ISO 8601 string (UTC if no offset)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError.for_field(
                field, f"{value!r} is not a date and time; use ISO 8601 (2024-05-01T12:00:00Z)."
            ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_date(value: Any, field: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise ValidationError.for_field(
            field, f"{value!r} is not a date; use YYYY-MM-DD (1990-04-21)."
        ) from exc


def clean_text(data: dict[str, Any], key: str, max_length: int) -> str:
    """A stripped string field, or a ValidationError naming the field."""
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError.for_field(key, "must be text.")
    value = value.strip()
    if len(value) > max_length:
        raise ValidationError.for_field(key, f"is too long (at most {max_length} characters).")
    return value


def placeholders(values: list[Any]) -> str:
    return ", ".join("{}" for _ in values)
