"""REST API for custom field definitions: ``/api/v1/custom-fields``."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from crmcore.auth.guards import requires
from crmcore.services.actor import Actor
from crmcore.services.custom_fields import (
    define_field,
    delete_field,
    get_field,
    list_fields,
    update_field,
)

from .structs import CustomFieldIn, CustomFieldOut, CustomFieldPatch, sent_fields

__all__ = ["CustomFieldController"]


def field_out(field: dict[str, Any]) -> CustomFieldOut:
    return msgspec.convert(field, CustomFieldOut)


class CustomFieldController(Controller):
    path = "/custom-fields"
    tags = ["custom fields"]

    @get("/", summary="Custom field definitions (of one entity, or all)")
    async def index(
        self, actor: NamedDependency[Actor], entity: FromQuery[str | None] = None
    ) -> list[CustomFieldOut]:
        return [field_out(f) for f in await list_fields(entity)]

    @post("/", summary="Define a custom field", guards=[requires("settings.manage")])
    async def create(
        self, data: JSONBody[CustomFieldIn], actor: NamedDependency[Actor]
    ) -> CustomFieldOut:
        field = await define_field(
            data.entity,
            data.key,
            data.label,
            data.field_type,
            data.required,
            data.choices or None,
            actor=actor,
        )
        return field_out(field)

    @get("/{field_id:int}", summary="One custom field definition")
    async def show(self, field_id: FromPath[int], actor: NamedDependency[Actor]) -> CustomFieldOut:
        return field_out(await get_field(field_id))

    @patch(
        "/{field_id:int}",
        summary="Change a definition's label, required flag, choices or position",
        guards=[requires("settings.manage")],
    )
    async def update(
        self,
        field_id: FromPath[int],
        data: JSONBody[CustomFieldPatch],
        actor: NamedDependency[Actor],
    ) -> CustomFieldOut:
        return field_out(await update_field(field_id, sent_fields(data), actor))

    @delete(
        "/{field_id:int}",
        summary="Delete a definition and its values on every record",
        guards=[requires("settings.manage")],
    )
    async def remove(self, field_id: FromPath[int], actor: NamedDependency[Actor]) -> None:
        await delete_field(field_id, actor)
