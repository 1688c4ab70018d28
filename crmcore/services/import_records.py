"""Import records: reading them, their rejected rows and error reports, and undoing one.

An import record (``data_import``) says who imported which file when, how far the run got
and what it did; its rejected rows (``data_import_error``) are stored with the batch they
belong to, so the error report is exact even for a run that was interrupted and resumed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio

from crmcore.db.runtime import current_database
from crmcore.errors import NotFound, PermissionDenied, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import record_audit
from crmcore.services.contacts import contact_dicts
from crmcore.services.import_writer import id_ranges, utc_now
from crmcore.services.outbox import emit_event
from crmcore.services.records import fetch, placeholders
from crmcore.services.transaction import after_commit, write_transaction

__all__ = [
    "default_error_report_path",
    "error_report_lines",
    "get_import",
    "import_errors",
    "iter_error_rows",
    "list_imports",
    "load_record",
    "record_dict",
    "require_import",
    "revert_import",
    "write_error_report",
]


def record_dict(row: dict[str, Any]) -> dict[str, Any]:
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


# Ids are 64-bit integers in both databases; a larger number cannot name a record.
MAX_ID = 2**63 - 1


async def load_record(import_id: int) -> dict[str, Any]:
    if not 0 < int(import_id) <= MAX_ID:
        raise NotFound(f"import {import_id} does not exist")
    rows = await fetch("SELECT * FROM data_import WHERE id = {}", [import_id])
    if not rows:
        raise NotFound(f"import {import_id} does not exist")
    return record_dict(rows[0])


def require_import(actor: Actor) -> None:
    for permission in ("contacts.import", "contacts.write"):
        if not actor.can(permission):
            raise PermissionDenied(f"{actor.label} lacks the permission {permission!r}.")


def default_error_report_path(import_id: int) -> Path:
    """Where an import's error report goes unless the caller names a file."""
    pm = current_database().pm
    settings = getattr(pm, "settings", None)
    home = Path(getattr(settings, "home", None) or Path.cwd())
    return home / "imports" / f"import-{import_id}-errors.csv"


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
        headers = list((await load_record(import_id))["mapping"])
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)

    async with await anyio.open_file(target, "w", encoding="utf-8-sig", newline="") as handle:
        async for line in error_report_lines(import_id, headers):
            await handle.write(line)
    return True


# --------------------------------------------------------------------------- reading and undoing


async def get_import(import_id: int, actor: Actor) -> dict[str, Any]:
    """An import record (progress, counts, options) for someone allowed to import."""
    _require_read(actor)
    record = await load_record(import_id)
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
    if not 1 <= limit <= 500:
        raise ValidationError.for_field("limit", "must be between 1 and 500.")
    sql = "SELECT * FROM data_import"
    args: list[Any] = []
    if not actor.sees_all_records:
        sql += ' WHERE "user" = {}'
        args.append(actor.user_id)
    rows = await fetch(sql + " ORDER BY id DESC LIMIT {}", [*args, limit])
    records = [record_dict(r) for r in rows]
    for record in records:
        record.pop("runner", None)
    return records


async def revert_import(import_id: int, actor: Actor, chunk: int = 2000) -> dict[str, Any]:
    """Delete exactly the contacts this import created (not those it updated).

    Works in chunks, each its own transaction, so reverting a million contacts never holds
    one giant transaction; a revert that was interrupted simply continues when run again.
    """
    require_import(actor)
    if not actor.can("contacts.delete"):
        raise PermissionDenied(f"{actor.label} lacks the permission 'contacts.delete'.")
    record = await load_record(import_id)
    _check_owner(record, actor)
    if record["dry_run"]:
        raise ValidationError.for_field(
            "import", f"import {import_id} was a dry run; it created nothing"
        )
    if record["status"] in ("pending", "queued", "running"):
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
                changes={"deleted_ids": id_ranges(ids)},
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
            [utc_now(), f"reverted: {deleted} created contacts deleted", import_id],
        )
        await emit_event("import.reverted", {"import_id": import_id, "deleted": deleted})
    return {"import_id": import_id, "deleted": deleted, "status": "reverted"}


async def _fire_deleted(pm: Any, contacts: list[dict[str, Any]], actor: Actor) -> None:
    for contact in contacts:
        await pm.fire("contact_deleted", contact=contact, actor=actor)
