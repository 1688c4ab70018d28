"""REST API for tags: ``/api/v1/tags``, including tagging many contacts at once."""

from __future__ import annotations

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from crmcore.auth.guards import requires
from crmcore.services.actor import Actor
from crmcore.services.tags import (
    add_tags,
    create_tag,
    delete_tag,
    get_tag,
    list_tags,
    remove_tag,
    update_tag,
)

from .structs import TaggingIn, TaggingOut, TagIn, TagOut, TagPatch, UntaggingIn, sent_fields

__all__ = ["TagController"]


class TagController(Controller):
    path = "/tags"
    tags = ["tags"]

    @get("/", summary="Every tag with its number of contacts")
    async def index(self, actor: NamedDependency[Actor]) -> list[TagOut]:
        return [msgspec.convert(tag, TagOut) for tag in await list_tags()]

    @post("/", summary="Create a tag", guards=[requires("contacts.write")])
    async def create(self, data: JSONBody[TagIn], actor: NamedDependency[Actor]) -> TagOut:
        return msgspec.convert(await create_tag(data.name, actor, color=data.color), TagOut)

    @get("/{tag_id:int}", summary="One tag")
    async def show(self, tag_id: FromPath[int], actor: NamedDependency[Actor]) -> TagOut:
        return msgspec.convert(await get_tag(tag_id), TagOut)

    @patch(
        "/{tag_id:int}", summary="Rename or recolour a tag", guards=[requires("settings.manage")]
    )
    async def update(
        self, tag_id: FromPath[int], data: JSONBody[TagPatch], actor: NamedDependency[Actor]
    ) -> TagOut:
        return msgspec.convert(await update_tag(tag_id, sent_fields(data), actor), TagOut)

    @delete("/{tag_id:int}", summary="Delete a tag", guards=[requires("settings.manage")])
    async def remove(self, tag_id: FromPath[int], actor: NamedDependency[Actor]) -> None:
        await delete_tag(tag_id, actor)

    @post(
        "/apply",
        summary="Tag many contacts at once (missing tags are created)",
        guards=[requires("contacts.write")],
        status_code=200,
    )
    async def apply(self, data: JSONBody[TaggingIn], actor: NamedDependency[Actor]) -> TaggingOut:
        return TaggingOut(changed=await add_tags(data.contact_ids, data.tags, actor))

    @post(
        "/unapply",
        summary="Take a tag off many contacts",
        guards=[requires("contacts.write")],
        status_code=200,
    )
    async def unapply(
        self, data: JSONBody[UntaggingIn], actor: NamedDependency[Actor]
    ) -> TaggingOut:
        return TaggingOut(changed=await remove_tag(data.contact_ids, data.tag, actor))
