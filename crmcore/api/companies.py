"""REST API for companies: ``/api/v1/companies`` (rules live in the service)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from crmcore.auth.guards import requires
from crmcore.services.actor import Actor
from crmcore.services.companies import (
    create_company,
    delete_company,
    get_company,
    list_companies,
    update_company,
)

from .structs import CompanyIn, CompanyOut, CompanyPage, CompanyPatch, sent_fields

__all__ = ["CompanyController", "company_out"]


def company_out(company: dict[str, Any]) -> CompanyOut:
    return msgspec.convert(company, CompanyOut)


class CompanyController(Controller):
    path = "/companies"
    tags = ["companies"]

    @get("/", summary="List companies, newest first; q matches part of the name or domain")
    async def index(
        self,
        actor: NamedDependency[Actor],
        q: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 50,
    ) -> CompanyPage:
        page = await list_companies(actor, q=q, cursor=cursor, limit=limit)
        return CompanyPage(items=[company_out(c) for c in page.items], next=page.next)

    @post("/", summary="Create a company", guards=[requires("contacts.write")])
    async def create(self, data: JSONBody[CompanyIn], actor: NamedDependency[Actor]) -> CompanyOut:
        return company_out(await create_company(sent_fields(data), actor))

    @get("/{company_id:int}", summary="One company")
    async def show(self, company_id: FromPath[int], actor: NamedDependency[Actor]) -> CompanyOut:
        return company_out(await get_company(company_id, actor))

    @patch("/{company_id:int}", summary="Change a company", guards=[requires("contacts.write")])
    async def update(
        self,
        company_id: FromPath[int],
        data: JSONBody[CompanyPatch],
        actor: NamedDependency[Actor],
    ) -> CompanyOut:
        return company_out(await update_company(company_id, sent_fields(data), actor))

    @delete(
        "/{company_id:int}",
        summary="Delete a company (its contacts stay, without a company)",
        guards=[requires("contacts.delete")],
    )
    async def remove(self, company_id: FromPath[int], actor: NamedDependency[Actor]) -> None:
        await delete_company(company_id, actor)
