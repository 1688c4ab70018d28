"""Input checking and output shaping shared by the HR services."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from crmcore.errors import ValidationError


def text(data: dict[str, Any], key: str, max_length: int = 200, required: bool = False) -> str:
    value = data.get(key)
    if value in (None, ""):
        if required:
            raise ValidationError.for_field(key, "is required.")
        return ""
    if not isinstance(value, str):
        raise ValidationError.for_field(key, "must be text.")
    value = value.strip()
    if len(value) > max_length:
        raise ValidationError.for_field(key, f"is too long (at most {max_length} characters).")
    return value


def day(data: dict[str, Any], key: str, required: bool = False) -> date | None:
    value = data.get(key)
    if value in (None, ""):
        if required:
            raise ValidationError.for_field(key, "is required (YYYY-MM-DD).")
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationError.for_field(key, f"{value!r} is not a date (YYYY-MM-DD).") from exc


def amount(data: dict[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValidationError.for_field(key, f"{value!r} is not a number.") from exc
    if result < 0:
        raise ValidationError.for_field(key, "cannot be negative.")
    return result


def currency(data: dict[str, Any], key: str) -> str:
    value = str(data.get(key) or "").strip().upper()
    if value and (len(value) != 3 or not value.isalpha()):
        raise ValidationError.for_field(key, "must be a 3-letter ISO 4217 code (IRR, EUR…).")
    return value


def choice(data: dict[str, Any], key: str, options: tuple[str, ...], default: str) -> str:
    value = data.get(key, default) or default
    if value not in options:
        raise ValidationError.for_field(key, f"must be one of {', '.join(options)}.")
    return str(value)


def rating(value: Any, key: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError.for_field(key, "must be a whole number from 1 to 5.") from exc
    if not 1 <= number <= 5:
        raise ValidationError.for_field(key, "must be from 1 to 5.")
    return number


def jsonable_row(row: dict[str, Any], rename: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = rename.get(key, key)
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        out[name] = value
    return out
