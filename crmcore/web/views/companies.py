"""Company pages: the list with search and "load more", the company page with its contacts
and latest interactions, and the create/edit form."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Template

from crmcore.errors import FilterNotAllowed, ValidationError
from crmcore.services.companies import create_company, get_company, list_companies, update_company
from crmcore.services.contacts import list_contacts
from crmcore.services.custom_fields import list_fields
from crmcore.services.interactions import list_interactions
from crmcore.services.pagination import Page
from crmcore.web.templating import translator_for
from crmcore.web.views.dashboard import contact_names
from crmcore.web.views.forms import field_errors
from crmcore.web.views.language import request_language
from crmcore.web.views.record_forms import company_input, form_inputs, record_values
from crmcore.web.views.rendering import FormValues, is_htmx, read_form, redirect, render
from crmcore.web.views.session import CurrentActor
from crmcore.web.views.tasks import user_names

__all__ = ["ROUTES"]

PAGE_SIZE = 50
RELATED_SIZE = 25


@get("/companies", name="companies")
async def companies_list(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    q: FromQuery[str] = "",
    cursor: FromQuery[str] = "",
) -> Template:
    page = await list_companies(actor, q=q or None, cursor=cursor or None, limit=PAGE_SIZE)
    context = {"companies": page.items, "next_cursor": page.next, "q": q}
    if is_htmx(request) and not request.headers.get("hx-history-restore-request"):
        return await render(request, "core/company_rows.html", context)
    return await render(request, "core/companies.html", context)


async def _form_context(
    values: FormValues, errors: dict[str, str], company: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "values": values,
        "errors": errors,
        "company": company,
        "fields": await list_fields("company"),
        "users": await user_names(),
    }


def _errors(
    request: Request[Any, Any, Any], exc: ValidationError, fields: list[dict[str, Any]]
) -> dict[str, str]:
    return field_errors(
        exc,
        translator_for(request),
        request_language(request),
        form_fields=form_inputs(fields, company=True),
    )


@get("/companies/new", name="company-new")
async def company_form_page(request: Request[Any, Any, Any], actor: CurrentActor) -> Template:
    values = FormValues([("owner_id", str(actor.user_id or ""))])
    return await render(request, "core/company_form.html", await _form_context(values, {}, None))


@post("/companies", name="company-create")
async def company_create(
    request: Request[Any, Any, Any], actor: CurrentActor
) -> Response[Any] | Template:
    form = await read_form(request)
    fields = await list_fields("company")
    try:
        company = await create_company(company_input(form, fields), actor)
    except ValidationError as exc:
        context = await _form_context(form, _errors(request, exc, fields), None)
        return await render(request, "core/company_form.html", context, status_code=422)
    return redirect(f"/companies/{company['id']}", "created")


@get("/companies/{company_id:int}/edit", name="company-edit")
async def company_edit_page(
    request: Request[Any, Any, Any], actor: CurrentActor, company_id: FromPath[int]
) -> Template:
    company = await get_company(company_id, actor)
    fields = await list_fields("company")
    context = await _form_context(record_values(company, fields), {}, company)
    return await render(request, "core/company_form.html", context)


@post("/companies/{company_id:int}", name="company-update")
async def company_update(
    request: Request[Any, Any, Any], actor: CurrentActor, company_id: FromPath[int]
) -> Response[Any] | Template:
    company = await get_company(company_id, actor)
    form = await read_form(request)
    fields = await list_fields("company")
    try:
        await update_company(company_id, company_input(form, fields), actor)
    except ValidationError as exc:
        context = await _form_context(form, _errors(request, exc, fields), company)
        return await render(request, "core/company_form.html", context, status_code=422)
    return redirect(f"/companies/{company_id}", "saved")


@get("/companies/{company_id:int}", name="company")
async def company_page(
    request: Request[Any, Any, Any], actor: CurrentActor, company_id: FromPath[int]
) -> Template:
    company = await get_company(company_id, actor)
    try:
        contacts = await list_contacts(actor, company=company_id, limit=RELATED_SIZE)
    except FilterNotAllowed:
        # Listing them would tell the contacts' company, a field this reader may not see.
        contacts, contacts_withheld = Page(items=[], next=None), True
    else:
        contacts_withheld = False
    interactions = await list_interactions(actor, company_id=company_id, limit=RELATED_SIZE)
    return await render(
        request,
        "core/company.html",
        {
            "company": company,
            "fields": await list_fields("company"),
            "contacts": contacts.items,
            "more_contacts": contacts.next is not None,
            "contacts_withheld": contacts_withheld,
            "interactions": interactions.items,
            "names": await contact_names(
                {i["contact_id"] for i in interactions.items if i["contact_id"]}
            ),
            "users": await user_names(),
        },
    )


ROUTES = [
    companies_list,
    company_form_page,
    company_create,
    company_edit_page,
    company_update,
    company_page,
]
