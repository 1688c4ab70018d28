"""REST API for contacts: ``/api/v1/contacts``.

Handlers only translate HTTP to :mod:`crmcore.services.contacts` and back: every rule
(normalising emails and phones, custom fields, plugin vetoes, record scope) lives in the
service, so the API, the pages and the CLI accept and reject exactly the same input.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from crmcore.auth.guards import requires
from crmcore.errors import ValidationError
from crmcore.services.actor import Actor
from crmcore.services.contacts import (
    create_contact,
    delete_contact,
    get_contact,
    list_contacts,
    stage_history,
    update_contact,
)
from crmcore.services.filters import registered_filters
from crmcore.services.records import plugin_manager

from .structs import (
    ContactFilterOut,
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
    StageChangeOut,
    sent_fields,
)

__all__ = ["ContactController", "contact_out"]


def contact_out(contact: dict[str, Any]) -> ContactOut:
    return msgspec.convert(contact, ContactOut)


def _filter_tree(filters: str | None) -> dict[str, Any] | None:
    if not filters:
        return None
    try:
        tree = json.loads(filters)
    except ValueError as exc:
        raise ValidationError.for_field(
            "filters", f"must be a JSON filter tree ({exc.args[0]})."
        ) from exc
    if not isinstance(tree, dict):
        raise ValidationError.for_field("filters", "must be a JSON object (a filter tree).")
    return tree


class ContactController(Controller):
    path = "/contacts"
    tags = ["contacts"]

    @get(
        "/",
        summary="List or search contacts (newest first, keyset pagination)",
        description=(
            "``q`` searches names, emails, phones (any format), company, tags and notes; a "
            "fragment of a word matches (``محم`` finds ``محمد``). ``filters`` is a JSON "
            "filter tree, see GET /api/v1/contacts/filters. Pass ``next`` back as "
            "``cursor`` for the following page."
        ),
    )
    async def index(
        self,
        actor: NamedDependency[Actor],
        q: FromQuery[str | None] = None,
        tag: FromQuery[str | None] = None,
        stage: FromQuery[str | None] = None,
        owner: FromQuery[str | None] = None,
        company: FromQuery[str | None] = None,
        updated_since: FromQuery[str | None] = None,
        filters: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 50,
    ) -> ContactPage:
        page = await list_contacts(
            actor,
            q=q,
            tag=tag,
            stage=stage,
            owner=owner,
            company=company,
            updated_since=updated_since,
            filters=_filter_tree(filters),
            cursor=cursor,
            limit=limit,
        )
        return ContactPage(items=[contact_out(c) for c in page.items], next=page.next)

    @post("/", summary="Create a contact", guards=[requires("contacts.write")])
    async def create(self, data: JSONBody[ContactIn], actor: NamedDependency[Actor]) -> ContactOut:
        return contact_out(await create_contact(sent_fields(data), actor))

    @get("/filters", summary="Named filters usable in the filters parameter")
    async def filters(self, actor: NamedDependency[Actor]) -> list[ContactFilterOut]:
        available = registered_filters(plugin_manager())
        return [
            ContactFilterOut(name=f.name, label=f.label, params=dict(f.params))
            for f in available.values()
        ]

    @get("/{contact_id:int}", summary="One contact")
    async def show(self, contact_id: FromPath[int], actor: NamedDependency[Actor]) -> ContactOut:
        return contact_out(await get_contact(contact_id, actor))

    @get("/{contact_id:int}/stages", summary="A contact's lifecycle stage history")
    async def stages(
        self, contact_id: FromPath[int], actor: NamedDependency[Actor]
    ) -> list[StageChangeOut]:
        history = await stage_history(contact_id, actor)
        return [msgspec.convert(item, StageChangeOut) for item in history]

    @patch("/{contact_id:int}", summary="Change a contact", guards=[requires("contacts.write")])
    async def update(
        self,
        contact_id: FromPath[int],
        data: JSONBody[ContactPatch],
        actor: NamedDependency[Actor],
    ) -> ContactOut:
        return contact_out(await update_contact(contact_id, sent_fields(data), actor))

    @delete("/{contact_id:int}", summary="Delete a contact", guards=[requires("contacts.delete")])
    async def remove(self, contact_id: FromPath[int], actor: NamedDependency[Actor]) -> None:
        await delete_contact(contact_id, actor)
