"""Normalising what people type: email addresses, phone numbers and search text.

Every door (API, pages, CLI, import) stores the same canonical form, so lookups and
duplicate detection compare like with like: emails lower-cased, phones in E.164, and
Arabic/Persian letter variants folded to one spelling.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from crmcore.errors import ValidationError

__all__ = [
    "fold_text",
    "normalize_email",
    "normalize_phone",
    "phone_search_forms",
]

# Arabic keyboards type ي/ك/ى where Persian uses ی/ک; Arabic-Indic and Persian digits are
# folded to ASCII so "۰۹۱۲" finds "0912". Short vowels (harakat) and the tatweel are
# dropped because the FTS tokenizers keep them as part of a word.
_FOLD = str.maketrans(
    {
        "\u064a": "\u06cc",  # ي Arabic yeh -> ی Farsi yeh
        "\u0649": "\u06cc",  # ى alef maksura -> ی
        "\u0643": "\u06a9",  # ك Arabic kaf -> ک keheh
        "\u0640": None,  # tatweel
        **{chr(c): None for c in range(0x064B, 0x0660)},  # harakat
        "\u0670": None,  # superscript alef
        "\u200c": " ",  # zero-width non-joiner: split compound names into words
        "\u200d": None,
        **{chr(0x0660 + i): str(i) for i in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + i): str(i) for i in range(10)},  # Persian digits
    }
)


def fold_text(value: str) -> str:
    """Fold Arabic/Persian letter variants and digits to one spelling (search text and queries)."""
    return value.translate(_FOLD)


def normalize_email(value: str) -> str:
    """Validate an email address (syntax only, no DNS) and return it lower-cased.

    Raises ``ValidationError`` for the field ``email`` with a message people can act on.
    """
    text = fold_text((value or "").strip())
    if not text:
        raise ValidationError.for_field("email", "An email address is required here.")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError.for_field(
            "email", f"{text!r} is not a valid email address: {exc}"
        ) from exc
    return result.normalized.lower()


_PHONE_CHARS = re.compile(r"^[+()\d\s\-./]+$")


def normalize_phone(value: str, region: str) -> str:
    """Parse a phone number written nationally (for ``region``, e.g. ``IR``) or
    internationally and return it in E.164 (``+989121234567``).

    Raises ``ValidationError`` for the field ``phone`` when it is not a valid number.
    """
    text = fold_text((value or "").strip())
    if not text:
        raise ValidationError.for_field("phone", "A phone number is required here.")
    hint = (
        "write it with its country code (e.g. +98 912 123 4567) or as a national number "
        f"of region {region}"
    )
    if not _PHONE_CHARS.match(text):
        raise ValidationError.for_field(
            "phone",
            f"{text!r} is not a valid phone number: only digits, spaces, +, -, (, ) "
            f"are allowed; {hint}.",
        )
    try:
        number = phonenumbers.parse(text, region.upper() if region else None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError.for_field(
            "phone", f"{text!r} is not a valid phone number; {hint}."
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError.for_field("phone", f"{text!r} is not a valid phone number; {hint}.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_search_forms(e164: str) -> list[str]:
    """The digit strings people search a number by: international digits, the national
    number with its trunk prefix (``09121234567``) and without it (``9121234567``)."""
    forms = [e164.lstrip("+")]
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return forms
    significant = phonenumbers.national_significant_number(number)
    national = re.sub(
        r"\D", "", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    )
    for form in (national, significant):
        if form and form not in forms:
            forms.append(form)
    return forms
