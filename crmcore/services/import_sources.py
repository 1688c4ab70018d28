"""Reading import files: CSV in any delimiter and encoding people actually send, and XLSX.

Files are streamed row by row so memory stays flat whatever their size. Encodings are
detected from the byte-order mark (UTF-8 with or without BOM, UTF-16 as Excel's "Unicode
text" writes it); bytes that are not valid in the file's encoding are kept as surrogate
escapes, so one badly encoded cell rejects its own row instead of the whole file.

Column mapping: ``guess_mapping`` matches headers in English and Persian to contact fields;
callers override any of it (``--map "ایمیل=email"``).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from crmcore.errors import ValidationError

SNIFF_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
# Undecodable bytes come back from the "surrogateescape" handler as U+DC80..U+DCFF.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")

csv.field_size_limit(16 * 1024 * 1024)

# Fields an import column can fill; "custom.<key>" columns fill custom fields.
IMPORT_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "other_emails",
    "phone",
    "other_phones",
    "company",
    "company_domain",
    "title",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
    "stage",
    "source",
    "language",
    "birthday",
    "tags",
    "owner",
    "external_id",
)
IGNORE = "-"

# Normalised header text -> field. English and Persian spellings people use.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "first_name": (
        "first name",
        "firstname",
        "given name",
        "forename",
        "first",
        "نام",
        "اسم",
        "نام کوچک",
    ),
    "last_name": (
        "last name",
        "lastname",
        "surname",
        "family name",
        "family",
        "نام خانوادگی",
        "فامیل",
        "فامیلی",
    ),
    "full_name": ("name", "full name", "contact name", "نام کامل", "نام و نام خانوادگی"),
    "email": (
        "email",
        "e mail",
        "email address",
        "e mail address",
        "mail",
        "ایمیل",
        "ای میل",
        "پست الکترونیک",
        "پست الکترونیکی",
        "رایانامه",
        "نشانی ایمیل",
    ),
    "phone": (
        "phone",
        "phone number",
        "telephone",
        "tel",
        "mobile",
        "mobile phone",
        "mobile number",
        "cell",
        "cellphone",
        "cell phone",
        "تلفن",
        "موبایل",
        "شماره تلفن",
        "شماره موبایل",
        "تلفن همراه",
        "همراه",
        "شماره همراه",
    ),
    "company": (
        "company",
        "company name",
        "organization",
        "organisation",
        "account",
        "account name",
        "employer",
        "شرکت",
        "نام شرکت",
        "سازمان",
    ),
    "company_domain": ("company domain", "domain", "website", "وب سایت", "دامنه"),
    "title": ("title", "job title", "position", "role", "عنوان", "سمت", "عنوان شغلی"),
    "street": ("street", "address", "street address", "آدرس", "نشانی", "خیابان"),
    "city": ("city", "town", "شهر"),
    "region": ("region", "state", "province", "استان"),
    "postal_code": ("postal code", "zip", "zip code", "postcode", "کد پستی"),
    "country": ("country", "country code", "کشور"),
    "stage": ("stage", "lifecycle stage", "مرحله"),
    "source": ("source", "lead source", "منبع"),
    "language": ("language", "زبان"),
    "birthday": ("birthday", "birth date", "date of birth", "dob", "تاریخ تولد"),
    "tags": ("tags", "tag", "labels", "برچسب", "برچسب ها"),
    "owner": ("owner", "owner email", "مالک", "مسئول"),
    "external_id": ("external id", "external", "شناسه خارجی"),
}


def normalize_header(text: str) -> str:
    """Compare headers loosely: case, underscores, Arabic vs Persian letters, ZWNJ."""
    text = text.replace("\ufeff", "").replace("\u200c", " ").strip().lower()
    text = text.replace("ي", "ی").replace("ك", "ک")
    text = re.sub(r"[_\-.:/]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


_LOOKUP: dict[str, str] = {
    normalize_header(alias): name for name, aliases in _SYNONYMS.items() for alias in aliases
}
_LOOKUP.update({normalize_header(name): name for name in IMPORT_FIELDS})


def guess_mapping(
    headers: list[str], custom_fields: dict[str, str] | None = None
) -> dict[str, str]:
    """Map each header to a field (``email``, ``custom.vip``…) or ``-`` when unknown.

    ``custom_fields`` maps custom field keys to their labels; a header matching either
    maps to ``custom.<key>``. A field is claimed by its first matching column only.
    """
    custom_lookup: dict[str, str] = {}
    for key, label in (custom_fields or {}).items():
        custom_lookup[normalize_header(key)] = f"custom.{key}"
        if label:
            custom_lookup.setdefault(normalize_header(label), f"custom.{key}")
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        norm = normalize_header(header)
        target = IGNORE
        if header.strip().startswith("custom."):
            target = "custom." + header.strip()[len("custom.") :].strip()
        elif norm in _LOOKUP:
            target = _LOOKUP[norm]
        elif norm in custom_lookup:
            target = custom_lookup[norm]
        if target != IGNORE and target in taken:
            target = IGNORE
        taken.add(target)
        mapping[header] = target
    return mapping


def check_target(target: str) -> str:
    """Validate one mapping target; return it normalised."""
    target = target.strip()
    if target in ("", IGNORE, "ignore"):
        return IGNORE
    if target in IMPORT_FIELDS:
        return target
    if target.startswith("custom.") and re.fullmatch(r"custom\.[A-Za-z0-9_]+", target):
        return target
    fields = ", ".join(IMPORT_FIELDS)
    raise ValidationError.for_field(
        "mapping", f"unknown field {target!r}; use one of {fields}, custom.<key> or '-'"
    )


def parse_map_options(values: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``["ایمیل=email", "Mobile=phone"]`` → ``{"ایمیل": "email", "Mobile": "phone"}``."""
    mapping: dict[str, str] = {}
    for item in values:
        header, sep, target = item.partition("=")
        if not sep or not header.strip():
            raise ValidationError.for_field(
                "mapping", f"{item!r}: write a mapping as HEADER=FIELD, e.g. 'ایمیل=email'"
            )
        mapping[header.strip()] = check_target(target)
    return mapping


def resolve_mapping(
    headers: list[str],
    overrides: dict[str, str] | None,
    custom_fields: dict[str, str] | None = None,
) -> dict[str, str]:
    """The guessed mapping with ``overrides`` applied; overrides must name real headers."""
    mapping = guess_mapping(headers, custom_fields)
    for header, target in (overrides or {}).items():
        match = header if header in mapping else _find_header(headers, header)
        if match is None:
            raise ValidationError.for_field(
                "mapping",
                f"the file has no column {header!r} (its columns: {', '.join(headers)})",
            )
        target = check_target(target)
        if target != IGNORE:
            for other, claimed in mapping.items():
                if claimed == target and other != match:
                    mapping[other] = IGNORE
        mapping[match] = target
    return mapping


def _find_header(headers: list[str], wanted: str) -> str | None:
    norm = normalize_header(wanted)
    return next((h for h in headers if normalize_header(h) == norm), None)


def file_hash(path: str | Path) -> str:
    """SHA-256 of the file's bytes: the identity of "the same file" for resuming."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class SourceRow:
    """One data row: ``number`` is its row in a spreadsheet (the header is row 1)."""

    number: int
    values: list[str]
    # Indexes of cells whose bytes could not be decoded.
    bad_cells: list[int] = field(default_factory=list)

    @property
    def is_blank(self) -> bool:
        return not any(v.strip() for v in self.values)


class ImportSource(ABC):
    """An open import file: its headers, its rows, and how far reading has got."""

    format = "csv"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.headers: list[str] = []
        self.encoding = "utf-8"
        self.delimiter = ","

    @abstractmethod
    def rows(self) -> Iterator[SourceRow]:
        """The data rows, in file order, read as they are asked for."""

    @abstractmethod
    def fraction_read(self) -> float | None:
        """How much of the file has been read (0..1), for progress and ETA."""

    @property
    def total_rows(self) -> int | None:
        """The number of data rows when the format says so without reading them (XLSX)."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> ImportSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _CountingReader(io.RawIOBase):
    """A binary file that remembers how many bytes were handed out (for progress)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)

    def close(self) -> None:
        self.raw.close()
        super().close()


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (BOM or not) or UTF-16 (BOM, or NUL bytes in every other place)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    head = sample[:4096]
    if len(head) >= 4:
        odd_nuls = head[1::2].count(0)
        even_nuls = head[0::2].count(0)
        if odd_nuls > len(head) // 4 and even_nuls == 0:
            return "utf-16-le"
        if even_nuls > len(head) // 4 and odd_nuls == 0:
            return "utf-16-be"
    return "utf-8"


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the same number (> 1) of fields."""
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if not lines:
        return ","
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last sampled line may be cut short
    best, best_score = ",", (-1, 0)
    for delimiter in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = sum(1 for c in counts if c == counts[0])
        score = (consistent, counts[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


class CSVSource(ImportSource):
    format = "csv"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        with open(path, "rb") as handle:
            sample = handle.read(SNIFF_BYTES)
        self.encoding = detect_encoding(sample)
        cut = len(sample) - (len(sample) % 2 if "16" in self.encoding else 0)
        text = sample[:cut].decode(self.encoding, errors="surrogateescape")
        self.delimiter = detect_delimiter(text.lstrip("\ufeff"))
        self._raw = _CountingReader(open(path, "rb"))  # noqa: SIM115 - closed in close()
        self._text = io.TextIOWrapper(
            io.BufferedReader(self._raw, buffer_size=256 * 1024),
            encoding=self.encoding,
            errors="surrogateescape",
            newline="",
        )
        self._reader = csv.reader(self._text, delimiter=self.delimiter)
        header = next(self._reader, [])
        if header and header[0].startswith("\ufeff"):
            header[0] = header[0][1:]
        self.headers = unique_headers([_clean(h).strip() for h in header])

    def rows(self) -> Iterator[SourceRow]:
        number = 1
        for values in self._reader:
            number += 1
            bad = [i for i, v in enumerate(values) if _ESCAPED_BYTE.search(v)]
            yield SourceRow(number, values, bad)

    def fraction_read(self) -> float | None:
        return min(1.0, self._raw.count / self.size) if self.size else 1.0

    def close(self) -> None:
        self._text.close()


class XLSXSource(ImportSource):
    format = "xlsx"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        from openpyxl import load_workbook

        self._book = load_workbook(path, read_only=True, data_only=True)
        self._sheet = self._book.worksheets[0]
        self._rows = self._sheet.iter_rows(values_only=True)
        header = next(self._rows, ())
        headers = [cell_text(v).strip() for v in header]
        while headers and not headers[-1]:
            headers.pop()
        self.headers = unique_headers(headers)
        self._done = 0
        max_row = self._sheet.max_row
        self._total = max_row - 1 if isinstance(max_row, int) and max_row > 1 else None

    def rows(self) -> Iterator[SourceRow]:
        number = 1
        width = len(self.headers)
        for values in self._rows:
            number += 1
            self._done += 1
            yield SourceRow(number, [cell_text(v) for v in values[:width]])

    @property
    def total_rows(self) -> int | None:
        return self._total

    def fraction_read(self) -> float | None:
        return min(1.0, self._done / self._total) if self._total else None

    def close(self) -> None:
        self._book.close()


def unique_headers(headers: list[str]) -> list[str]:
    """Headers as mapping keys: blanks named by position, repeats numbered ("phone (2)")."""
    seen: dict[str, int] = {}
    result: list[str] = []
    for index, header in enumerate(headers, start=1):
        name = header or f"column {index}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        result.append(name)
    return result


def _clean(text: str) -> str:
    return _ESCAPED_BYTE.sub("\ufffd", text)


def printable(value: str) -> str:
    """A cell as it can be stored or shown (undecodable bytes become U+FFFD)."""
    return _clean(value)


def cell_text(value: Any) -> str:
    """A spreadsheet cell as text, the way the user typed it (no ``.0`` on phone numbers)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def open_source(path: str | Path) -> ImportSource:
    """Open a CSV or XLSX file (by its content: an XLSX file is a zip archive)."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError.for_field("file", f"{path} does not exist or is not a file")
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic == b"PK\x03\x04":
        try:
            return XLSXSource(path)
        except Exception as exc:
            raise ValidationError.for_field(
                "file", f"{path.name} looks like a spreadsheet but cannot be read: {exc}"
            ) from exc
    return CSVSource(path)


def count_data_rows(path: str | Path) -> int:
    """How many data rows a file has (one extra pass; used to show an import's progress)."""
    with open_source(path) as source:
        if source.total_rows is not None:
            return source.total_rows
        return sum(1 for _ in source.rows())


def preview(path: str | Path, rows: int = 5) -> tuple[list[str], list[list[str]]]:
    """The headers and first ``rows`` data rows, as the mapping screen shows them."""
    with open_source(path) as source:
        found: list[list[str]] = []
        for row in source.rows():
            found.append([printable(v) for v in row.values])
            if len(found) >= rows:
                break
        return source.headers, found
