"""Keyset pagination: pages of a list and the opaque cursor that continues it.

A cursor holds the sort key of the last row returned (the row id, lists being newest
first), so fetching page 5,000 costs the same index seek as page 1, and rows inserted
while someone pages never shift or repeat what they see.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from crmcore.errors import ValidationError

MAX_LIMIT = 500


@dataclass
class Page:
    """One page of records and the cursor of the next page (``None`` on the last one)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    next: str | None = None


def encode_cursor(last_id: int) -> str:
    raw = json.dumps({"v": 1, "id": int(last_id)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id to continue after, or ``None`` for the first page."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data.get("v") != 1:
            raise ValueError(cursor)
        return int(data["id"])
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as exc:
        raise ValidationError.for_field(
            "cursor",
            "is not a cursor this list returned; start again from the first page without it.",
        ) from exc


def check_limit(limit: int) -> int:
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise ValidationError.for_field("limit", f"must be between 1 and {MAX_LIMIT}.")
    return int(limit)
