"""Writing one batch of import rows: the bulk path for new contacts, update_contact for
matched ones, all inside the batch's one write transaction.

New contacts go in through the transaction's driver connection (``executemany`` on SQLite,
``COPY`` on PostgreSQL) together with everything ``create_contact`` writes for a contact:
contact points, tags, the first stage-history entry and the search text built by
``contact_search_text`` (the full-text index follows by trigger / generated column).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from crmcore.db.runtime import current_database
from crmcore.errors import CRMError, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import record_audit
from crmcore.services.companies import get_or_create_company, tag_ids
from crmcore.services.contacts import TEXT_FIELDS, contact_dicts, update_contact
from crmcore.services.import_rows import PreparedBatch, PreparedRow, RowPlan, search_text_of
from crmcore.services.import_sources import SourceRow, printable
from crmcore.services.records import fetch, placeholders
from crmcore.services.transaction import after_commit, write_transaction

MAX_BATCH = 5000
# PostgreSQL refuses more than 32,767 parameters per statement; stay well below.
MAX_PARAMS = 30000
CACHE_SIZE = 50_000
DUPLICATE_SAMPLE = 1000

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


class BulkWriter:
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


def id_ranges(ids: list[int]) -> list[list[int]]:
    """[1, 2, 3, 7] -> [[1, 3], [7, 7]]: created ids as the audit entry stores them."""
    ranges: list[list[int]] = []
    for value in sorted(ids):
        if ranges and value == ranges[-1][1] + 1:
            ranges[-1][1] = value
        else:
            ranges.append([value, value])
    return ranges


def utc_now() -> datetime:
    return datetime.now(UTC)


class DryRunRollback(Exception):
    """Raised inside a dry run's batch transaction so nothing of it is kept."""


class LeaseLost(CRMError):
    status_code = 409


@dataclass
class Counts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    duplicates: int = 0

    def add(self, other: Counts) -> None:
        for name in ("rows", "created", "updated", "skipped", "failed", "duplicates"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class BatchOutcome:
    counts: Counts = field(default_factory=Counts)
    errors: list[tuple[int, str, list[str]]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    created_ids: list[int] = field(default_factory=list)
    created_contacts: list[dict[str, Any]] = field(default_factory=list)
    companies: dict[Any, tuple[int, str]] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)

    def reject(self, row: PreparedRow | SourceRow, reason: str) -> None:
        self.counts.failed += 1
        self.errors.append((row.number, reason, [printable(v) for v in row.values]))

    def skip(self, row: PreparedRow, reason: str) -> None:
        self.counts.skipped += 1
        self.errors.append((row.number, f"skipped: {reason}", [printable(v) for v in row.values]))


class BatchImporter:
    def __init__(
        self,
        *,
        record: dict[str, Any],
        plan: RowPlan,
        actor: Actor,
        runner: str,
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
        self.validate_hooks = self._has_impls("validate_contact")
        self.saved_hooks = self._has_impls("contact_saved")
        self.duplicate_sample = list(record.get("duplicates") or [])
        self.postgres = not current_database().is_sqlite
        self.written = 0
        self.analyzed_at = 0

    def _has_impls(self, hook: str) -> bool:
        return self.pm is not None and bool(getattr(self.pm.hook, hook).get_hookimpls())

    # ----------------------------------------------------------------- one batch

    async def run_batch(self, batch: PreparedBatch) -> BatchOutcome:
        rows, prepared = batch.rows, batch.prepared
        outcome = BatchOutcome()
        outcome.counts.rows = len(rows)
        outcome.counts.skipped += batch.blank
        for row, reason in batch.rejected:
            outcome.reject(row, reason)
        if self.dry_run:
            try:
                async with write_transaction() as txn:
                    await self._write(txn, prepared, outcome)
                    raise DryRunRollback
            except DryRunRollback:
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
                            "created_ids": id_ranges(outcome.created_ids),
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

    async def _save_progress(self, outcome: BatchOutcome) -> None:
        counts = outcome.counts
        room = DUPLICATE_SAMPLE - len(self.duplicate_sample)
        sample = outcome.duplicates[:room] if room > 0 else []
        self.duplicate_sample.extend(sample)
        # The sample is rewritten only when it grew: most batches add nothing to it.
        duplicates = ", duplicates = {}" if sample else ""
        rows = await fetch(
            'UPDATE data_import SET "position" = "position" + {}, created = created + {}, '
            "updated = updated + {}, skipped = skipped + {}, failed = failed + {}, "
            f"duplicate_count = duplicate_count + {{}}{duplicates}, updated_at = {{}} "
            'WHERE id = {} AND runner = {} RETURNING "position"',
            [
                counts.rows,
                counts.created,
                counts.updated,
                counts.skipped,
                counts.failed,
                counts.duplicates,
                *([json.dumps(self.duplicate_sample, ensure_ascii=False)] if sample else []),
                utc_now(),
                self.import_id,
                self.runner,
            ],
        )
        if not rows:
            raise LeaseLost(
                f"import {self.import_id} was taken over by another run of the same file; "
                "this run stops (nothing of its last batch was kept)"
            )
        if outcome.errors:
            bulk = BulkWriter(current_database().engine.current_transaction.get())
            await bulk.insert(
                "data_import_error",
                ERROR_COLUMNS,
                [
                    (self.import_id, number, reason, json.dumps(values, ensure_ascii=False))
                    for number, reason, values in outcome.errors
                ],
            )

    async def _refresh_statistics(self) -> None:
        """On PostgreSQL, re-analyse the tables each batch looks rows up in whenever the
        import has doubled them. Autovacuum lags behind a bulk load: with statistics that
        still say "empty", the planner scans the whole table for every lookup and the
        import slows down quadratically."""
        if self.postgres and self.written >= max(1000, 2 * self.analyzed_at):
            await fetch("ANALYZE contact_point")
            await fetch("ANALYZE data_external_id")
            self.analyzed_at = self.written

    async def _write(self, txn: Any, prepared: list[PreparedRow], outcome: BatchOutcome) -> None:
        """Rows whose key repeats within the batch wait for the next pass, so the first
        creates the contact and the repeat updates it, as if imported one by one."""
        bulk = BulkWriter(txn)
        await self._refresh_statistics()
        pending = prepared
        while pending:
            current: list[PreparedRow] = []
            deferred: list[PreparedRow] = []
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
        self, txn: Any, bulk: BulkWriter, rows: list[PreparedRow], outcome: BatchOutcome
    ) -> None:
        points, externals = await self._lookup(rows)
        creates: list[PreparedRow] = []
        updates: list[tuple[PreparedRow, int]] = []
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
        self, rows: list[PreparedRow]
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
        self, row: PreparedRow, points: dict[tuple[str, str], set[int]], externals: dict[str, int]
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
        bulk: BulkWriter,
        rows: list[PreparedRow],
        points: dict[tuple[str, str], set[int]],
        externals: dict[str, int],
        outcome: BatchOutcome,
    ) -> None:
        ready: list[tuple[PreparedRow, dict[str, Any]]] = []
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
        stamp = utc_now()
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
        self.written += len(ready)
        outcome.created_ids.extend(ids)
        if self.saved_hooks:
            iso_stamp = stamp.isoformat()
            for _row, contact in ready:
                contact["created_at"] = contact["updated_at"] = iso_stamp
                outcome.created_contacts.append(contact)

    def _note_duplicates(
        self,
        row: PreparedRow,
        contact: dict[str, Any],
        points: dict[tuple[str, str], set[int]],
        batch_points: dict[tuple[str, str], int],
        outcome: BatchOutcome,
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

    async def _build_contact(self, row: PreparedRow, outcome: BatchOutcome) -> dict[str, Any]:
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
        if row.custom_error:
            raise ValidationError(row.custom_error)
        contact["custom"] = row.custom
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
        if (contact["company_name"] or "") == (data.get("company") or ""):
            contact["_search_text"] = row.search_text
        else:
            contact["_search_text"] = search_text_of(data, contact["company_name"])
        return contact

    def _contact_row(self, contact: dict[str, Any], contact_id: int, stamp: datetime) -> tuple:
        birthday = date.fromisoformat(contact["birthday"]) if contact["birthday"] else None
        search_text = contact.pop("_search_text")
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
        self, data: dict[str, Any], outcome: BatchOutcome
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

    async def _tag_ids(self, names: list[str], outcome: BatchOutcome) -> list[int]:
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
        self, txn: Any, bulk: BulkWriter, row: PreparedRow, contact_id: int, outcome: BatchOutcome
    ) -> None:
        """Matched rows go through update_contact itself (audit, events and hooks per contact),
        inside a savepoint so a row it rejects leaves nothing behind."""
        savepoint = await txn.savepoint()
        try:
            existing = (await contact_dicts([contact_id]))[contact_id]
            changes = await self._update_data(row, existing, outcome)
            after = await update_contact(contact_id, changes, self.actor)
            external = row.data.get("external_id")
            if external and self.plan.key != "external_id":
                await fetch(
                    "INSERT INTO data_external_id (contact, external_id) SELECT {}, {} "
                    "WHERE NOT EXISTS (SELECT 1 FROM data_external_id WHERE external_id = {})",
                    [contact_id, external, external],
                )
            changed = after.get("updated_at") != existing["updated_at"]
            if changed:
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
        if changed:
            outcome.counts.updated += 1
        else:
            outcome.counts.skipped += 1

    async def _update_data(
        self, row: PreparedRow, existing: dict[str, Any], outcome: BatchOutcome
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
