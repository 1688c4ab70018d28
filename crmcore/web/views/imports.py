"""The import page: upload a file, check how its columns map with a preview of its first
rows, run it, and watch it go (the page polls itself with htmx while the import runs).

Every step calls the same services as ``crm contacts import`` and ``POST /api/v1/imports``;
the run itself happens in the background (the ``data.import`` job, see
:func:`crmcore.services.imports.start_import`).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from litestar.response import Response, Template

from crmcore.api.imports import MAX_UPLOAD_BYTES, import_out, save_upload
from crmcore.auth.errors import MissingPermission
from crmcore.auth.guards import requires
from crmcore.errors import CRMError, ValidationError
from crmcore.services.import_sources import IGNORE
from crmcore.services.imports import (
    KEYS,
    MODES,
    configure_import,
    create_import_record,
    import_errors,
    list_imports,
    preview_import,
    revert_import,
    start_import,
)
from crmcore.web.templating import translator_for
from crmcore.web.views.errors import html_error_handler
from crmcore.web.views.forms import field_errors
from crmcore.web.views.language import request_language
from crmcore.web.views.rendering import read_form, redirect, render
from crmcore.web.views.session import CurrentActor

__all__ = ["import_router"]

SHOWN_ERRORS = 50


async def _index_context(actor: Any, errors: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "imports": [import_out(r) for r in await list_imports(actor, limit=20)],
        "modes": MODES,
        "keys": KEYS,
        "errors": errors or {},
    }


@get("/imports", name="imports")
async def imports_page(request: Request[Any, Any, Any], actor: CurrentActor) -> Template:
    return await render(request, "core/import.html", await _index_context(actor))


@post("/imports", name="import-upload", request_max_body_size=MAX_UPLOAD_BYTES)
async def upload(request: Request[Any, Any, Any], actor: CurrentActor) -> Response[Any] | Template:
    """Store the file and register a pending import; the next page maps its columns."""
    form = await request.form()
    upload_file = form.get("file")
    try:
        if not isinstance(upload_file, UploadFile) or not upload_file.filename:
            raise ValidationError.for_field("file", "Choose a CSV or XLSX file to import.")
        path, name = await save_upload(upload_file)
        record = await create_import_record(path, actor=actor, file_name=name, count_rows=True)
    except ValidationError as exc:
        errors = field_errors(exc, translator_for(request), request_language(request))
        context = await _index_context(actor, errors)
        return await render(request, "core/import.html", context, status_code=422)
    return redirect(f"/imports/{record['id']}")


@get("/imports/{import_id:int}", name="import-run")
async def import_page(
    request: Request[Any, Any, Any], actor: CurrentActor, import_id: FromPath[int]
) -> Template:
    """The mapping screen of a pending import, or the progress and result of a started one
    (while it runs, htmx reloads the progress panel every second)."""
    preview = await preview_import(import_id, actor)
    record = preview["import"]
    context = {
        "record": import_out(record),
        "headers": preview["headers"],
        "rows": preview["rows"],
        "mapping": preview["mapping"],
        "fields": preview["fields"],
        "ignore": IGNORE,
        "modes": MODES,
        "keys": KEYS,
        "errors": {},
        "rejected": [],
    }
    if record["status"] in ("completed", "reverted", "failed"):
        context["rejected"] = await import_errors(import_id, limit=SHOWN_ERRORS)
    return await render(request, "core/import_run.html", context)


@post("/imports/{import_id:int}/start", name="import-start")
async def start(
    request: Request[Any, Any, Any], actor: CurrentActor, import_id: FromPath[int]
) -> Response[Any] | Template:
    """Save the chosen mapping and options, then run the import in the background."""
    form = await read_form(request)
    preview = await preview_import(import_id, actor)
    mapping = {
        header: form.text(f"map-{index}") or IGNORE
        for index, header in enumerate(preview["headers"])
    }
    try:
        await configure_import(
            import_id,
            actor,
            mode=form.text("mode") or "create",
            key=form.text("key") or "email",
            mapping=mapping,
            dry_run=form.get("dry_run") == "on",
        )
    except ValidationError as exc:
        errors = field_errors(exc, translator_for(request), request_language(request))
        context = {
            "record": import_out(preview["import"]),
            "headers": preview["headers"],
            "rows": preview["rows"],
            "mapping": mapping,
            "fields": preview["fields"],
            "ignore": IGNORE,
            "modes": MODES,
            "keys": KEYS,
            "errors": errors,
            "rejected": [],
        }
        return await render(request, "core/import_run.html", context, status_code=422)
    await start_import(import_id, actor)
    return redirect(f"/imports/{import_id}")


@post("/imports/{import_id:int}/resume", name="import-resume")
async def resume(
    request: Request[Any, Any, Any], actor: CurrentActor, import_id: FromPath[int]
) -> Response[Any]:
    """Run a stopped import again: it continues after its last committed batch."""
    await start_import(import_id, actor)
    return redirect(f"/imports/{import_id}")


@post("/imports/{import_id:int}/revert", name="import-revert")
async def revert(
    request: Request[Any, Any, Any], actor: CurrentActor, import_id: FromPath[int]
) -> Response[Any]:
    await revert_import(import_id, actor)
    return redirect(f"/imports/{import_id}")


def import_router() -> Router:
    """The import pages, answering service errors with HTML error pages."""
    return Router(
        path="/",
        route_handlers=[imports_page, upload, import_page, start, resume, revert],
        guards=[requires("contacts.import")],
        exception_handlers={CRMError: html_error_handler, MissingPermission: html_error_handler},
    )
