"""Turning one spreadsheet row into contact fields, with the checks that need no database.

The rules are ``create_contact``'s: the same normalisers (``normalize_email``,
``normalize_phone`` in the row's country or the instance's region), the same field lengths
(``contacts.TEXT_FIELDS``), stages, country codes and tag names. A row that breaks one is
rejected with the message ``create_contact`` would give; the import goes on with the next.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from typing import Any

from crmcore.errors import ValidationError
from crmcore.services.companies import clean_tag_names, normalize_domain
from crmcore.services.contacts import TEXT_FIELDS
from crmcore.services.custom_fields import check_custom
from crmcore.services.import_sources import IGNORE, ImportSource, SourceRow, open_source
from crmcore.services.normalize import normalize_email, normalize_phone
from crmcore.services.search import contact_search_text
from crmcore.tables import STAGES

__all__ = [
    "PreparedBatch",
    "PreparedRow",
    "RowPlan",
    "next_batch",
    "parse_birthday",
    "parse_stage",
    "prepared_batches",
    "start_reader",
]

# Stage names people write in Persian spreadsheets.
_STAGE_WORDS = {
    "سرنخ": "lead",
    "مشتری بالقوه": "prospect",
    "مشتری احتمالی": "prospect",
    "چشم انداز": "prospect",
    "مشتری": "customer",
    "از دست رفته": "churned",
    "ریزش": "churned",
}
_LIST_SPLIT = re.compile(r"[;,،|]")
_POINT_SPLIT = re.compile(r"[;,،]")
_JALALI_DATE = re.compile(r"^(1[23]\d\d)[/\-.](\d{1,2})[/\-.](\d{1,2})$")


@dataclass(slots=True)
class PreparedRow:
    """A row that passed the checks that need no database."""

    number: int
    values: list[str]
    data: dict[str, Any]
    key: str | None
    # The search text of the contact this row creates, assuming its company keeps the name
    # written in the row (recomputed in the rare case the stored company is spelt otherwise).
    search_text: str = ""
    # Custom field values checked as for a new contact, or why they fail that check (an
    # upsert row that turns out to update a contact is checked by update_contact instead).
    custom: dict[str, Any] = field(default_factory=dict)
    custom_error: str | None = None


@dataclass
class PreparedBatch:
    """A batch of source rows after the database-free checks (built off the event loop)."""

    rows: list[SourceRow]
    prepared: list[PreparedRow] = field(default_factory=list)
    rejected: list[tuple[SourceRow, str]] = field(default_factory=list)
    blank: int = 0
    fraction: float | None = None


class RowPlan:
    """Which column feeds which field, and the per-row checks that need no database."""

    def __init__(
        self,
        headers: list[str],
        mapping: dict[str, str],
        mode: str,
        key: str,
        region: str,
        encoding: str,
        custom_fields: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.args = (headers, mapping, mode, key, region, encoding, custom_fields)
        self.custom_fields = custom_fields or {}
        self.check_custom = bool(self.custom_fields) and (
            any(f["required"] for f in self.custom_fields.values())
            or any(t.startswith("custom.") for t in mapping.values())
        )
        self.headers = headers
        self.mapping = mapping
        self.mode = mode
        self.key = key
        self.region = region
        self.encoding = encoding
        self.columns: dict[str, list[int]] = {}
        for index, header in enumerate(headers):
            target = mapping.get(header, IGNORE)
            if target != IGNORE:
                self.columns.setdefault(target, []).append(index)
        self.custom_keys = sorted(
            t[len("custom.") :] for t in self.columns if t.startswith("custom.")
        )

    @property
    def mapped(self) -> set[str]:
        return set(self.columns)

    def cell(self, values: list[str], target: str) -> str:
        for index in self.columns.get(target, ()):
            if index < len(values):
                text = values[index].strip()
                if text:
                    return text
        return ""

    def prepare_batch(self, rows: list[SourceRow], fraction: float | None) -> PreparedBatch:
        """Check every row of a batch; pure CPU work, safe to run in a worker thread."""
        batch = PreparedBatch(rows=rows, fraction=fraction)
        for row in rows:
            if row.is_blank:
                batch.blank += 1
                continue
            result = self.prepare(row)
            if isinstance(result, str):
                batch.rejected.append((row, result))
            else:
                batch.prepared.append(result)
        return batch

    def prepare(self, row: SourceRow) -> PreparedRow | str:
        """The row's fields, cleaned; or the reason it is rejected."""
        if row.bad_cells:
            names = ", ".join(
                repr(self.headers[i]) if i < len(self.headers) else f"#{i + 1}"
                for i in row.bad_cells
            )
            label = "UTF-16" if "16" in self.encoding else "UTF-8"
            return (
                f"column {names}: the text is not valid {label} (wrong encoding in this "
                "cell); save the file as UTF-8 and import it again"
            )
        try:
            data = self._clean(row.values)
        except ValidationError as exc:
            return exc.message
        key = data.get(self.key)
        if self.key in ("email", "phone"):
            points = data.get("emails" if self.key == "email" else "phones") or []
            key = points[0] if points else None
        if self.mode == "update" and not key:
            return f"{self.key}: this row has no {self.key} to find the contact to update by"
        prepared = PreparedRow(row.number, row.values, data, key)
        if self.mode != "update":
            prepared.search_text = search_text_of(data, data.get("company") or "")
            if self.check_custom:
                try:
                    prepared.custom = check_custom(
                        "contact", self.custom_fields, data.get("custom") or {}, False
                    )
                except ValidationError as exc:
                    if self.mode == "create":
                        return exc.message
                    prepared.custom_error = exc.message
        return prepared

    def _clean(self, values: list[str]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, limit in TEXT_FIELDS.items():
            text = self.cell(values, name)
            if text:
                if len(text) > limit:
                    raise ValidationError.for_field(
                        name, f"is too long (at most {limit} characters)."
                    )
                data[name] = text
        full_name = self.cell(values, "full_name")
        if full_name and "first_name" not in data and "last_name" not in data:
            first, _, last = full_name.partition(" ")
            if len(first) > 150 or len(last.strip()) > 150:
                raise ValidationError.for_field("full_name", "is too long (at most 300).")
            data["first_name"] = first
            if last.strip():
                data["last_name"] = last.strip()
        country = self.cell(values, "country").upper()
        if country:
            if len(country) > 2:
                raise ValidationError.for_field("country", "is too long (at most 2 characters).")
            if not (len(country) == 2 and country.isalpha()):
                raise ValidationError.for_field(
                    "country", "use a two-letter country code (IR, DE)."
                )
            data["country"] = country
        region = country or self.region
        emails = self._points(values, "email", "other_emails", normalize_email)
        if emails:
            data["emails"] = emails
        phones = self._points(values, "phone", "other_phones", lambda v: normalize_phone(v, region))
        if phones:
            data["phones"] = phones
        stage = self.cell(values, "stage")
        if stage:
            data["stage"] = parse_stage(stage)
        birthday = self.cell(values, "birthday")
        if birthday:
            data["birthday"] = parse_birthday(birthday)
        tags = self.cell(values, "tags")
        if tags:
            data["tags"] = clean_tag_names(_LIST_SPLIT.split(tags))
        company = self.cell(values, "company")
        if company:
            if len(company) > 300:
                raise ValidationError.for_field("company", "is too long (at most 300 characters).")
            data["company"] = company
        domain = self.cell(values, "company_domain")
        if domain:
            data["company_domain"] = normalize_domain(domain)
        for name in ("owner", "external_id"):
            text = self.cell(values, name)
            if text:
                if len(text) > 200:
                    raise ValidationError.for_field(name, "is too long (at most 200 characters).")
                data[name] = text
        custom = {k: self.cell(values, f"custom.{k}") for k in self.custom_keys}
        custom = {k: v for k, v in custom.items() if v}
        if custom:
            data["custom"] = custom
        return data

    def _points(
        self, values: list[str], main: str, others: str, normalize: Callable[[str], str]
    ) -> list[str]:
        found: list[str] = []
        for target in (main, others):
            for index in self.columns.get(target, ()):
                if index >= len(values):
                    continue
                for part in _POINT_SPLIT.split(values[index]):
                    if part.strip():
                        value = normalize(part)
                        if value not in found:
                            found.append(value)
        return found


def parse_stage(text: str) -> str:
    value = text.strip().lower()
    value = _STAGE_WORDS.get(" ".join(value.replace("\u200c", " ").split()), value)
    if value not in STAGES:
        raise ValidationError.for_field("stage", f"must be one of {', '.join(STAGES)}.")
    return value


def parse_birthday(text: str) -> date:
    """ISO dates, and Jalali dates (1370/05/12) as Iranian spreadsheets write them."""
    jalali = _JALALI_DATE.match(text.strip())
    if jalali:
        import jdatetime

        try:
            year, month, day = (int(g) for g in jalali.groups())
            return jdatetime.date(year, month, day).togregorian()
        except ValueError as exc:
            raise ValidationError.for_field("birthday", f"{text!r} is not a date.") from exc
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValidationError.for_field(
            "birthday", f"{text!r} is not a date; use YYYY-MM-DD (1990-04-21)."
        ) from exc


def search_text_of(data: dict[str, Any], company_name: str | None) -> str:
    """The search text ``create_contact`` stores for a contact made from ``data``."""
    return contact_search_text(
        first_name=data.get("first_name", ""),
        last_name=data.get("last_name", ""),
        title=data.get("title", ""),
        emails=data.get("emails", ()),
        phones=data.get("phones", ()),
        company_name=company_name,
        tags=data.get("tags", ()),
        city=data.get("city", ""),
    )


# --------------------------------------------------------------------------- reader processes


def prepared_batches(
    source: ImportSource, plan: RowPlan, skip: int, batch_size: int, every: int = 1, offset: int = 0
) -> Iterator[PreparedBatch | None]:
    """Read the file batch by batch after ``skip`` rows; check every ``every``-th batch
    starting at ``offset`` (a reader process takes its share) and yield ``None`` for the
    batches another reader checks."""
    rows = source.rows()
    for _ in range(skip):
        if next(rows, None) is None:
            return
    number = 0
    while True:
        batch = list(islice(rows, batch_size))
        if not batch:
            return
        if number % every == offset:
            yield plan.prepare_batch(batch, source.fraction_read())
        else:
            yield None
        number += 1


_reader: Iterator[PreparedBatch] | None = None


def start_reader(
    path: str, plan_args: tuple[Any, ...], skip: int, batch_size: int, every: int, offset: int
) -> None:
    """Initialise a reader process: it opens the file itself and checks its share."""
    global _reader
    _exit_with_parent(os.getppid())
    source = open_source(path)
    plan = RowPlan(*plan_args)
    _reader = (b for b in prepared_batches(source, plan, skip, batch_size, every, offset) if b)


def _exit_with_parent(parent: int) -> None:
    """End this reader when the importing process is gone (killed with SIGKILL, a reader
    would otherwise wait for work forever: it holds its own end of the task pipe)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="crm-import-parent-watch", daemon=True).start()


def next_batch() -> PreparedBatch | None:
    """The reader process's next checked batch, or None at the end of the file."""
    return next(_reader, None) if _reader is not None else None
