"""What an interaction may hold: parsing and checking input for interactions and tasks.

Every door (API, pages, CLI, imports, jobs) reaches these rules through the services in
:mod:`crmcore.services.interactions` and :mod:`crmcore.services.tasks`, so the same input is
refused with the same field messages wherever it came from.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from crmcore.errors import ValidationError
from crmcore.tables import CHANNELS, DIRECTIONS

MAX_VALUE = Decimal("1e12")  # Numeric(14, 2): twelve digits before the point


# --------------------------------------------------------------------------- small parsers


def encode_time_cursor(at: datetime, last_id: int) -> str:
    """An opaque cursor for lists ordered by a timestamp, then id: the last row's pair."""
    raw = json.dumps({"v": 1, "at": at.isoformat(), "id": last_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_time_cursor(cursor: str) -> tuple[datetime, int]:
    """The (timestamp, id) inside a cursor made by ``encode_time_cursor``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data.get("v") != 1 or not isinstance(data["id"], int):
            raise ValueError(cursor)
        return datetime.fromisoformat(data["at"]), data["id"]
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as exc:
        raise ValidationError.for_field(
            "cursor",
            "is not a cursor this list returned; start again from the first page without it.",
        ) from exc


def parse_datetime(value: Any, field_name: str) -> datetime:
    """A timezone-aware datetime from a datetime or an ISO 8601 string (naive means UTC)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError.for_field(
                field_name, "must be an ISO 8601 date-time, e.g. 2025-03-01T14:30:00+03:30"
            ) from None
    if not isinstance(value, datetime):
        raise ValidationError.for_field(field_name, "must be a date-time")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@functools.cache
def known_currencies() -> frozenset[str]:
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


def parse_money(value: Any, currency: Any) -> tuple[Decimal | None, str]:
    """Amount and ISO 4217 currency, which are only meaningful together."""
    if value in (None, "") and currency in (None, ""):
        return None, ""
    errors: dict[str, str] = {}
    amount: Decimal | None = None
    if value in (None, ""):
        errors["value"] = "is required when a currency is given"
    else:
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite():
            errors["value"] = "must be a number, e.g. 1250000 or 19.99"
        elif abs(amount) >= MAX_VALUE:
            errors["value"] = "is too large (at most 12 digits before the decimal point)"
        elif amount.as_tuple().exponent < -2:  # type: ignore[operator]
            errors["value"] = "may have at most 2 decimal places"
    code = str(currency or "").strip().upper()
    if not code:
        errors["currency"] = "is required with a value (an ISO 4217 code such as IRR or USD)"
    elif len(code) != 3 or code not in known_currencies():
        errors["currency"] = f"{currency!r} is not an ISO 4217 currency code (e.g. IRR, USD, EUR)"
    if errors:
        raise ValidationError("; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
    return amount, code


def text_field(data: dict[str, Any], key: str, limit: int, errors: dict[str, str]) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[key] = "must be text"
        return ""
    if len(value) > limit:
        errors[key] = f"must be at most {limit} characters"
    return value


def optional_id(data: dict[str, Any], key: str, errors: dict[str, str]) -> int | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not str(value).isdigit():
        errors[key] = "must be a record id (a positive whole number)"
        return None
    return int(value)


def raise_errors(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationError("; ".join(f"{k}: {v}" for k, v in errors.items()), errors)


# --------------------------------------------------------------------------- validation


def validate_fields(data: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """Clean the plain fields present in ``data`` (all of them for a create)."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    creating = current is None
    if creating or "channel" in data:
        channel = data.get("channel")
        if channel not in CHANNELS:
            errors["channel"] = f"must be one of {', '.join(CHANNELS)}"
        clean["channel"] = channel
    if creating or "direction" in data:
        default = "internal" if clean.get("channel") == "note" else "outbound"
        direction = data.get("direction") or default
        if direction not in DIRECTIONS:
            errors["direction"] = f"must be one of {', '.join(DIRECTIONS)}"
        clean["direction"] = direction
    for key, limit in (("subject", 500), ("source", 64)):
        if creating or key in data:
            clean[key] = text_field(data, key, limit, errors).strip()
    if creating or "body" in data:
        clean["body"] = text_field(data, "body", 100_000, errors)
    if creating or "external_id" in data:
        external = text_field(data, "external_id", 200, errors).strip()
        clean["external_id"] = external or None
    if creating or "meta" in data:
        meta = data.get("meta") or {}
        if not isinstance(meta, dict):
            errors["meta"] = "must be an object"
        else:
            try:
                json.dumps(meta)
            except (TypeError, ValueError):
                errors["meta"] = "must hold only JSON values"
        clean["meta"] = meta
    if creating or "occurred_at" in data:
        occurred = data.get("occurred_at")
        try:
            clean["occurred_at"] = (
                datetime.now(UTC)
                if occurred in (None, "")
                else parse_datetime(occurred, "occurred_at")
            )
        except ValidationError as exc:
            errors.update(exc.errors)
    if creating or "value" in data or "currency" in data:
        base = current or {}
        value = data["value"] if "value" in data else base.get("value")
        currency = data["currency"] if "currency" in data else base.get("currency")
        try:
            clean["value"], clean["currency"] = parse_money(value, currency)
        except ValidationError as exc:
            errors.update(exc.errors)
    raise_errors(errors)
    return clean


def check_rules(merged: dict[str, Any]) -> None:
    """Rules across fields, checked on the record as it will be stored."""
    errors: dict[str, str] = {}
    if merged.get("channel") == "purchase" and merged.get("value") is None:
        errors["value"] = "is required for a purchase (with its currency)"
    if merged.get("external_id") and not merged.get("source"):
        errors["source"] = "is required with external_id: name the system the id comes from"
    # A logged interaction is about someone; a task may be a free-standing reminder.
    if (
        merged.get("status") is None
        and merged.get("contact") is None
        and (merged.get("company") is None)
    ):
        errors["contact_id"] = "link the interaction to a contact, a company, or both"
    raise_errors(errors)
