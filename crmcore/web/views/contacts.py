"""Contact pages: the list (search as you type, filters, load more, bulk tag), the contact
page (details, custom fields, timeline, quick log, planned tasks, plugin panels) and the form.

The list answers htmx requests with the table rows only, so typing in the search box swaps
rows in place and "Load more" appends the next keyset page; without JavaScript the same
URLs give whole pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Template

from crmcore.errors import FilterNotAllowed, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.contacts import create_contact, get_contact, list_contacts, update_contact
from crmcore.services.custom_fields import list_fields
from crmcore.services.interactions import log_interaction
from crmcore.services.pagination import Page
from crmcore.services.tags import add_tags, list_tags
from crmcore.services.tasks import create_task, list_tasks
from crmcore.services.timeline import contact_timeline
from crmcore.web.hooks import Panel, by_order
from crmcore.web.templating import translator_for
from crmcore.web.views.forms import field_errors, safe_next
from crmcore.web.views.language import request_language, request_timezone
from crmcore.web.views.record_forms import contact_input, form_inputs, record_values
from crmcore.web.views.rendering import FormValues, is_htmx, read_form, redirect, render
from crmcore.web.views.session import CurrentActor
from crmcore.web.views.tasks import task_input, user_names

__all__ = [
    "contact_form_page",
    "contact_page",
    "contact_page_response",
    "contacts_list",
]

PAGE_SIZE = 50
TIMELINE_SIZE = 30
QUICK_LOG_CHANNELS = ("phone", "note", "email")


# Service field -> input of the contact form.
CONTACT_RENAMES = {"emails": "email", "phones": "phone", "company_id": "company"}
LOG_FIELDS = ("channel", "subject", "body")
TASK_FIELDS = ("subject", "due_at", "channel", "assignee_id")


def _errors(
    request: Request[Any, Any, Any], exc: ValidationError, form_fields: Collection[str]
) -> dict[str, str]:
    return field_errors(
        exc,
        translator_for(request),
        request_language(request),
        CONTACT_RENAMES,
        form_fields=form_fields,
    )


# --------------------------------------------------------------------------- list


@get("/contacts", name="contacts")
async def contacts_list(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    q: FromQuery[str] = "",
    tag: FromQuery[str] = "",
    stage: FromQuery[str] = "",
    owner: FromQuery[str] = "",
    company: FromQuery[str] = "",
    cursor: FromQuery[str] = "",
) -> Template:
    filters = {"q": q, "tag": tag, "stage": stage, "owner": owner, "company": company}
    refused = ""
    try:
        page = await list_contacts(
            actor,
            q=q or None,
            tag=tag or None,
            stage=stage or None,
            owner=owner or None,
            company=company or None,
            cursor=cursor or None,
            limit=PAGE_SIZE,
        )
    except FilterNotAllowed as exc:
        # The list stays, with the filters as chosen, so the user can clear the one refused.
        page = Page(items=[], next=None)
        refused = translator_for(request).gettext(
            "You may not filter by “%(filter)s”: your role cannot see that field. Ask an "
            "administrator for the permission “%(permission)s”, or clear the filter."
        ) % {"filter": exc.filter, "permission": exc.permission}
    context = {
        "contacts": page.items,
        "next_cursor": page.next,
        "filters": filters,
        "search_query": q,
        "refused": refused,
    }
    wants_rows = is_htmx(request) and not request.headers.get("hx-history-restore-request")
    if wants_rows:
        # 200 even when refused: htmx swaps in only successful answers, and the rows
        # carry the message.
        return await render(request, "core/contact_rows.html", context)
    context.update(tags=await list_tags(), users=await user_names())
    return await render(
        request, "core/contacts.html", context, status_code=403 if refused else 200
    )


@post("/contacts/bulk-tag", name="contacts-bulk-tag")
async def bulk_tag(request: Request[Any, Any, Any], actor: CurrentActor) -> Response[Any]:
    form = await read_form(request)
    back = safe_next(form.get("next"), "/contacts")
    ids = [int(value) for value in form.getall("ids") if value.isdigit()]
    if not ids:
        return redirect(back, "nothing_selected")
    await add_tags(ids, [form.text("tag")], actor)
    return redirect(back, "tags_added")


# --------------------------------------------------------------------------- form


async def _form_context(
    values: FormValues, errors: dict[str, str], contact: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "values": values,
        "errors": errors,
        "contact": contact,
        "fields": await list_fields("contact"),
        "users": await user_names(),
    }


@get("/contacts/new", name="contact-new")
async def contact_form_page(request: Request[Any, Any, Any], actor: CurrentActor) -> Template:
    values = FormValues([("stage", "lead"), ("owner_id", str(actor.user_id or ""))])
    return await render(request, "core/contact_form.html", await _form_context(values, {}, None))


@post("/contacts", name="contact-create")
async def contact_create(
    request: Request[Any, Any, Any], actor: CurrentActor
) -> Response[Any] | Template:
    form = await read_form(request)
    fields = await list_fields("contact")
    try:
        contact = await create_contact(contact_input(form, fields), actor)
    except ValidationError as exc:
        context = await _form_context(form, _errors(request, exc, form_inputs(fields)), None)
        return await render(request, "core/contact_form.html", context, status_code=422)
    return redirect(f"/contacts/{contact['id']}", "created")


@get("/contacts/{contact_id:int}/edit", name="contact-edit")
async def contact_edit_page(
    request: Request[Any, Any, Any], actor: CurrentActor, contact_id: FromPath[int]
) -> Template:
    contact = await get_contact(contact_id, actor)
    fields = await list_fields("contact")
    context = await _form_context(record_values(contact, fields), {}, contact)
    return await render(request, "core/contact_form.html", context)


@post("/contacts/{contact_id:int}", name="contact-update")
async def contact_update(
    request: Request[Any, Any, Any], actor: CurrentActor, contact_id: FromPath[int]
) -> Response[Any] | Template:
    contact = await get_contact(contact_id, actor)
    form = await read_form(request)
    fields = await list_fields("contact")
    try:
        await update_contact(contact_id, contact_input(form, fields), actor)
    except ValidationError as exc:
        errors = _errors(request, exc, form_inputs(fields))
        context = await _form_context(form, errors, contact)
        return await render(request, "core/contact_form.html", context, status_code=422)
    return redirect(f"/contacts/{contact_id}", "saved")


# --------------------------------------------------------------------------- contact page


async def contact_page_response(
    request: Request[Any, Any, Any],
    actor: Actor,
    contact_id: int,
    *,
    log_form: FormValues | None = None,
    log_errors: dict[str, str] | None = None,
    task_form: FormValues | None = None,
    task_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    """The contact page; the two small forms on it come back filled in after an error."""
    contact = await get_contact(contact_id, actor)
    pm = request.app.state.pm
    tasks = await list_tasks(actor, contact_id=contact_id, status="planned", limit=20)
    panels = by_order(
        await pm.acall_flat("contact_panels", request=request, contact=contact), Panel
    )
    context = {
        "contact": contact,
        "fields": await list_fields("contact"),
        "timeline": await contact_timeline(contact_id, actor, TIMELINE_SIZE),
        "tasks": tasks.items,
        "panels": panels,
        "users": await user_names(),
        "quick_channels": QUICK_LOG_CHANNELS,
        "log_values": log_form or FormValues([("channel", "phone")]),
        "log_errors": log_errors or {},
        "task_values": task_form or FormValues([("channel", "phone")]),
        "task_errors": task_errors or {},
        "now": dt.datetime.now(dt.UTC),
    }
    return await render(request, "core/contact.html", context, status_code=status_code)


@get("/contacts/{contact_id:int}", name="contact")
async def contact_page(
    request: Request[Any, Any, Any], actor: CurrentActor, contact_id: FromPath[int]
) -> Template:
    return await contact_page_response(request, actor, contact_id)


@post("/contacts/{contact_id:int}/interactions", name="contact-log")
async def contact_log(
    request: Request[Any, Any, Any], actor: CurrentActor, contact_id: FromPath[int]
) -> Response[Any] | Template:
    """The quick "log a call / note / email" form of the contact page."""
    form = await read_form(request)
    channel = form.text("channel")
    data = {
        "contact_id": contact_id,
        "channel": channel,
        "subject": form.text("subject"),
        "body": form.get("body", ""),
        "direction": "internal" if channel == "note" else form.text("direction") or "outbound",
    }
    try:
        await log_interaction(data, actor)
    except ValidationError as exc:
        return await contact_page_response(
            request,
            actor,
            contact_id,
            log_form=form,
            log_errors=_errors(request, exc, LOG_FIELDS),
            status_code=422,
        )
    return redirect(f"/contacts/{contact_id}", "logged")


@post("/contacts/{contact_id:int}/tasks", name="contact-task")
async def contact_task(
    request: Request[Any, Any, Any], actor: CurrentActor, contact_id: FromPath[int]
) -> Response[Any] | Template:
    form = await read_form(request)
    try:
        data = task_input(form, request_timezone(request))
        data["contact_id"] = contact_id
        await create_task(data, actor)
    except ValidationError as exc:
        return await contact_page_response(
            request,
            actor,
            contact_id,
            task_form=form,
            task_errors=_errors(request, exc, TASK_FIELDS),
            status_code=422,
        )
    return redirect(f"/contacts/{contact_id}", "task_created")


ROUTES = [
    contacts_list,
    bulk_tag,
    contact_form_page,
    contact_create,
    contact_edit_page,
    contact_update,
    contact_page,
    contact_log,
    contact_task,
]
