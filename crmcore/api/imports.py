"""REST API for imports: ``/api/v1/imports``.

``POST /imports`` takes a multipart upload, registers the import (so a bad mapping or key
answers 422 at once) and runs it in the background: as the ``data.import`` job when the job
system is available, else as an asyncio task. Poll ``GET /imports/{id}`` for progress;
``GET /imports/{id}/errors.csv`` streams the rejected rows; ``POST /imports/{id}/revert``
deletes what the import created.

Uploads are parsed in memory by the web framework, so the API accepts files up to
``MAX_UPLOAD_BYTES``; bigger files are imported with ``crm contacts import`` on the server.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
import msgspec
from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Stream

from crmcore.auth.guards import requires
from crmcore.db.runtime import current_database
from crmcore.errors import ValidationError
from crmcore.services.actor import Actor
from crmcore.services.import_records import error_report_lines
from crmcore.services.imports import (
    create_import_record,
    get_import,
    list_imports,
    revert_import,
    start_import,
)

__all__ = ["ImportController", "ImportOut", "save_upload"]

MAX_UPLOAD_BYTES = 256 * 1024 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class DuplicateOut(msgspec.Struct, omit_defaults=True):
    row: int
    reason: str
    contact_id: int | None = None
    other_row: int | None = None


class ImportOut(msgspec.Struct):
    """An import: its options, where it stands, and what it did so far."""

    id: int
    status: str
    file_name: str
    mode: str
    key: str
    dry_run: bool
    mapping: dict[str, str]
    actor_label: str
    created_at: datetime
    finished_at: datetime | None
    position: int
    total_rows: int | None
    progress: float | None
    created: int
    updated: int
    skipped: int
    failed: int
    duplicate_count: int
    duplicates: list[DuplicateOut]
    errors_url: str | None
    message: str


class ImportList(msgspec.Struct):
    items: list[ImportOut]


class RevertOut(msgspec.Struct):
    import_id: int
    deleted: int
    status: str


@dataclass
class ImportUpload:
    """The upload form: the file and the import's options (``mapping`` is a JSON object
    ``{"column": "field"}``; anything not named is guessed from the headers)."""

    file: UploadFile
    mode: str = "create"
    key: str = "email"
    mapping: str = ""
    dry_run: bool = False


def import_out(record: dict[str, Any]) -> ImportOut:
    total = record.get("total_rows")
    progress = None
    if record["status"] == "completed":
        progress = 1.0
    elif total:
        progress = min(1.0, record["position"] / total)
    errors_url = None
    if record["failed"] or record["skipped"]:
        errors_url = f"/api/v1/imports/{record['id']}/errors.csv"
    data = {
        **record,
        "progress": progress,
        "errors_url": errors_url,
        "duplicates": record.get("duplicates") or [],
    }
    return msgspec.convert(data, ImportOut, strict=False)


def parse_mapping(text: str) -> dict[str, str] | None:
    """The ``mapping`` form field: empty, or a JSON object of column -> field."""
    if not text or not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValidationError.for_field(
            "mapping", 'must be a JSON object such as {"ایمیل": "email"}'
        ) from exc
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValidationError.for_field("mapping", "must map column names to field names")
    return value


async def save_upload(upload: UploadFile) -> tuple[Path, str]:
    """Store an uploaded file under the instance's uploads folder; returns (path, name)."""
    settings = getattr(current_database().pm, "settings", None)
    base = Path(getattr(settings, "uploads_dir", None) or Path.cwd() / "uploads") / "imports"
    await anyio.Path(base).mkdir(parents=True, exist_ok=True)
    name = Path(upload.filename or "upload.csv").name
    target = base / f"{uuid.uuid4().hex}-{_SAFE_NAME.sub('_', name)[-100:]}"
    size = 0
    async with await anyio.open_file(target, "wb") as handle:
        while chunk := await upload.read(1024 * 1024):
            size += len(chunk)
            await handle.write(chunk)
    if size == 0:
        await anyio.Path(target).unlink(missing_ok=True)
        raise ValidationError.for_field("file", "the uploaded file is empty")
    return target, name


class ImportController(Controller):
    path = "/imports"
    tags = ["imports"]
    guards = [requires("contacts.import")]

    @post(
        "/",
        summary="Upload a file and import it in the background",
        request_max_body_size=MAX_UPLOAD_BYTES,
        guards=[requires("contacts.write")],
    )
    async def create(
        self,
        data: Annotated[ImportUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
        actor: NamedDependency[Actor],
    ) -> ImportOut:
        """Answers 201 with the import record (status ``queued``); poll it for progress."""
        path, name = await save_upload(data.file)
        try:
            record = await create_import_record(
                path,
                actor=actor,
                file_name=name,
                mode=data.mode,
                key=data.key,
                mapping=parse_mapping(data.mapping),
                dry_run=bool(data.dry_run),
                count_rows=True,
            )
        except Exception:
            await anyio.Path(path).unlink(missing_ok=True)
            raise
        await start_import(record["id"], actor)
        return import_out(await get_import(record["id"], actor))

    @get("/", summary="Imports, newest first")
    async def index(self, actor: NamedDependency[Actor], limit: FromQuery[int] = 50) -> ImportList:
        return ImportList(items=[import_out(r) for r in await list_imports(actor, limit=limit)])

    @get("/{import_id:int}", summary="An import's progress and counts")
    async def show(self, import_id: FromPath[int], actor: NamedDependency[Actor]) -> ImportOut:
        return import_out(await get_import(import_id, actor))

    @get(
        "/{import_id:int}/errors.csv",
        summary="The rejected rows: the original columns, then row and reason",
        media_type="text/csv; charset=utf-8",
    )
    async def errors(self, import_id: FromPath[int], actor: NamedDependency[Actor]) -> Stream:
        record = await get_import(import_id, actor)
        headers = list(record["mapping"])

        async def lines() -> AsyncIterator[str]:
            yield "\ufeff"
            async for line in error_report_lines(import_id, headers):
                yield line

        return Stream(
            lines(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'
            },
        )

    @post(
        "/{import_id:int}/revert",
        summary="Delete the contacts this import created",
        guards=[requires("contacts.delete")],
        status_code=200,
    )
    async def revert(self, import_id: FromPath[int], actor: NamedDependency[Actor]) -> RevertOut:
        return msgspec.convert(await revert_import(import_id, actor), RevertOut)
