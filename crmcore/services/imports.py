"""The import engine: millions of contact rows from a CSV or XLSX file, resumable and undoable.

How it keeps its promises:

* **Same rules as one contact.** Every row goes through the checks ``create_contact``
  applies (``normalize_email``/``normalize_phone``, field lengths, stage, country, birthday,
  ``validate_custom``, the plugins' ``validate_contact``); rows matching an existing contact
  are changed by ``update_contact`` itself. A rejected row never stops the others: it goes
  to the error report with its reason.
* **Bounded memory, batched transactions.** The file is streamed; each batch of rows is one
  ``write_transaction()``. New contacts are written through the transaction's own driver
  connection (``executemany`` on SQLite, ``COPY`` on PostgreSQL), with the search text,
  contact points, tags and stage history ``create_contact`` would write; the full-text index
  follows through the database's own triggers / generated column.
* **Resumable.** The import record's ``position`` (rows done) is committed in the same
  transaction as the batch, so a killed run loses at most an uncommitted batch and a re-run
  on the same file (same SHA-256) continues from there without repeating a row.
* **Undoable.** Each created contact is listed in ``data_import_row``; ``revert_import``
  deletes exactly those (contacts the import only updated are left alone; restoring their
  earlier values is out of scope, the audit log has them).
* **Audit.** Bulk-created contacts get one audit entry per batch (action ``import`` on the
  import record, listing the created ids as ranges) instead of one per contact; updated
  contacts get update_contact's own per-contact entries. The outbox receives
  ``import.completed`` when the file is done.
"""

from __future__ import annotations

import csv
import inspect
import json
import re
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from crmcore.data_app.tables import DataImport
from crmcore.db.runtime import current_database
from crmcore.errors import CRMError, NotFound, PermissionDenied, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import record_audit
from crmcore.services.companies import (
    clean_tag_names,
    get_or_create_company,
    normalize_domain,
    tag_ids,
)
from crmcore.services.contacts import TEXT_FIELDS, contact_dicts, update_contact
from crmcore.services.custom_fields import list_fields, validate_custom
from crmcore.services.import_sources import (
    IGNORE,
    ImportSource,
    SourceRow,
    file_hash,
    open_source,
    printable,
    resolve_mapping,
)
from crmcore.services.normalize import normalize_email, normalize_phone
from crmcore.services.outbox import emit_event
from crmcore.services.records import default_region, fetch, placeholders
from crmcore.services.search import contact_search_text
from crmcore.services.transaction import after_commit, write_transaction
from crmcore.tables import STAGES

__all__ = [
    "KEYS",
    "MODES",
    "ImportProgress",
    "ImportResult",
    "NothingImported",
    "create_import_record",
    "get_import",
    "import_errors",
    "list_imports",
    "revert_import",
    "run_import",
    "write_error_report",
]

MODES = ("create", "update", "upsert")
KEYS = ("email", "phone", "external_id")
MAX_BATCH = 5000
# PostgreSQL refuses more than 32,767 parameters per statement; stay well below.
MAX_PARAMS = 30000
CACHE_SIZE = 50_000
ERROR_SAMPLE = 20
DUPLICATE_SAMPLE = 1000
UNFINISHED = ("pending", "running", "failed")

CONTACT_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "title",
    "company",
    "email",
    "phone",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
    "stage",
    "source",
    "owner",
    "language",
    "birthday",
    "custom",
    "search_text",
    "import_id",
    "created_at",
    "updated_at",
)
POINT_COLUMNS = ("contact", "kind", "value", "label", "is_primary")
STAGE_COLUMNS = ("contact", "from_stage", "to_stage", "changed_at", "changed_by")
ROW_MAP_COLUMNS = ("data_import", "row", "contact", "action")
ERROR_COLUMNS = ("data_import", "row", "reason", "values")

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


class NothingImported(ValidationError):
    """The file could not be processed at all (no rows, no usable columns, every row bad).

    ``result`` holds what the run did when it got as far as reading rows (each row's
    reason is in the import's error report).
    """

    def __init__(
        self,
        message: str,
        errors: dict[str, str] | None = None,
        result: ImportResult | None = None,
    ) -> None:
        super().__init__(message, errors)
        self.result = result


@dataclass
class ImportProgress:
    """Where an import stands after a batch (for progress bars and the import page)."""

    import_id: int | None
    rows: int
    created: int
    updated: int
    skipped: int
    failed: int
    fraction: float | None
    total_rows: int | None


@dataclass
class ImportResult:
    """What an import did. ``rows`` counts data rows handled (the header excluded)."""

    import_id: int | None
    status: str
    file_name: str
    mode: str
    key: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    duplicates: int = 0
    resumed_from: int = 0
    error_report: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- row preparation


@dataclass(slots=True)
class _Row:
    """A row that passed the checks that need no database."""

    number: int
    values: list[str]
    data: dict[str, Any]
    key: str | None


class _Plan:
    """Which column feeds which field, and the per-row checks that need no database."""

    def __init__(
        self,
        headers: list[str],
        mapping: dict[str, str],
        mode: str,
        key: str,
        region: str,
        encoding: str,
    ) -> None:
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

    def prepare(self, row: SourceRow) -> _Row | str:
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
        return _Row(row.number, row.values, data, key)

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
            data["stage"] = _stage(stage)
        birthday = self.cell(values, "birthday")
        if birthday:
            data["birthday"] = _birthday(birthday)
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


def _stage(text: str) -> str:
    value = text.strip().lower()
    value = _STAGE_WORDS.get(" ".join(value.replace("\u200c", " ").split()), value)
    if value not in STAGES:
        raise ValidationError.for_field("stage", f"must be one of {', '.join(STAGES)}.")
    return value


def _birthday(text: str) -> date:
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


# --------------------------------------------------------------------------- database helpers


class _LRU(OrderedDict[Any, Any]):
    """A small bounded cache: lookups of companies, tags and owners repeat a lot."""

    def get_value(self, key: Any) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > CACHE_SIZE:
            self.popitem(last=False)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Bulk:
    """Raw inserts on the open transaction's own driver connection."""

    def __init__(self, txn: Any) -> None:
        self.connection = txn.connection
        self.sqlite = current_database().is_sqlite

    async def new_ids(self, count: int) -> list[int]:
        """Ids for ``count`` new contacts, reserved inside this transaction."""
        if self.sqlite:
            # IMMEDIATE transaction: no other writer can take ids until we commit.
            cursor = await self.connection.execute("SELECT COALESCE(MAX(id), 0) FROM contact")
            row = await cursor.fetchone()
            await cursor.close()
            start = int(list(row.values())[0] if isinstance(row, dict) else row[0]) + 1
            return list(range(start, start + count))
        rows = await self.connection.fetch(
            "SELECT nextval(pg_get_serial_sequence('contact', 'id')) AS id "
            "FROM generate_series(1, $1)",
            count,
        )
        return [int(r["id"]) for r in rows]

    async def insert(
        self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        if not rows:
            return
        if self.sqlite:
            names = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" for _ in columns)
            await self.connection.executemany(
                f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows
            )
            return
        for chunk in _chunks(rows, max(1, MAX_PARAMS // len(columns))):
            await self.connection.copy_records_to_table(table, records=chunk, columns=list(columns))


def _id_ranges(ids: list[int]) -> list[list[int]]:
    """[1, 2, 3, 7] -> [[1, 3], [7, 7]]: created ids as the audit entry stores them."""
    ranges: list[list[int]] = []
    for value in sorted(ids):
        if ranges and value == ranges[-1][1] + 1:
            ranges[-1][1] = value
        else:
            ranges.append([value, value])
    return ranges


def _now() -> datetime:
    return datetime.now(UTC)


class _DryRunRollback(Exception):
    """Raised inside a dry run's batch transaction so nothing of it is kept."""


class _LeaseLost(CRMError):
    status_code = 409


# --------------------------------------------------------------------------- the importer


@dataclass
class _Counts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    duplicates: int = 0

    def add(self, other: _Counts) -> None:
        for name in ("rows", "created", "updated", "skipped", "failed", "duplicates"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _BatchOutcome:
    counts: _Counts = field(default_factory=_Counts)
    errors: list[tuple[int, str, list[str]]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    created_ids: list[int] = field(default_factory=list)
    created_contacts: list[dict[str, Any]] = field(default_factory=list)
    companies: dict[Any, tuple[int, str]] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)

    def reject(self, row: _Row | SourceRow, reason: str) -> None:
        self.counts.failed += 1
        self.errors.append((row.number, reason, [printable(v) for v in row.values]))

    def skip(self, row: _Row, reason: str) -> None:
        self.counts.skipped += 1
        self.errors.append((row.number, f"skipped: {reason}", [printable(v) for v in row.values]))


class _Importer:
    def __init__(
        self,
        *,
        record: dict[str, Any],
        plan: _Plan,
        actor: Actor,
        runner: str,
        custom_definitions: list[dict[str, Any]],
    ) -> None:
        self.record = record
        self.import_id: int = record["id"]
        self.plan = plan
        self.actor = actor
        self.runner = runner
        self.dry_run = bool(record["dry_run"])
        self.pm = current_database().pm
        self.companies: _LRU = _LRU()
        self.tags: _LRU = _LRU()
        self.owners: _LRU = _LRU()
        self.required_custom = any(f["required"] for f in custom_definitions)
        self.check_custom = self.required_custom or bool(plan.custom_keys)
        self.validate_hooks = self._has_impls("validate_contact")
        self.saved_hooks = self._has_impls("contact_saved")
        self.duplicate_sample = list(record.get("duplicates") or [])

    def _has_impls(self, hook: str) -> bool:
        return self.pm is not None and bool(getattr(self.pm.hook, hook).get_hookimpls())

    # ----------------------------------------------------------------- one batch

    async def run_batch(self, rows: list[SourceRow]) -> _BatchOutcome:
        outcome = _BatchOutcome()
        outcome.counts.rows = len(rows)
        prepared: list[_Row] = []
        for row in rows:
            if row.is_blank:
                outcome.counts.skipped += 1
                continue
            result = self.plan.prepare(row)
            if isinstance(result, str):
                outcome.reject(row, result)
            else:
                prepared.append(result)
        if self.dry_run:
            try:
                async with write_transaction() as txn:
                    await self._write(txn, prepared, outcome)
                    raise _DryRunRollback
            except _DryRunRollback:
                pass
            async with write_transaction():
                await self._save_progress(outcome)
        else:
            async with write_transaction() as txn:
                await self._write(txn, prepared, outcome)
                await self._save_progress(outcome)
                if outcome.created_ids:
                    await record_audit(
                        table="data_import",
                        record_id=self.import_id,
                        action="import",
                        changes={
                            "created_ids": _id_ranges(outcome.created_ids),
                            "rows": [rows[0].number, rows[-1].number],
                        },
                        actor=self.actor,
                        plugin="data",
                    )
                if self.saved_hooks and outcome.created_contacts:
                    contacts = outcome.created_contacts
                    after_commit(lambda: self._fire_created(contacts))
            for cache_key, value in outcome.companies.items():
                self.companies.put(cache_key, value)
            for name, tag_id in outcome.tags.items():
                self.tags.put(name.lower(), tag_id)
        return outcome

    async def _fire_created(self, contacts: list[dict[str, Any]]) -> None:
        for contact in contacts:
            await self.pm.fire(
                "contact_saved", contact=contact, created=True, changes={}, actor=self.actor
            )

    async def _save_progress(self, outcome: _BatchOutcome) -> None:
        counts = outcome.counts
        self.duplicate_sample.extend(
            outcome.duplicates[: DUPLICATE_SAMPLE - len(self.duplicate_sample)]
        )
        rows = await fetch(
            'UPDATE data_import SET "position" = "position" + {}, created = created + {}, '
            "updated = updated + {}, skipped = skipped + {}, failed = failed + {}, "
            "duplicate_count = duplicate_count + {}, duplicates = {}, updated_at = {} "
            'WHERE id = {} AND runner = {} RETURNING "position"',
            [
                counts.rows,
                counts.created,
                counts.updated,
                counts.skipped,
                counts.failed,
                counts.duplicates,
                json.dumps(self.duplicate_sample, ensure_ascii=False),
                _now(),
                self.import_id,
                self.runner,
            ],
        )
        if not rows:
            raise _LeaseLost(
                f"import {self.import_id} was taken over by another run of the same file; "
                "this run stops (nothing of its last batch was kept)"
            )
        if outcome.errors:
            bulk = _Bulk(current_database().engine.current_transaction.get())
            await bulk.insert(
                "data_import_error",
                ERROR_COLUMNS,
                [
                    (self.import_id, number, reason, json.dumps(values, ensure_ascii=False))
                    for number, reason, values in outcome.errors
                ],
            )

    async def _write(self, txn: Any, prepared: list[_Row], outcome: _BatchOutcome) -> None:
        """Rows whose key repeats within the batch wait for the next pass, so the first
        creates the contact and the repeat updates it, as if imported one by one."""
        bulk = _Bulk(txn)
        pending = prepared
        while pending:
            current: list[_Row] = []
            deferred: list[_Row] = []
            seen: set[str] = set()
            for row in pending:
                if self.plan.mode != "create" and row.key is not None:
                    if row.key in seen:
                        deferred.append(row)
                        continue
                    seen.add(row.key)
                current.append(row)
            await self._write_pass(txn, bulk, current, outcome)
            pending = deferred

    async def _write_pass(
        self, txn: Any, bulk: _Bulk, rows: list[_Row], outcome: _BatchOutcome
    ) -> None:
        points, externals = await self._lookup(rows)
        creates: list[_Row] = []
        updates: list[tuple[_Row, int]] = []
        for row in rows:
            matches = self._matches(row, points, externals)
            if self.plan.mode == "create" or (self.plan.mode == "upsert" and not matches):
                creates.append(row)
            elif not matches:
                outcome.skip(row, f"no contact with {self.plan.key} {row.key} to update")
            elif len(matches) > 1:
                ids = ", ".join(str(i) for i in sorted(matches))
                outcome.reject(
                    row,
                    f"{self.plan.key} {row.key} matches several contacts ({ids}); merge them "
                    "first or update by another key",
                )
            else:
                updates.append((row, next(iter(matches))))
        await self._create(bulk, creates, points, externals, outcome)
        for row, contact_id in updates:
            await self._update(txn, bulk, row, contact_id, outcome)

    async def _lookup(
        self, rows: list[_Row]
    ) -> tuple[dict[tuple[str, str], set[int]], dict[str, int]]:
        values = sorted(
            {v for row in rows for v in (*row.data.get("emails", ()), *row.data.get("phones", ()))}
        )
        points: dict[tuple[str, str], set[int]] = {}
        for chunk in _chunks(values, 900):
            for found in await fetch(
                "SELECT kind, value, contact FROM contact_point "
                f"WHERE value IN ({placeholders(chunk)})",
                chunk,
            ):
                points.setdefault((found["kind"], found["value"]), set()).add(found["contact"])
        externals: dict[str, int] = {}
        ext_values = sorted(
            {row.data["external_id"] for row in rows if row.data.get("external_id")}
        )
        for chunk in _chunks(ext_values, 900):
            for found in await fetch(
                "SELECT external_id, contact FROM data_external_id "
                f"WHERE external_id IN ({placeholders(chunk)})",
                chunk,
            ):
                externals[found["external_id"]] = found["contact"]
        return points, externals

    def _matches(
        self, row: _Row, points: dict[tuple[str, str], set[int]], externals: dict[str, int]
    ) -> set[int]:
        if row.key is None:
            return set()
        if self.plan.key == "external_id":
            found = externals.get(row.key)
            return {found} if found is not None else set()
        return set(points.get((self.plan.key, row.key), set()))

    # ----------------------------------------------------------------- creating

    async def _create(
        self,
        bulk: _Bulk,
        rows: list[_Row],
        points: dict[tuple[str, str], set[int]],
        externals: dict[str, int],
        outcome: _BatchOutcome,
    ) -> None:
        ready: list[tuple[_Row, dict[str, Any]]] = []
        batch_points: dict[tuple[str, str], int] = {}
        batch_externals: set[str] = set()
        for row in rows:
            data = row.data
            if not (
                data.get("first_name")
                or data.get("last_name")
                or data.get("emails")
                or data.get("phones")
            ):
                outcome.reject(row, "a contact needs a name, an email address or a phone number")
                continue
            external = data.get("external_id")
            if external and (external in externals or external in batch_externals):
                owner = externals.get(external)
                where = f"contact {owner}" if owner else "an earlier row of this batch"
                outcome.reject(row, f"external_id {external!r} already belongs to {where}")
                continue
            try:
                contact = await self._build_contact(row, outcome)
            except CRMError as exc:
                outcome.reject(row, exc.message)
                continue
            if external:
                batch_externals.add(external)
            self._note_duplicates(row, contact, points, batch_points, outcome)
            ready.append((row, contact))
        if not ready:
            return
        ids = await bulk.new_ids(len(ready))
        stamp = _now()
        contact_rows, point_rows, tag_rows, stage_rows, map_rows, external_rows = (
            [],
            [],
            [],
            [],
            [],
            [],
        )
        for (row, contact), contact_id in zip(ready, ids, strict=True):
            contact["id"] = contact_id
            contact_rows.append(self._contact_row(contact, contact_id, stamp))
            for kind, values in (("email", contact["emails"]), ("phone", contact["phones"])):
                for index, value in enumerate(values):
                    point_rows.append((contact_id, kind, value, "", index == 0))
            for tag_id in contact.pop("_tag_ids"):
                tag_rows.append((contact_id, tag_id))
            stage_rows.append((contact_id, None, contact["stage"], stamp, self.actor.user_id))
            map_rows.append((self.import_id, row.number, contact_id, "created"))
            if contact.get("_external_id"):
                external_rows.append((contact_id, contact.pop("_external_id")))
        await bulk.insert("contact", CONTACT_COLUMNS, contact_rows)
        await bulk.insert("contact_point", POINT_COLUMNS, point_rows)
        await bulk.insert("contact_tag", ("contact", "tag"), tag_rows)
        await bulk.insert("stage_change", STAGE_COLUMNS, stage_rows)
        await bulk.insert("data_import_row", ROW_MAP_COLUMNS, map_rows)
        await bulk.insert("data_external_id", ("contact", "external_id"), external_rows)
        outcome.counts.created += len(ready)
        outcome.created_ids.extend(ids)
        if self.saved_hooks:
            iso_stamp = stamp.isoformat()
            for _row, contact in ready:
                contact["created_at"] = contact["updated_at"] = iso_stamp
                outcome.created_contacts.append(contact)

    def _note_duplicates(
        self,
        row: _Row,
        contact: dict[str, Any],
        points: dict[tuple[str, str], set[int]],
        batch_points: dict[tuple[str, str], int],
        outcome: _BatchOutcome,
    ) -> None:
        reasons: list[dict[str, Any]] = []
        for kind, values in (("email", contact["emails"]), ("phone", contact["phones"])):
            for value in values:
                for other in sorted(points.get((kind, value), ())):
                    reasons.append(
                        {"row": row.number, "contact_id": other, "reason": f"same {kind} {value}"}
                    )
                earlier = batch_points.get((kind, value))
                if earlier is not None:
                    reasons.append(
                        {"row": row.number, "other_row": earlier, "reason": f"same {kind} {value}"}
                    )
                else:
                    batch_points[(kind, value)] = row.number
        if reasons:
            outcome.counts.duplicates += 1
            outcome.duplicates.extend(reasons[:3])

    async def _build_contact(self, row: _Row, outcome: _BatchOutcome) -> dict[str, Any]:
        """The full contact ``create_contact`` would store for this row."""
        data = row.data
        contact: dict[str, Any] = {name: data.get(name, "") for name in TEXT_FIELDS}
        contact["country"] = data.get("country", "")
        contact["emails"] = list(data.get("emails", ()))
        contact["phones"] = list(data.get("phones", ()))
        contact["email"] = contact["emails"][0] if contact["emails"] else None
        contact["phone"] = contact["phones"][0] if contact["phones"] else None
        contact["stage"] = data.get("stage", "lead")
        contact["birthday"] = data["birthday"].isoformat() if data.get("birthday") else None
        contact["owner_id"] = await self._owner(data.get("owner"))
        contact["tags"] = list(data.get("tags", ()))
        contact["custom"] = (
            await validate_custom("contact", data.get("custom") or {}, partial=False)
            if self.check_custom
            else {}
        )
        contact["company_id"], contact["company_name"] = await self._company(data, outcome)
        first, last = contact["first_name"], contact["last_name"]
        contact["name"] = (
            " ".join(p for p in (first, last) if p) or contact["email"] or (contact["phone"] or "")
        )
        if self.validate_hooks:
            await self.pm.acall("validate_contact", data=dict(contact), existing=None)
        contact["_tag_ids"] = await self._tag_ids(contact["tags"], outcome)
        if data.get("external_id"):
            contact["_external_id"] = data["external_id"]
        return contact

    def _contact_row(self, contact: dict[str, Any], contact_id: int, stamp: datetime) -> tuple:
        birthday = date.fromisoformat(contact["birthday"]) if contact["birthday"] else None
        search_text = contact_search_text(
            first_name=contact["first_name"],
            last_name=contact["last_name"],
            title=contact["title"],
            emails=contact["emails"],
            phones=contact["phones"],
            company_name=contact["company_name"],
            tags=contact["tags"],
            city=contact["city"],
        )
        return (
            contact_id,
            contact["first_name"],
            contact["last_name"],
            contact["title"],
            contact["company_id"],
            contact["email"],
            contact["phone"],
            contact["street"],
            contact["city"],
            contact["region"],
            contact["postal_code"],
            contact["country"],
            contact["stage"],
            contact["source"],
            contact["owner_id"],
            contact["language"],
            birthday,
            json.dumps(contact["custom"], ensure_ascii=False),
            search_text,
            None if self.dry_run else self.import_id,
            stamp,
            stamp,
        )

    async def _owner(self, value: str | None) -> int | None:
        if not value:
            return self.actor.user_id
        cached = self.owners.get_value(value.lower())
        if cached is not None:
            return cached
        if value.isdigit():
            rows = await fetch("SELECT id FROM crm_user WHERE id = {}", [int(value)])
        else:
            rows = await fetch(
                "SELECT id FROM crm_user WHERE lower(email) = lower(CAST({} AS TEXT))", [value]
            )
        if not rows:
            raise ValidationError.for_field("owner", f"there is no user {value!r}.")
        self.owners.put(value.lower(), rows[0]["id"])
        return rows[0]["id"]

    async def _company(
        self, data: dict[str, Any], outcome: _BatchOutcome
    ) -> tuple[int | None, str | None]:
        name, domain = data.get("company", ""), data.get("company_domain")
        if not name and not domain:
            return None, None
        cache_key = (name.lower(), domain)
        found = outcome.companies.get(cache_key) or self.companies.get_value(cache_key)
        if found is None:
            company = await get_or_create_company(name, domain, self.actor)
            found = (company["id"], company["name"])
            outcome.companies[cache_key] = found
        return found

    async def _tag_ids(self, names: list[str], outcome: _BatchOutcome) -> list[int]:
        ids: list[int] = []
        missing: list[str] = []
        for name in names:
            tag_id = outcome.tags.get(name.lower()) or self.tags.get_value(name.lower())
            if tag_id is None:
                missing.append(name)
            else:
                ids.append(tag_id)
        if missing:
            for name, tag_id in (await tag_ids(missing)).items():
                outcome.tags[name.lower()] = tag_id
                ids.append(tag_id)
        return ids

    # ----------------------------------------------------------------- updating

    async def _update(
        self, txn: Any, bulk: _Bulk, row: _Row, contact_id: int, outcome: _BatchOutcome
    ) -> None:
        """Matched rows go through update_contact itself (audit, events and hooks per contact),
        inside a savepoint so a row it rejects leaves nothing behind."""
        savepoint = await txn.savepoint()
        try:
            existing = (await contact_dicts([contact_id]))[contact_id]
            changes = await self._update_data(row, existing, outcome)
            await update_contact(contact_id, changes, self.actor)
            external = row.data.get("external_id")
            if external and self.plan.key != "external_id":
                await fetch(
                    "INSERT INTO data_external_id (contact, external_id) SELECT {}, {} "
                    "WHERE NOT EXISTS (SELECT 1 FROM data_external_id WHERE external_id = {})",
                    [contact_id, external, external],
                )
            await bulk.insert(
                "data_import_row",
                ROW_MAP_COLUMNS,
                [(self.import_id, row.number, contact_id, "updated")],
            )
        except CRMError as exc:
            await savepoint.rollback_to()
            outcome.reject(row, exc.message)
            return
        await savepoint.release()
        outcome.counts.updated += 1

    async def _update_data(
        self, row: _Row, existing: dict[str, Any], outcome: _BatchOutcome
    ) -> dict[str, Any]:
        data = row.data
        changes: dict[str, Any] = {
            name: data[name] for name in (*TEXT_FIELDS, "country", "stage") if name in data
        }
        for plural in ("emails", "phones"):
            if data.get(plural):
                changes[plural] = [
                    *data[plural],
                    *(v for v in existing[plural] if v not in data[plural]),
                ]
        if data.get("birthday"):
            changes["birthday"] = data["birthday"].isoformat()
        if data.get("tags"):
            known = {t.lower() for t in existing["tags"]}
            changes["tags"] = [
                *existing["tags"],
                *(t for t in data["tags"] if t.lower() not in known),
            ]
        if data.get("custom"):
            changes["custom"] = data["custom"]
        if data.get("owner"):
            changes["owner_id"] = await self._owner(data["owner"])
        if data.get("company") or data.get("company_domain"):
            changes["company_id"] = (await self._company(data, outcome))[0]
        return changes


# --------------------------------------------------------------------------- import records


def _row_dict(row: dict[str, Any]) -> dict[str, Any]:
    record = dict(row)
    for key in ("mapping", "duplicates"):
        if isinstance(record.get(key), str):
            record[key] = json.loads(record[key] or ("{}" if key == "mapping" else "[]"))
    record["dry_run"] = bool(record.get("dry_run"))
    for key in ("created_at", "updated_at", "finished_at"):
        value = record.get(key)
        if isinstance(value, datetime):
            record[key] = value.isoformat()
    return record


async def _load_record(import_id: int) -> dict[str, Any]:
    rows = await fetch("SELECT * FROM data_import WHERE id = {}", [import_id])
    if not rows:
        raise NotFound(f"import {import_id} does not exist")
    return _row_dict(rows[0])


def _check_options(mode: str, key: str, batch_size: int) -> None:
    if mode not in MODES:
        raise ValidationError.for_field("mode", f"must be one of {', '.join(MODES)}.")
    if key not in KEYS:
        raise ValidationError.for_field("key", f"must be one of {', '.join(KEYS)}.")
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValidationError.for_field("batch_size", f"must be between 1 and {MAX_BATCH}.")


def _require(actor: Actor) -> None:
    for permission in ("contacts.import", "contacts.write"):
        if not actor.can(permission):
            raise PermissionDenied(f"{actor.label} lacks the permission {permission!r}.")


async def create_import_record(
    path: str | Path,
    *,
    actor: Actor,
    file_name: str | None = None,
    mode: str = "create",
    key: str = "email",
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    digest: str | None = None,
) -> dict[str, Any]:
    """Register an import of ``path`` without running it (the API does this, then queues
    the run). Checks the options and the header mapping first, so mistakes show at once."""
    _require(actor)
    _check_options(mode, key, 1)
    path = Path(path)
    with open_source(path) as source:
        custom = {f["key"]: f["label"] for f in await list_fields("contact")}
        resolved = resolve_mapping(source.headers, mapping, custom)
        _check_plan(source, resolved, mode, key)
        file_format = source.format
    digest = digest or file_hash(path)
    async with write_transaction():
        rows = await DataImport.insert(
            DataImport(
                user=actor.user_id,
                actor_label=actor.label[:320],
                file_name=(file_name or path.name)[:300],
                file_path=str(path),
                file_hash=digest,
                file_format=file_format,
                mode=mode,
                key=key,
                mapping=resolved,
                dry_run=dry_run,
            )
        )
    return await _load_record(rows[0]["id"])


def _check_plan(source: ImportSource, mapping: dict[str, str], mode: str, key: str) -> None:
    if not source.headers:
        raise NothingImported("the file is empty: it has no header row", {"file": "is empty"})
    targets = set(mapping.values()) - {IGNORE}
    if not targets:
        raise NothingImported(
            "none of the columns could be matched to a contact field "
            f"(columns: {', '.join(source.headers)}); map them with --map 'COLUMN=field'",
            {"mapping": "no column is mapped"},
        )
    if mode != "create":
        needed = {"email": {"email", "other_emails"}, "phone": {"phone", "other_phones"}}.get(
            key, {key}
        )
        if not targets & needed:
            raise NothingImported(
                f"mode {mode} finds contacts by {key}, but no column is mapped to {key}",
                {"key": f"map a column to {key}"},
            )


async def _find_resumable(digest: str, mode: str, key: str) -> dict[str, Any] | None:
    rows = await fetch(
        'SELECT * FROM data_import WHERE file_hash = {} AND mode = {} AND "key" = {} '
        "AND dry_run = {} ORDER BY id DESC LIMIT 1",
        [digest, mode, key, False],
    )
    return _row_dict(rows[0]) if rows else None


async def _claim(import_id: int, runner: str) -> None:
    async with write_transaction():
        await fetch(
            "UPDATE data_import SET status = 'running', runner = {}, message = '', "
            "updated_at = {} WHERE id = {}",
            [runner, _now(), import_id],
        )


def _result(record: dict[str, Any], resumed_from: int = 0) -> ImportResult:
    mapping = record.get("mapping") or {}
    return ImportResult(
        import_id=record["id"],
        status=record["status"],
        file_name=record["file_name"],
        mode=record["mode"],
        key=record["key"],
        dry_run=record["dry_run"],
        rows=record["position"],
        created=record["created"],
        updated=record["updated"],
        skipped=record["skipped"],
        failed=record["failed"],
        duplicates=record["duplicate_count"],
        resumed_from=resumed_from,
        error_report=record.get("error_report_path") or None,
        mapping=mapping,
        unmapped=[h for h, t in mapping.items() if t == IGNORE],
        message=record.get("message") or "",
    )


async def run_import(
    path: str | Path | None = None,
    *,
    actor: Actor,
    mode: str = "create",
    key: str = "email",
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    progress: Callable[[ImportProgress], Any] | None = None,
    batch_size: int = 1000,
    error_report: str | Path | None = None,
    import_id: int | None = None,
    again: bool = False,
    file_name: str | None = None,
) -> ImportResult:
    """Import contacts from a CSV or XLSX file (see the module docstring for guarantees).

    ``mode`` ``create`` adds every row; ``update`` changes contacts found by ``key`` and
    skips the rest; ``upsert`` does both. ``mapping`` overrides the guessed column mapping
    (``{"ایمیل": "email"}``). Re-running the same file continues an unfinished import;
    a finished one is not repeated unless ``again``. With ``import_id`` the run continues
    that import record (the API creates it first). Raises :class:`NothingImported` when
    the file cannot be processed at all.
    """
    _require(actor)
    _check_options(mode, key, batch_size)
    if import_id is not None:
        record = await _load_record(import_id)
        path = Path(record["file_path"])
    else:
        if path is None:
            raise ValidationError.for_field("file", "give the file to import")
        path = Path(path)
        record = None
    with open_source(path) as source:
        custom_fields = await list_fields("contact")
        custom_labels = {f["key"]: f["label"] for f in custom_fields}
        digest = None
        if record is None and not dry_run:
            digest = file_hash(path)
            previous = await _find_resumable(digest, mode, key)
            if previous is not None and previous["status"] in UNFINISHED:
                record = previous
            elif previous is not None and previous["status"] == "completed" and not again:
                result = _result(previous)
                result.status = "already_imported"
                result.message = (
                    f"this file was already imported (import {previous['id']}, "
                    f"{previous['created']} created, {previous['updated']} updated); "
                    "nothing was done. Use --again to import it once more."
                )
                return result
        if record is None:
            record = await create_import_record(
                path,
                actor=actor,
                file_name=file_name,
                mode=mode,
                key=key,
                mapping=mapping,
                dry_run=dry_run,
                digest=digest,
            )
        resolved = record["mapping"] or resolve_mapping(source.headers, mapping, custom_labels)
        _check_plan(source, resolved, record["mode"], record["key"])
        plan = _Plan(
            source.headers,
            resolved,
            record["mode"],
            record["key"],
            default_region(),
            source.encoding,
        )
        runner = uuid.uuid4().hex
        await _claim(record["id"], runner)
        importer = _Importer(
            record=record,
            plan=plan,
            actor=actor,
            runner=runner,
            custom_definitions=custom_fields,
        )
        resumed_from = record["position"]
        try:
            await _run_batches(importer, source, resumed_from, batch_size, progress)
        except _LeaseLost:
            raise
        except BaseException as exc:
            await _mark_failed(record["id"], runner, exc)
            raise
    return await _finish(record["id"], runner, actor, source.headers, error_report, resumed_from)


async def _run_batches(
    importer: _Importer,
    source: ImportSource,
    skip: int,
    batch_size: int,
    progress: Callable[[ImportProgress], Any] | None,
) -> None:
    totals = _Counts()
    record = importer.record
    for name in ("created", "updated", "skipped", "failed"):
        setattr(totals, name, record[name])
    totals.rows = skip
    batch: list[SourceRow] = []
    rows = source.rows()
    for _ in range(skip):
        if next(rows, None) is None:
            break
    for row in rows:
        batch.append(row)
        if len(batch) >= batch_size:
            await _one_batch(importer, batch, totals, source, progress)
            batch = []
    if batch:
        await _one_batch(importer, batch, totals, source, progress)


async def _one_batch(
    importer: _Importer,
    batch: list[SourceRow],
    totals: _Counts,
    source: ImportSource,
    progress: Callable[[ImportProgress], Any] | None,
) -> None:
    outcome = await importer.run_batch(batch)
    totals.add(outcome.counts)
    if progress is not None:
        report = progress(
            ImportProgress(
                import_id=importer.import_id,
                rows=totals.rows,
                created=totals.created,
                updated=totals.updated,
                skipped=totals.skipped,
                failed=totals.failed,
                fraction=source.fraction_read(),
                total_rows=source.total_rows,
            )
        )
        if inspect.isawaitable(report):
            await report


async def _mark_failed(import_id: int, runner: str, exc: BaseException) -> None:
    message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    try:
        async with write_transaction():
            await fetch(
                "UPDATE data_import SET status = 'failed', message = {}, updated_at = {} "
                "WHERE id = {} AND runner = {}",
                [
                    f"stopped: {message}; run the same import again to continue",
                    _now(),
                    import_id,
                    runner,
                ],
            )
    except Exception:  # noqa: BLE001 - the original error is what the caller must see
        return


def default_error_report_path(import_id: int) -> Path:
    """Where an import's error report goes unless the caller names a file."""
    pm = current_database().pm
    settings = getattr(pm, "settings", None)
    home = Path(getattr(settings, "home", None) or Path.cwd())
    return home / "imports" / f"import-{import_id}-errors.csv"


async def _finish(
    import_id: int,
    runner: str,
    actor: Actor,
    headers: list[str],
    error_report: str | Path | None,
    resumed_from: int,
) -> ImportResult:
    record = await _load_record(import_id)
    report_path = ""
    if record["failed"] or record["skipped"]:
        target = Path(error_report) if error_report else default_error_report_path(import_id)
        written = await write_error_report(import_id, target, headers)
        report_path = str(target) if written else ""
    processed = record["created"] + record["updated"]
    message = ""
    if record["position"] == 0:
        message = "the file has a header row but no data rows; nothing to import"
    elif processed == 0 and record["failed"] and not record["dry_run"]:
        message = "no row could be imported; each row's reason is in the error report"
    async with write_transaction():
        await fetch(
            "UPDATE data_import SET status = 'completed', finished_at = {}, updated_at = {}, "
            "error_report_path = {}, message = {} WHERE id = {} AND runner = {}",
            [_now(), _now(), report_path, message, import_id, runner],
        )
        if not record["dry_run"]:
            counts = {
                name: record[name]
                for name in ("created", "updated", "skipped", "failed", "duplicate_count")
            }
            await record_audit(
                table="data_import",
                record_id=import_id,
                action="complete",
                changes={
                    "file_name": [None, record["file_name"]],
                    **{k: [None, v] for k, v in counts.items()},
                },
                actor=actor,
                plugin="data",
            )
            await emit_event(
                "import.completed",
                {
                    "import_id": import_id,
                    "file_name": record["file_name"],
                    "mode": record["mode"],
                    "rows": record["position"],
                    **counts,
                },
            )
    result = _result(await _load_record(import_id), resumed_from)
    result.errors = [
        {"row": e["row"], "reason": e["reason"]}
        for e in await import_errors(import_id, limit=ERROR_SAMPLE)
    ]
    if message:
        raise NothingImported(message, {"file": message}, result)
    return result


async def import_errors(
    import_id: int, *, limit: int | None = None, after_row: int = 0
) -> list[dict[str, Any]]:
    """Rejected (and skipped) rows of an import in file order: row, reason, values."""
    sql = (
        'SELECT "row", reason, "values" FROM data_import_error WHERE data_import = {} '
        'AND "row" > {} ORDER BY "row", id'
    )
    args: list[Any] = [import_id, after_row]
    if limit is not None:
        sql += " LIMIT {}"
        args.append(limit)
    rows = await fetch(sql, args)
    for row in rows:
        if isinstance(row["values"], str):
            row["values"] = json.loads(row["values"] or "[]")
    return rows


async def iter_error_rows(import_id: int, page: int = 2000) -> AsyncIterator[dict[str, Any]]:
    """Every error row of an import, read in pages (an import may reject millions)."""
    after = 0
    while True:
        rows = await import_errors(import_id, limit=page, after_row=after)
        for row in rows:
            yield row
        if len(rows) < page:
            return
        after = rows[-1]["row"]


async def error_report_lines(import_id: int, headers: list[str]) -> AsyncIterator[str]:
    """The error report as CSV text: the original columns, then ``row`` and ``reason``."""
    buffer = _LineBuffer()
    writer = csv.writer(buffer)
    writer.writerow([*headers, "row", "reason"])
    yield buffer.take()
    async for error in iter_error_rows(import_id):
        values = list(error["values"])[: len(headers)]
        values += [""] * (len(headers) - len(values))
        writer.writerow([*values, error["row"], error["reason"]])
        yield buffer.take()


class _LineBuffer:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        return text


async def write_error_report(
    import_id: int, target: str | Path, headers: list[str] | None = None
) -> bool:
    """Write the error report CSV (UTF-8 with BOM, so Excel shows Persian); False if the
    import rejected nothing."""
    if not await import_errors(import_id, limit=1):
        return False
    if headers is None:
        headers = list((await _load_record(import_id))["mapping"])
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    import anyio

    async with await anyio.open_file(target, "w", encoding="utf-8-sig", newline="") as handle:
        async for line in error_report_lines(import_id, headers):
            await handle.write(line)
    return True


# --------------------------------------------------------------------------- reading and undoing


async def get_import(import_id: int, actor: Actor) -> dict[str, Any]:
    """An import record (progress, counts, options) for someone allowed to import."""
    _require_read(actor)
    record = await _load_record(import_id)
    _check_owner(record, actor)
    record.pop("runner", None)
    return record


def _require_read(actor: Actor) -> None:
    if not actor.can("contacts.import"):
        raise PermissionDenied(f"{actor.label} lacks the permission 'contacts.import'.")


def _check_owner(record: dict[str, Any], actor: Actor) -> None:
    if not actor.sees_all_records and record.get("user") != actor.user_id:
        raise NotFound(f"import {record['id']} does not exist")


async def list_imports(actor: Actor, limit: int = 50) -> list[dict[str, Any]]:
    """Imports newest first (only one's own for a user limited to own records)."""
    _require_read(actor)
    sql = "SELECT * FROM data_import"
    args: list[Any] = []
    if not actor.sees_all_records:
        sql += ' WHERE "user" = {}'
        args.append(actor.user_id)
    rows = await fetch(sql + " ORDER BY id DESC LIMIT {}", [*args, limit])
    records = [_row_dict(r) for r in rows]
    for record in records:
        record.pop("runner", None)
    return records


async def revert_import(import_id: int, actor: Actor, chunk: int = 2000) -> dict[str, Any]:
    """Delete exactly the contacts this import created (not those it updated).

    Works in chunks, each its own transaction, so reverting a million contacts never holds
    one giant transaction; a revert that was interrupted simply continues when run again.
    """
    _require(actor)
    if not actor.can("contacts.delete"):
        raise PermissionDenied(f"{actor.label} lacks the permission 'contacts.delete'.")
    record = await _load_record(import_id)
    _check_owner(record, actor)
    if record["dry_run"]:
        raise ValidationError.for_field(
            "import", f"import {import_id} was a dry run; it created nothing"
        )
    if record["status"] in ("pending", "running"):
        raise ValidationError.for_field(
            "import", f"import {import_id} is {record['status']}; wait for it to finish or stop it"
        )
    pm = current_database().pm
    fire_deleted = pm is not None and bool(pm.hook.contact_deleted.get_hookimpls())
    deleted = 0
    while True:
        async with write_transaction():
            rows = await fetch(
                "SELECT contact FROM data_import_row WHERE data_import = {} AND action = 'created' "
                "ORDER BY contact LIMIT {}",
                [import_id, chunk],
            )
            ids = [r["contact"] for r in rows]
            if not ids:
                break
            contacts = await contact_dicts(ids) if fire_deleted else {}
            await fetch(f"DELETE FROM contact WHERE id IN ({placeholders(ids)})", ids)
            await record_audit(
                table="data_import",
                record_id=import_id,
                action="revert",
                changes={"deleted_ids": _id_ranges(ids)},
                actor=actor,
                plugin="data",
            )
            if contacts:
                gone = list(contacts.values())
                after_commit(lambda gone=gone: _fire_deleted(pm, gone, actor))
        deleted += len(ids)
    async with write_transaction():
        await fetch(
            "UPDATE data_import SET status = 'reverted', updated_at = {}, message = {} "
            "WHERE id = {}",
            [_now(), f"reverted: {deleted} created contacts deleted", import_id],
        )
        await emit_event("import.reverted", {"import_id": import_id, "deleted": deleted})
    return {"import_id": import_id, "deleted": deleted, "status": "reverted"}


async def _fire_deleted(pm: Any, contacts: list[dict[str, Any]], actor: Actor) -> None:
    for contact in contacts:
        await pm.fire("contact_deleted", contact=contact, actor=actor)
