"""The duplicates page: likely duplicate pairs side by side, each with a merge button.

Merging keeps the older contact (the one listed first) and fills its empty fields from the
other; the merge itself is :func:`crmcore.services.merge.merge_contacts`, the same one the
API and ``crm contacts merge`` call. The form carries the session's CSRF token.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.response import Response, Template

from crmcore.auth.errors import MissingPermission
from crmcore.auth.guards import requires
from crmcore.errors import CRMError, ValidationError
from crmcore.permissions import redact
from crmcore.services.contacts import contact_dicts
from crmcore.services.duplicates import find_duplicate_pairs
from crmcore.services.merge import merge_contacts
from crmcore.web.views.errors import html_error_handler
from crmcore.web.views.rendering import read_form, redirect, render
from crmcore.web.views.session import CurrentActor

__all__ = ["duplicates_router"]

PAGE_PAIRS = 100


@get("/duplicates", name="duplicates")
async def duplicates_page(request: Request[Any, Any, Any], actor: CurrentActor) -> Template:
    pairs = await find_duplicate_pairs(limit=PAGE_PAIRS)
    contacts = await contact_dicts(sorted({i for p in pairs for i in (p.contact_id, p.other_id)}))
    visible = {
        i: redact("contact", c, actor)
        for i, c in contacts.items()
        if actor.sees_all_records or c["owner_id"] == actor.user_id
    }
    shown = [
        {"pair": p, "contact": visible[p.contact_id], "other": visible[p.other_id]}
        for p in pairs
        if p.contact_id in visible and p.other_id in visible
    ]
    return await render(request, "core/duplicates.html", {"pairs": shown})


@post("/duplicates/merge", name="duplicates-merge", guards=[requires("contacts.merge")])
async def merge(request: Request[Any, Any, Any], actor: CurrentActor) -> Response[Any]:
    form = await read_form(request)
    try:
        survivor, merged = int(form.text("survivor_id")), int(form.text("merged_id"))
    except ValueError:
        raise ValidationError("choose the two contacts to merge") from None
    contact = await merge_contacts(survivor, merged, actor)
    return redirect(f"/contacts/{contact['id']}", "saved")


def duplicates_router() -> Router:
    return Router(
        path="/",
        route_handlers=[duplicates_page, merge],
        guards=[requires("contacts.read")],
        exception_handlers={CRMError: html_error_handler, MissingPermission: html_error_handler},
    )
