"""iCalendar (RFC 5545) feeds of a user's planned interactions, for calendar apps.

Calendar apps subscribe to a URL and cannot log in, so the feed URL carries a token: an
HMAC of the user id under the instance's secret key. Anyone holding the URL can read that
user's task list and nothing else; rotating the secret key revokes every feed URL.

The text is written by hand (it is small and the rules are few): CRLF line ends, lines
folded at 75 octets without splitting a UTF-8 character, TEXT values escaped.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from crmcore.errors import NotFound
from crmcore.tables import Interaction, User

__all__ = [
    "calendar_token",
    "check_calendar_token",
    "escape_text",
    "fold_line",
    "planned_tasks_for",
    "render_calendar",
]

PRODID = "-//crmcore//Planned interactions//EN"
MAX_OCTETS = 75
EVENT_DURATION = timedelta(minutes=30)
FEED_HORIZON = timedelta(days=90)  # how far back planned (overdue) tasks stay in the feed


def calendar_token(user_id: int, secret: str) -> str:
    """The feed token of ``user_id``: an HMAC-SHA256 of the id under the instance secret."""
    if not secret:
        raise NotFound("calendar feeds need the instance secret key (see `crm init`)")
    message = f"crm-calendar:{user_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:40]


def check_calendar_token(user_id: int, token: str, secret: str) -> None:
    """Raise NotFound (not 403: the feed's existence stays secret) unless ``token`` fits."""
    if not token or not hmac.compare_digest(calendar_token(user_id, secret), token):
        raise NotFound("no such calendar")


def escape_text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 §3.3.11)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold_line(line: str) -> str:
    """Fold a content line into chunks of at most 75 octets joined by CRLF + space.

    Splits only between characters, so a Persian (multi-byte) name is never cut mid-letter.
    """
    parts: list[str] = []
    current, size, limit = [], 0, MAX_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append("".join(current))
            # Continuation lines start with a space, which counts toward their 75 octets.
            current, size, limit = [], 0, MAX_OCTETS - 1
        current.append(char)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts)


def _utc_stamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _event(task: dict[str, Any], domain: str, now: datetime) -> list[str]:
    contact = " ".join(p for p in (task.get("first_name"), task.get("last_name")) if p)
    summary = task["subject"] or task["channel"]
    if contact:
        summary = f"{summary} — {contact}"
    description = task["body"] or ""
    lines = [
        "BEGIN:VEVENT",
        f"UID:task-{task['id']}@{domain}",
        f"DTSTAMP:{_utc_stamp(now)}",
        f"DTSTART:{_utc_stamp(task['due_at'])}",
        f"DTEND:{_utc_stamp(task['due_at'] + EVENT_DURATION)}",
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(description)}",
        f"CATEGORIES:{escape_text(task['channel'])}",
        "STATUS:CONFIRMED",
        "END:VEVENT",
    ]
    return lines


def render_calendar(
    tasks: Iterable[dict[str, Any]],
    *,
    name: str,
    domain: str = "crmcore.local",
    now: datetime | None = None,
) -> str:
    """A VCALENDAR with one VEVENT per planned task (``id``, ``subject``, ``body``,
    ``channel``, ``due_at`` and optionally the contact's ``first_name``/``last_name``)."""
    now = now or datetime.now(UTC)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
    ]
    for task in tasks:
        lines.extend(_event(task, domain, now))
    lines.append("END:VCALENDAR")
    return "".join(fold_line(line) + "\r\n" for line in lines)


async def planned_tasks_for(user_id: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """The user's planned tasks from ``FEED_HORIZON`` ago on, soonest first.

    NotFound when the user does not exist or is deactivated (a feed dies with its user).
    """
    user = await User.select(User.id, User.active).where(User.id == user_id).first()
    if user is None or not user["active"]:
        raise NotFound("no such calendar")
    since = (now or datetime.now(UTC)) - FEED_HORIZON
    return await (
        Interaction.select(
            Interaction.id,
            Interaction.subject,
            Interaction.body,
            Interaction.channel,
            Interaction.due_at,
            Interaction.contact.first_name.as_alias("first_name"),
            Interaction.contact.last_name.as_alias("last_name"),
        )
        .where(
            (Interaction.assignee == user_id)
            & (Interaction.status == "planned")
            & (Interaction.due_at >= since)
        )
        .order_by(Interaction.due_at, Interaction.id)
        .limit(5000)
    )
