"""Exporting contacts, companies and interactions as CSV, JSON Lines or XLSX, streamed.

Rows are read in keyset pages (``id > last id``, a fixed page size), so an export of a
million contacts holds one page in memory, never the whole table. Fields the reader may not
see (``crmcore.permissions``) are dropped from the header and from every row, and a
search filter (``q``) counts only the fields the reader may see.

Contact files use the column names the importer maps without help (``first_name``,
``email``, ``custom.<key>``…), so an export can be imported again as it is.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import anyio

from crmcore.db.runtime import current_database
from crmcore.errors import ValidationError
from crmcore.permissions import hidden_fields, redact
from crmcore.services.actor import Actor
from crmcore.services.contacts import contact_dicts
from crmcore.services.filter_access import LIST_PARAMETERS, check_parameters
from crmcore.services.records import require
from crmcore.services.search import parse_query, search_condition
from crmcore.services.visible_search import hidden_search_parts, visible_matches
from crmcore.tables import STAGES, Contact

FORMATS = ("csv", "jsonl", "xlsx")
ENTITIES = ("contacts", "companies", "interactions")
PAGE_SIZE = 1000
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

CONTACT_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "title",
    "email",
    "other_emails",
    "phone",
    "other_phones",
    "company",
    "company_id",
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
    "tags",
    "created_at",
    "updated_at",
)
COMPANY_COLUMNS = (
    "id",
    "name",
    "domain",
    "industry",
    "size",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
    "owner",
    "tags",
    "created_at",
    "updated_at",
)
INTERACTION_COLUMNS = (
    "id",
    "contact_id",
    "company_id",
    "channel",
    "direction",
    "occurred_at",
    "subject",
    "body",
    "value",
    "currency",
    "source",
    "external_id",
    "status",
    "due_at",
    "assignee",
    "completed_at",
    "created_at",
)
# What a contact page reads (not the search text or its index column).
_CONTACT_SELECT = ", ".join(
    f"contact.{c}"
    for c in (
        "id", "first_name", "last_name", "title", "email", "phone", "company", "street",
        "city", "region", "postal_code", "country", "stage", "source", "owner", "language",
        "birthday", "custom", "created_at", "updated_at",
    )
)  # fmt: skip
# Export column -> the stored field a restriction names, where they differ.
_SOURCE_FIELD = {
    "other_emails": "email",
    "other_phones": "phone",
    "company_id": "company",
    "contact_id": "contact",
}


@dataclass
class ExportFilters:
    """What to export; the same filters as the contacts list (``GET /api/v1/contacts``)."""

    q: str | None = None
    stage: str | None = None
    tag: str | None = None
    owner: int | None = None
    company: int | None = None
    updated_since: datetime | None = None
    contact: int | None = None
    channel: str | None = None
    ids: list[int] = field(default_factory=list)


async def _fetch(sql: str, args: list[Any]) -> list[dict[str, Any]]:
    return await Contact.raw(sql, *args)


def _contact_where(filters: ExportFilters, engine: str, region: str) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if filters.stage:
        if filters.stage not in STAGES:
            raise ValidationError.for_field("stage", f"must be one of {', '.join(STAGES)}")
        clauses.append("contact.stage = {}")
        args.append(filters.stage)
    if filters.owner is not None:
        clauses.append("contact.owner = {}")
        args.append(filters.owner)
    if filters.company is not None:
        clauses.append("contact.company = {}")
        args.append(filters.company)
    if filters.updated_since is not None:
        clauses.append("contact.updated_at >= {}")
        args.append(filters.updated_since)
    if filters.tag:
        clauses.append(
            "contact.id IN (SELECT ct.contact FROM contact_tag ct JOIN tag t ON t.id = ct.tag "
            "WHERE lower(t.name) = lower({}))"
        )
        args.append(filters.tag)
    if filters.q:
        condition = search_condition(filters.q, engine, region)
        if condition is not None:
            clauses.append(condition[0])
            args.extend(condition[1])
    return (" AND ".join(clauses), args)


def _text(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value) if value else {}
        except ValueError:
            return {}
    return value or {}


async def _custom_keys(entity: str) -> list[str]:
    rows = await _fetch(
        "SELECT key FROM custom_field WHERE entity = {} ORDER BY position, id", [entity]
    )
    return [r["key"] for r in rows]


async def _user_emails(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    marks = ", ".join("{}" for _ in ids)
    rows = await _fetch(f"SELECT id, email FROM crm_user WHERE id IN ({marks})", sorted(ids))
    return {r["id"]: r["email"] for r in rows}


async def _tags_of(link_table: str, column: str, ids: list[int]) -> dict[int, list[str]]:
    if not ids:
        return {}
    marks = ", ".join("{}" for _ in ids)
    rows = await _fetch(
        f"SELECT l.{column} AS owner_id, t.name AS name FROM {link_table} l "
        f"JOIN tag t ON t.id = l.tag WHERE l.{column} IN ({marks}) ORDER BY t.name",
        ids,
    )
    tags: dict[int, list[str]] = {}
    for row in rows:
        tags.setdefault(row["owner_id"], []).append(row["name"])
    return tags


def _visible_columns(
    table: str, columns: tuple[str, ...], custom_keys: list[str], reader: Actor
) -> list[str]:
    hidden = hidden_fields(table, reader)
    visible = [c for c in columns if c not in hidden and _SOURCE_FIELD.get(c) not in hidden]
    if "custom" not in hidden:
        visible += [f"custom.{k}" for k in custom_keys if f"custom.{k}" not in hidden]
    return visible


def _region() -> str:
    settings = getattr(current_database().pm, "settings", None)
    return getattr(settings, "default_region", "IR") or "IR"


def _contact_condition(filters: ExportFilters, reader: Actor) -> tuple[str, list[Any]]:
    """The WHERE clause of a contact export, checked before the first byte is sent."""
    engine = current_database().engine.engine_type
    where, args = _contact_where(filters, engine, _region())
    if not reader.sees_all_records:
        where = " AND ".join(filter(None, [where, "contact.owner = {}"]))
        args = [*args, reader.user_id]
    return where, args


@dataclass(frozen=True)
class _VisibleSearch:
    """A search filter re-checked on the fields the reader may see (see
    ``crmcore.services.visible_search``): the index alone would find a contact by a hidden
    value, and the export would confirm it."""

    query: str
    region: str
    hidden: frozenset[str]

    async def keep(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        contacts = await contact_dicts([row["id"] for row in rows])
        matches = await visible_matches(
            list(contacts.values()), self.query, self.region, self.hidden
        )
        return [row for row in rows if row["id"] in matches]


def _visible_search(filters: ExportFilters, reader: Actor) -> _VisibleSearch | None:
    if not filters.q:
        return None
    region = _region()
    hidden = hidden_search_parts(reader)
    if not hidden or not parse_query(filters.q, region):
        return None
    return _VisibleSearch(filters.q, region, hidden)


async def _contact_pages(
    where: str,
    args: list[Any],
    reader: Actor,
    columns: list[str],
    search: _VisibleSearch | None,
) -> AsyncIterator[list[dict[str, Any]]]:
    last_id = 0
    while True:
        condition = " AND ".join(filter(None, ["contact.id > {}", where]))
        rows = await _fetch(
            f"SELECT {_CONTACT_SELECT} FROM contact WHERE {condition} "
            "ORDER BY contact.id LIMIT {}",
            [last_id, *args, PAGE_SIZE],
        )
        if not rows:
            return
        last_id = rows[-1]["id"]
        kept = await search.keep(rows) if search else rows
        if kept:
            yield await _shape_contacts(kept, reader, columns)
        if len(rows) < PAGE_SIZE:
            return


async def _shape_contacts(
    rows: list[dict[str, Any]], reader: Actor, columns: list[str]
) -> list[dict[str, Any]]:
    ids = [r["id"] for r in rows]
    marks = ", ".join("{}" for _ in ids)
    points = await _fetch(
        f"SELECT contact, kind, value FROM contact_point WHERE contact IN ({marks}) "
        "ORDER BY is_primary DESC, id",
        ids,
    )
    others: dict[tuple[int, str], list[str]] = {}
    for point in points:
        others.setdefault((point["contact"], point["kind"]), []).append(point["value"])
    company_ids = sorted({r["company"] for r in rows if r["company"]})
    companies: dict[int, str] = {}
    if company_ids:
        cmarks = ", ".join("{}" for _ in company_ids)
        companies = {
            r["id"]: r["name"]
            for r in await _fetch(
                f"SELECT id, name FROM company WHERE id IN ({cmarks})", company_ids
            )
        }
    owners = await _user_emails({r["owner"] for r in rows if r["owner"]})
    tags = await _tags_of("contact_tag", "contact", ids)
    shaped = []
    for row in rows:
        record: dict[str, Any] = {key: _text(row.get(key)) for key in CONTACT_COLUMNS if key in row}
        cid = row["id"]
        record["other_emails"] = "; ".join(
            v for v in others.get((cid, "email"), []) if v != row.get("email")
        )
        record["other_phones"] = "; ".join(
            v for v in others.get((cid, "phone"), []) if v != row.get("phone")
        )
        record["company_id"] = row["company"]
        record["company"] = companies.get(row["company"], "") if row["company"] else ""
        record["owner"] = owners.get(row["owner"], "") if row["owner"] else ""
        record["tags"] = ", ".join(tags.get(cid, []))
        custom = _json_value(row.get("custom"))
        for key, value in custom.items():
            record[f"custom.{key}"] = value
        record["custom"] = custom
        visible = redact("contact", record, reader)
        shaped.append({c: visible.get(c) for c in columns})
    return shaped


async def _table_pages(
    table: str,
    base_columns: tuple[str, ...],
    filters: ExportFilters,
    reader: Actor,
    columns: list[str],
) -> AsyncIterator[list[dict[str, Any]]]:
    clauses: list[str] = []
    args: list[Any] = []
    if table == "interaction":
        if filters.contact is not None:
            clauses.append("contact = {}")
            args.append(filters.contact)
        if filters.channel:
            clauses.append("channel = {}")
            args.append(filters.channel)
        if not reader.sees_all_records:
            clauses.append("(author = {} OR assignee = {})")
            args += [reader.user_id, reader.user_id]
    elif not reader.sees_all_records:
        clauses.append("owner = {}")
        args.append(reader.user_id)
    if filters.updated_since is not None and table == "company":
        clauses.append("updated_at >= {}")
        args.append(filters.updated_since)
    last_id = 0
    while True:
        condition = " AND ".join(["id > {}", *clauses])
        rows = await _fetch(
            f"SELECT * FROM {table} WHERE {condition} ORDER BY id LIMIT {{}}",
            [last_id, *args, PAGE_SIZE],
        )
        if not rows:
            return
        last_id = rows[-1]["id"]
        user_ids = {r.get("owner") or r.get("assignee") for r in rows} - {None}
        users = await _user_emails(user_ids)
        tags = (
            await _tags_of("company_tag", "company", [r["id"] for r in rows])
            if (table == "company")
            else {}
        )
        page = []
        for row in rows:
            record = {key: _text(row.get(key)) for key in base_columns if key in row}
            if table == "company":
                record["owner"] = users.get(row["owner"], "") if row["owner"] else ""
                record["tags"] = ", ".join(tags.get(row["id"], []))
                for key, value in _json_value(row.get("custom")).items():
                    record[f"custom.{key}"] = value
            else:
                record["contact_id"] = row["contact"]
                record["company_id"] = row["company"]
                record["assignee"] = users.get(row["assignee"], "") if row["assignee"] else ""
            visible = redact(table, record, reader)
            page.append({c: visible.get(c) for c in columns})
        yield page
        if len(rows) < PAGE_SIZE:
            return


@dataclass
class Export:
    """An export ready to stream: its columns and the pages of rows (counted in ``rows``)."""

    entity: str
    columns: list[str]
    source: Callable[[], AsyncIterator[list[dict[str, Any]]]]
    rows: int = 0

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        async for page in self.source():
            self.rows += len(page)
            yield page


def _check_ids(filters: ExportFilters) -> None:
    for name in ("owner", "company", "contact"):
        value = getattr(filters, name)
        if value is not None and not 0 < value < 2**63:
            raise ValidationError.for_field(name, "is not a record id")


# What each export's filters compare, by the name the API gives the filter.
_FILTER_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "contacts": LIST_PARAMETERS,
    "companies": {"updated_since": ("company.updated_at",)},
    "interactions": {"contact_id": ("interaction.contact",), "channel": ("interaction.channel",)},
}


def _check_readable_filters(entity: str, filters: ExportFilters, reader: Actor) -> None:
    """Refuse a filter on a field the reader may not read: the rows exported would tell
    its values, though the column itself is left out."""
    values = {
        "tag": filters.tag,
        "stage": filters.stage,
        "owner": filters.owner,
        "company": filters.company,
        "updated_since": filters.updated_since,
        "contact_id": filters.contact,
        "channel": filters.channel,
    }
    check_parameters(reader, values, _FILTER_FIELDS.get(entity, {}))


async def plan_export(entity: str, reader: Actor, filters: ExportFilters | None = None) -> Export:
    """Check permission and filters and decide the columns ``reader`` may receive.

    Everything that can refuse the export is checked here, before anything is streamed."""
    require(reader, "contacts.export")
    filters = filters or ExportFilters()
    _check_ids(filters)
    _check_readable_filters(entity, filters, reader)
    if entity == "contacts":
        columns = _visible_columns(
            "contact", CONTACT_COLUMNS, await _custom_keys("contact"), reader
        )
        where, args = _contact_condition(filters, reader)
        search = _visible_search(filters, reader)
        return Export(entity, columns, lambda: _contact_pages(where, args, reader, columns, search))
    if entity == "companies":
        columns = _visible_columns(
            "company", COMPANY_COLUMNS, await _custom_keys("company"), reader
        )
        return Export(
            entity,
            columns,
            lambda: _table_pages("company", COMPANY_COLUMNS, filters, reader, columns),
        )
    if entity == "interactions":
        columns = _visible_columns("interaction", INTERACTION_COLUMNS, [], reader)
        return Export(
            entity,
            columns,
            lambda: _table_pages("interaction", INTERACTION_COLUMNS, filters, reader, columns),
        )
    raise ValidationError.for_field("entity", f"must be one of {', '.join(ENTITIES)}")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


async def stream_text(export: Export, fmt: str) -> AsyncIterator[bytes]:
    """CSV (UTF-8 with BOM, so Excel reads Persian correctly) or JSON Lines, page by page."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(export.columns)
        yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
        async for page in export.pages():
            buffer.seek(0)
            buffer.truncate()
            for record in page:
                writer.writerow([_cell(record[c]) for c in export.columns])
            yield buffer.getvalue().encode("utf-8")
    elif fmt == "jsonl":
        async for page in export.pages():
            lines = (json.dumps(_jsonl_record(r), ensure_ascii=False, default=str) for r in page)
            yield ("\n".join(lines) + "\n").encode("utf-8")
    else:
        raise ValidationError.for_field("format", f"must be one of {', '.join(FORMATS)}")


def _jsonl_record(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key.startswith("custom."):
            if value is not None:
                out.setdefault("custom", {})[key[len("custom.") :]] = value
        else:
            out[key] = value
    return out


async def write_xlsx(export: Export, target: str | os.PathLike[str]) -> int:
    """Write an XLSX file in openpyxl's write-only mode (rows go to disk as they come)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(export.entity)
    sheet.append(export.columns)
    count = 0
    async for page in export.pages():
        for record in page:
            sheet.append([_xlsx_cell(record[c]) for c in export.columns])
            count += 1
    book.save(target)
    return count


def _xlsx_cell(value: Any) -> Any:
    value = _cell(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not _numeric(value):
        # A leading "=" would be run as a formula by Excel: keep user data inert.
        return "'" + value
    return value


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


async def export_to_file(
    entity: str,
    fmt: str,
    target: str | os.PathLike[str],
    reader: Actor,
    filters: ExportFilters | None = None,
) -> int:
    """Write an export to ``target``; returns the number of rows written."""
    if fmt not in FORMATS:
        raise ValidationError.for_field("format", f"must be one of {', '.join(FORMATS)}")
    export = await plan_export(entity, reader, filters)
    if fmt == "xlsx":
        return await write_xlsx(export, target)
    async with await anyio.open_file(target, "wb") as handle:
        async for chunk in stream_text(export, fmt):
            await handle.write(chunk)
    return export.rows


def temporary_xlsx() -> str:
    """A temporary file path for an XLSX export (the caller deletes it after sending)."""
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="crm-export-")
    os.close(handle)
    return path
