"""Message catalogs and locale-aware formatting for the web UI.

Catalogs are kept as ``.po`` source files only (``crmcore/locale/<lang>/LC_MESSAGES/messages.po``
and the same shape inside each plugin's ``locale/`` folder). They are compiled in memory when
first needed, so a checkout never carries build output and editing a ``.po`` file is picked up
without a build step.

Stored timestamps are UTC. Everything a person reads goes through :func:`format_date` or
:func:`format_number`, which convert to the user's timezone, calendar (Jalali for Persian) and
digits.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import io
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

import jdatetime
import jinja2
from babel import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.dates import get_day_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from babel.numbers import format_decimal
from babel.support import Translations
from jinja2.ext import InternationalizationExtension
from jinja2.runtime import Context

__all__ = [
    "CORE_LOCALE_DIR",
    "DOMAIN",
    "SUPPORTED_LANGUAGES",
    "CatalogError",
    "MonthGrid",
    "format_date",
    "format_day_of_month",
    "format_number",
    "format_percent",
    "gregorian_month_grid",
    "install_jinja_i18n",
    "jalali_month_grid",
    "load_translations",
    "register_locale_filters",
    "text_direction",
    "to_persian_digits",
    "to_user_timezone",
]

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "fa")
DOMAIN = "messages"
CORE_LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

DateStyle = Literal["short", "long"]

# A language code reaches us from cookies and Accept-Language headers and is then used to build
# a file path, so only plain codes ("fa", "pt_BR") are let through.
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:_[A-Z]{2})?")

_PERSIAN_DIGITS = str.maketrans("0123456789٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹۰۱۲۳۴۵۶۷۸۹")
_ANY_DIGIT = r"[0-9۰-۹٠-٩]"
# Separators only count as numeric when they sit between digits; elsewhere "," and "." are
# punctuation in running text and must stay as they are.
_DECIMAL_POINT = re.compile(rf"(?<={_ANY_DIGIT})\.(?={_ANY_DIGIT})")
_THOUSANDS_SEPARATOR = re.compile(rf"(?<={_ANY_DIGIT}),(?={_ANY_DIGIT}{{3}})")
_PERCENT_AFTER_DIGIT = re.compile(rf"(?<={_ANY_DIGIT})%")


class CatalogError(ValueError):
    """A ``.po`` file could not be read; the message names the file and the problem."""


# --- languages ----------------------------------------------------------------------------


def _base_language(lang: str) -> str:
    """Map "fa_IR", "fa-IR" or "FA" to a supported language, falling back to English."""
    base = lang.replace("-", "_").partition("_")[0].lower()
    return base if base in SUPPORTED_LANGUAGES else "en"


def text_direction(lang: str) -> Literal["rtl", "ltr"]:
    """Return the writing direction for ``<html dir>``, taken from CLDR so that plugin-added
    right-to-left languages work without a list kept here."""
    try:
        direction = Locale.parse(lang.replace("-", "_")).text_direction
    except (UnknownLocaleError, ValueError):
        return "ltr"
    return "rtl" if direction == "rtl" else "ltr"


# --- catalogs -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _compile_catalog(po_path: Path, lang: str, mtime_ns: int) -> bytes:
    """Compile one ``.po`` file to ``.mo`` bytes.

    The cache key holds the file's modification time, so one catalog per (locale dir,
    language) is kept while an edited file is recompiled on its next use.
    """
    del mtime_ns  # only part of the cache key
    try:
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=lang, domain=DOMAIN, abort_invalid=True)
    except (PoFileError, UnicodeDecodeError) as error:
        raise CatalogError(
            f"Cannot read the message catalog {po_path}: {error}. "
            "Fix that entry in the file; it is read again on the next page load."
        ) from error
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    return compiled.getvalue()


def load_translations(lang: str, catalog_dirs: Sequence[Path]) -> Translations:
    """Build the translations for ``lang`` from the core and plugin ``locale/`` folders.

    ``catalog_dirs`` are searched in order, the core folder first (see ``CORE_LOCALE_DIR``).
    Each later folder adds its messages on top, so a plugin may also re-translate a core string.
    Folders without a catalog for ``lang`` are skipped; with none at all the result translates
    nothing and every message shows its English source text.

    A new object is returned on each call, so callers may merge further catalogs into it.
    """
    if not _LANGUAGE_CODE.fullmatch(lang):
        raise ValueError(f"{lang!r} is not a language code such as 'en', 'fa' or 'pt_BR'")
    merged: Translations | None = None
    for locale_dir in catalog_dirs:
        po_path = Path(locale_dir) / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        try:
            mtime_ns = po_path.stat().st_mtime_ns
        except FileNotFoundError:
            continue
        compiled = _compile_catalog(po_path.resolve(), lang, mtime_ns)
        translations = Translations(io.BytesIO(compiled), domain=DOMAIN)
        if merged is None:
            merged = translations
        else:
            merged.merge(translations)
    return merged if merged is not None else Translations(domain=DOMAIN)


# --- digits and numbers -------------------------------------------------------------------


def to_persian_digits(value: str) -> str:
    """Write every digit of ``value`` in Persian (Extended Arabic-Indic) digits.

    Decimal points, thousands separators and percent signs are replaced by their Persian forms
    only where they are part of a number, so that ordinary punctuation in a sentence survives.
    """
    text = _PERCENT_AFTER_DIGIT.sub("٪", value)
    text = _DECIMAL_POINT.sub("٫", text)
    text = _THOUSANDS_SEPARATOR.sub("٬", text)
    return text.translate(_PERSIAN_DIGITS)


def format_number(n: int | float | Decimal, lang: str) -> str:
    """Format a number with grouping for ``lang``; Persian gets Persian digits and separators."""
    if _base_language(lang) == "fa":
        # CLDR's default numbering system for Persian brings the Persian separators; Babel
        # leaves the digits themselves Latin.
        return to_persian_digits(format_decimal(n, locale="fa", numbering_system="default"))
    return format_decimal(n, locale="en")


def format_percent(fraction: float, lang: str) -> str:
    """Format a share such as ``0.4`` as a whole percentage: ``40%`` or ``۴۰٪``."""
    return format_number(round(fraction * 100), lang) + (
        "٪" if _base_language(lang) == "fa" else "%"
    )


# --- dates --------------------------------------------------------------------------------


def to_user_timezone(value: dt.datetime, tz: str) -> dt.datetime:
    """Convert a stored timestamp to the user's timezone; naive values are taken as UTC
    because that is how the database stores them."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(ZoneInfo(tz))


def format_date(
    value: dt.date | dt.datetime,
    lang: str,
    tz: str = "UTC",
    with_time: bool = False,
    style: DateStyle = "short",
) -> str:
    """Render a date for people: ``2026-11-22`` / ``22 Nov 2026`` in English and the Jalali
    ``۱۴۰۵/۰۹/۰۱`` / ``۱ آذر ۱۴۰۵`` in Persian.

    Timestamps are moved to ``tz`` first, because the day shown must be the user's day and not
    the server's. A plain ``date`` has no time of day and is shown as it is.
    """
    if isinstance(value, dt.datetime):
        local = to_user_timezone(value, tz)
        day, clock = local.date(), f"{local:%H:%M}"
    else:
        day, clock = value, None
    show_time = with_time and clock is not None

    if _base_language(lang) == "fa":
        jalali = jdatetime.date.fromgregorian(date=day)
        if style == "long":
            month_name = jdatetime.date.j_months_fa[jalali.month - 1]
            text = f"{jalali.day} {month_name} {jalali.year}"
            text = f"{text}، {clock}" if show_time else text
        else:
            text = f"{jalali.year:04d}/{jalali.month:02d}/{jalali.day:02d}"
            text = f"{text} {clock}" if show_time else text
        return to_persian_digits(text)

    if style == "long":
        text = babel_format_date(day, "d MMM y", locale="en")
        return f"{text}, {clock}" if show_time else text
    return f"{day.isoformat()} {clock}" if show_time else day.isoformat()


def format_day_of_month(value: dt.date, lang: str) -> str:
    """The day number a calendar cell shows: the Jalali day in Persian digits for Persian."""
    if _base_language(lang) == "fa":
        return to_persian_digits(str(jdatetime.date.fromgregorian(date=value).day))
    return str(value.day)


class MonthGrid(NamedTuple):
    """A month laid out for a calendar page.

    ``weeks`` holds rows of seven cells; each cell is the Gregorian ``date`` of that day (so
    stored events can be matched against it whatever calendar is shown) or ``None`` for the
    padding before the first and after the last day.
    """

    weeks: list[list[dt.date | None]]
    title: str
    weekday_names: tuple[str, ...]


def _month_weeks(
    first: dt.date, after_last: dt.date, week_start: int
) -> list[list[dt.date | None]]:
    """Lay the days from ``first`` up to ``after_last`` into rows starting on ``week_start``
    (Python numbering, Monday is 0)."""
    cells: list[dt.date | None] = [None] * ((first.weekday() - week_start) % 7)
    cells.extend(first + dt.timedelta(days=i) for i in range((after_last - first).days))
    cells.extend([None] * (-len(cells) % 7))
    return [cells[i : i + 7] for i in range(0, len(cells), 7)]


def _check_month(month: int) -> None:
    if not 1 <= month <= 12:
        raise ValueError(f"month must be between 1 and 12, got {month}")


def jalali_month_grid(year: int, month: int) -> MonthGrid:
    """Lay out Jalali ``year``/``month`` (e.g. 1405/9) in weeks starting on Saturday, as Iranian
    calendars do. The title is the Persian month name and year, such as ``آذر ۱۴۰۵``."""
    _check_month(month)
    first = jdatetime.date(year, month, 1).togregorian()
    following = jdatetime.date(year + month // 12, month % 12 + 1, 1).togregorian()
    title = to_persian_digits(f"{jdatetime.date.j_months_fa[month - 1]} {year}")
    return MonthGrid(
        weeks=_month_weeks(first, following, week_start=5),
        title=title,
        weekday_names=tuple(jdatetime.date.j_weekdays_fa),
    )


def gregorian_month_grid(year: int, month: int) -> MonthGrid:
    """Lay out a Gregorian month in weeks starting on Monday (ISO 8601), titled in English,
    such as ``November 2026``."""
    _check_month(month)
    first = dt.date(year, month, 1)
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    names = get_day_names("abbreviated", locale="en")
    return MonthGrid(
        weeks=_month_weeks(first, following, week_start=0),
        title=babel_format_date(first, "MMMM y", locale="en"),
        weekday_names=tuple(names[i] for i in range(7)),
    )


# --- jinja --------------------------------------------------------------------------------


_NULL_TRANSLATIONS = gettext.NullTranslations()


def _per_language_callables(
    catalogs: Mapping[str, gettext.NullTranslations],
) -> dict[str, object]:
    """gettext functions that pick the catalog from the ``lang`` template variable, so one
    Environment can serve concurrent requests in different languages."""

    def pick(context: Context) -> gettext.NullTranslations:
        lang = context.get("lang") or "en"
        for candidate in (lang, _base_language(lang)):
            if candidate in catalogs:
                return catalogs[candidate]
        return _NULL_TRANSLATIONS

    @jinja2.pass_context
    def gettext_(context: Context, message: str) -> str:
        return pick(context).gettext(message)

    @jinja2.pass_context
    def ngettext_(context: Context, singular: str, plural: str, n: int) -> str:
        return pick(context).ngettext(singular, plural, n)

    @jinja2.pass_context
    def pgettext_(context: Context, msgctxt: str, message: str) -> str:
        return pick(context).pgettext(msgctxt, message)

    @jinja2.pass_context
    def npgettext_(context: Context, msgctxt: str, singular: str, plural: str, n: int) -> str:
        return pick(context).npgettext(msgctxt, singular, plural, n)

    return {
        "gettext": gettext_,
        "ngettext": ngettext_,
        "pgettext": pgettext_,
        "npgettext": npgettext_,
    }


def install_jinja_i18n(
    env: jinja2.Environment,
    translations: gettext.NullTranslations | Mapping[str, gettext.NullTranslations],
) -> None:
    """Enable ``{% trans %}``, ``_()``, ``ngettext()`` and ``pgettext()`` in templates.

    Pass one catalog for an Environment that renders a single language, or a mapping of
    language code to catalog to let the ``lang`` template variable choose per render (never
    re-install on a shared Environment per request: concurrent requests would see each other's
    language). New-style gettext is used, so ``_("Page %(n)s", n=2)`` formats and escapes its
    arguments itself.
    """
    if InternationalizationExtension.identifier not in env.extensions:
        env.add_extension(InternationalizationExtension)
    if isinstance(translations, Mapping):
        env.install_gettext_callables(  # type: ignore[attr-defined]
            newstyle=True, **_per_language_callables(translations)
        )
    else:
        env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]


def _context_locale(context: Context) -> tuple[str, str]:
    return context.get("lang") or "en", context.get("tz") or "UTC"


@jinja2.pass_context
def _date_filter(context: Context, value: dt.date | None, style: DateStyle = "short") -> str:
    if value is None:
        return ""
    lang, tz = _context_locale(context)
    return format_date(value, lang, tz, style=style)


@jinja2.pass_context
def _datetime_filter(context: Context, value: dt.date | None, style: DateStyle = "short") -> str:
    if value is None:
        return ""
    lang, tz = _context_locale(context)
    return format_date(value, lang, tz, with_time=True, style=style)


@jinja2.pass_context
def _number_filter(context: Context, value: int | float | Decimal | None) -> str:
    if value is None:
        return ""
    return format_number(value, _context_locale(context)[0])


@jinja2.pass_context
def _digits_filter(context: Context, value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    return to_persian_digits(text) if _base_language(_context_locale(context)[0]) == "fa" else text


@jinja2.pass_context
def _day_filter(context: Context, value: dt.date | None) -> str:
    if value is None:
        return ""
    return format_day_of_month(value, _context_locale(context)[0])


def register_locale_filters(env: jinja2.Environment) -> None:
    """Add the ``date``, ``datetime``, ``number``, ``digits`` and ``day`` filters.

    They read ``lang`` and ``tz`` from the template context, so templates never pass the
    user's locale by hand: ``{{ contact.created_at|date("long") }}``, ``{{ total|number }}``,
    ``{{ cell|day }}`` for calendar cells. ``None`` renders as an empty string, which suits
    optional fields such as a task without a due date.
    """
    env.filters.update(
        date=_date_filter,
        datetime=_datetime_filter,
        number=_number_filter,
        digits=_digits_filter,
        day=_day_filter,
    )
