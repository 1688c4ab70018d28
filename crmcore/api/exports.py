"""REST API for exports: ``GET /api/v1/exports/{contacts|companies|interactions}``.

CSV and JSON Lines are streamed page by page as they are read; XLSX (a zip archive) is
written to a temporary file in openpyxl's write-only mode and sent from there. Fields the
reader may not see are left out of every format.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import datetime

from litestar import get
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import File, Stream

from crmcore.auth.guards import requires
from crmcore.errors import ValidationError
from crmcore.services.actor import Actor
from crmcore.services.exports import (
    FORMATS,
    MEDIA_TYPES,
    ExportFilters,
    plan_export,
    stream_text,
    temporary_xlsx,
    write_xlsx,
)

__all__ = ["export_records"]


@get(
    "/exports/{entity:str}",
    summary="Export contacts, companies or interactions (csv, jsonl or xlsx), streamed",
    tags=["exports"],
    guards=[requires("contacts.export")],
)
async def export_records(
    entity: FromPath[str],
    actor: NamedDependency[Actor],
    format: FromQuery[str] = "csv",  # noqa: A002 - the public query parameter's name
    q: FromQuery[str | None] = None,
    stage: FromQuery[str | None] = None,
    tag: FromQuery[str | None] = None,
    owner: FromQuery[int | None] = None,
    company: FromQuery[int | None] = None,
    updated_since: FromQuery[datetime | None] = None,
    contact_id: FromQuery[int | None] = None,
    channel: FromQuery[str | None] = None,
) -> Stream | File:
    """Same filters as the lists (``q``, ``stage``, ``tag``, ``owner``, ``company``,
    ``updated_since``; for interactions ``contact_id`` and ``channel``)."""
    if format not in FORMATS:
        raise ValidationError.for_field("format", f"must be one of {', '.join(FORMATS)}")
    filters = ExportFilters(
        q=q,
        stage=stage,
        tag=tag,
        owner=owner,
        company=company,
        updated_since=updated_since,
        contact=contact_id,
        channel=channel,
    )
    export = await plan_export(entity, actor, filters)
    filename = f"{entity}.{format}"
    if format == "xlsx":
        path = temporary_xlsx()
        try:
            await write_xlsx(export, path)
        except BaseException:
            os.unlink(path)
            raise
        return File(
            path=path,
            filename=filename,
            media_type=MEDIA_TYPES["xlsx"],
            background=BackgroundTask(os.unlink, path),
        )

    async def body() -> AsyncIterator[bytes]:
        async for chunk in stream_text(export, format):
            yield chunk

    return Stream(
        body(),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
