"""Turning what a browser form sent into service input, and service errors into form errors.

Forms post plain strings; services take typed values and raise
:class:`~crmcore.errors.ValidationError` with ``errors`` keyed by *their* field names. The
helpers here convert both ways so every page shows each message next to its own input and
keeps what the user typed.
"""

from __future__ import annotations

import datetime as dt
import gettext
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from crmcore.errors import ValidationError

__all__ = [
    "field_errors",
    "local_datetime",
    "local_input_value",
    "safe_next",
]

# A message the services produce for a field whose text the catalog does not hold is shown
# in the user's language with this generic sentence, followed by the original detail.
_GENERIC: dict[str, str] = {
    "email": "Invalid email address",
    "phone": "Invalid phone number",
}


def field_errors(
    exc: ValidationError,
    translations: gettext.NullTranslations,
    lang: str,
    rename: Mapping[str, str] | None = None,
    *,
    form_fields: Collection[str] | None = None,
) -> dict[str, str]:
    """``{form field: message}`` for a rejected form.

    ``rename`` maps service field names to input names (``emails`` -> ``email``). Given
    ``form_fields`` (the inputs the form shows), a message about any other field goes under
    ``""`` with the record-level ones, shown above the form, so no error is ever lost. Messages the
    catalog knows are translated; in other languages than English an unknown one gets a
    translated lead-in, so the user still reads why in their own language.
    """
    rename = rename or {}
    errors: dict[str, str] = {}
    items = exc.errors.items() if exc.errors else [("", exc.message)]
    for key, message in items:
        name = rename.get(key, key)
        if form_fields is not None and name not in form_fields:
            name = ""
        translated = translations.gettext(message)
        if translated == message and lang != "en":
            lead = translations.gettext(_GENERIC.get(name, "This value is not valid"))
            translated = f"{lead} ({message})"
        if name in errors:
            errors[name] = f"{errors[name]} {translated}"
        else:
            errors[name] = translated
    return errors


def local_datetime(value: str, tz: str) -> dt.datetime | None:
    """A ``datetime-local`` or ``date`` input value, read in the user's timezone, as UTC.

    Returns None for an empty value; raises ValueError for one that is not a date.
    """
    text = value.strip()
    if not text:
        return None
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.astimezone(dt.UTC)


def local_input_value(value: Any, tz: str) -> str:
    """The ``datetime-local`` input value showing a stored timestamp in the user's timezone."""
    if not isinstance(value, dt.datetime):
        return str(value or "")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


def safe_next(value: str | None, default: str) -> str:
    """A local path to go back to after a form, never another site (open redirects)."""
    if not value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return default
    return value
