"""Global search (the box in the navigation): contacts and companies in one page."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.params import FromQuery
from litestar.response import Template

from crmcore.services.companies import list_companies
from crmcore.services.contacts import list_contacts
from crmcore.web.views.rendering import render
from crmcore.web.views.session import CurrentActor

__all__ = ["search_page"]

RESULTS = 20


@get("/search", name="search")
async def search_page(
    request: Request[Any, Any, Any], actor: CurrentActor, q: FromQuery[str] = ""
) -> Template:
    query = q.strip()
    contacts = await list_contacts(actor, q=query, limit=RESULTS) if query else None
    companies = await list_companies(actor, q=query, limit=RESULTS) if query else None
    return await render(
        request,
        "core/search.html",
        {
            "search_query": query,
            "contacts": contacts.items if contacts else [],
            "more_contacts": bool(contacts and contacts.next),
            "companies": companies.items if companies else [],
            "more_companies": bool(companies and companies.next),
        },
    )
