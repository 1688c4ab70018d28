"""REST API for interactions: ``/api/v1/interactions``.

Handlers translate HTTP to :mod:`crmcore.services.interactions` and back; every rule lives
in the service, so the API, the pages and the CLI reject the same input with the same
message. Posting an interaction whose ``source`` + ``external_id`` is already stored
answers 409 and stores nothing (see the service's docstring for why).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from crmcore.services.actor import Actor
from crmcore.services.interactions import (
    delete_interaction,
    get_interaction,
    list_interactions,
    log_interaction,
    update_interaction,
)

__all__ = [
    "InteractionController",
    "InteractionIn",
    "InteractionOut",
    "InteractionPage",
    "InteractionPatch",
    "interaction_out",
]

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class InteractionIn(msgspec.Struct, forbid_unknown_fields=True):
    """A touchpoint to record. ``value`` and ``currency`` go together (required for a
    purchase); ``source`` + ``external_id`` make ingestion idempotent (a repeat is a 409)."""

    channel: str
    contact_id: int | None = None
    company_id: int | None = None
    direction: str | None = None
    occurred_at: datetime | None = None
    subject: str = ""
    body: str = ""
    value: Decimal | None = None
    currency: str | None = None
    source: str | None = None
    external_id: str | None = None
    meta: dict[str, Any] = msgspec.field(default_factory=dict)


class InteractionPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Fields to change; absent fields stay as they are, ``null`` clears where allowed.
    ``due_at`` and ``assignee_id`` reschedule or reassign a task."""

    channel: str | Unset = UNSET
    contact_id: int | None | Unset = UNSET
    company_id: int | None | Unset = UNSET
    direction: str | Unset = UNSET
    occurred_at: datetime | Unset = UNSET
    subject: str | Unset = UNSET
    body: str | Unset = UNSET
    value: Decimal | None | Unset = UNSET
    currency: str | None | Unset = UNSET
    source: str | None | Unset = UNSET
    external_id: str | None | Unset = UNSET
    meta: dict[str, Any] | Unset = UNSET
    due_at: datetime | Unset = UNSET
    assignee_id: int | Unset = UNSET


class InteractionOut(msgspec.Struct):
    """An interaction, or a task when ``status`` is set (then ``due_at`` and ``assignee_id``
    say when and who; ``completed_at``/``completed_by_id`` record its completion)."""

    id: int
    channel: str
    direction: str
    occurred_at: datetime
    subject: str
    body: str
    contact_id: int | None
    company_id: int | None
    value: Decimal | None
    currency: str | None
    source: str | None
    external_id: str | None
    author_id: int | None
    meta: dict[str, Any]
    status: str | None
    due_at: datetime | None
    assignee_id: int | None
    completed_at: datetime | None
    completed_by_id: int | None
    created_at: datetime


class InteractionPage(msgspec.Struct):
    items: list[InteractionOut]
    next: str | None


def interaction_out(item: dict[str, Any]) -> InteractionOut:
    return msgspec.convert(item, InteractionOut, from_attributes=True)


def struct_fields(data: msgspec.Struct) -> dict[str, Any]:
    """The fields a client actually sent (UNSET ones dropped)."""
    return {k: v for k, v in msgspec.structs.asdict(data).items() if v is not UNSET}


class InteractionController(Controller):
    path = "/interactions"
    tags = ["interactions"]

    @post("/", summary="Log an interaction")
    async def create(
        self, data: JSONBody[InteractionIn], actor: NamedDependency[Actor]
    ) -> InteractionOut:
        """Record a touchpoint. Field problems answer 422 with ``errors`` per field.

        **Idempotent ingestion:** with ``source`` and ``external_id`` an interaction from
        another system is stored once. Posting it again answers **409 Conflict** (the
        detail names the stored interaction) and changes nothing, so a sender retrying
        after a timeout can treat 409 as "already delivered".
        """
        return interaction_out(await log_interaction(struct_fields(data), actor))

    @get("/", summary="List interactions, newest first (keyset pagination)")
    async def index(
        self,
        actor: NamedDependency[Actor],
        contact_id: FromQuery[int | None] = None,
        company_id: FromQuery[int | None] = None,
        channel: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 50,
    ) -> InteractionPage:
        page = await list_interactions(
            actor,
            contact_id=contact_id,
            company_id=company_id,
            channel=channel,
            cursor=cursor,
            limit=limit,
        )
        return InteractionPage(items=[interaction_out(i) for i in page.items], next=page.next)

    @get("/{interaction_id:int}", summary="One interaction or task")
    async def show(
        self, interaction_id: FromPath[int], actor: NamedDependency[Actor]
    ) -> InteractionOut:
        return interaction_out(await get_interaction(interaction_id, actor))

    @patch("/{interaction_id:int}", summary="Change an interaction")
    async def update(
        self,
        interaction_id: FromPath[int],
        data: JSONBody[InteractionPatch],
        actor: NamedDependency[Actor],
    ) -> InteractionOut:
        item = await update_interaction(interaction_id, struct_fields(data), actor)
        return interaction_out(item)

    @delete("/{interaction_id:int}", summary="Delete an interaction or task")
    async def remove(self, interaction_id: FromPath[int], actor: NamedDependency[Actor]) -> None:
        await delete_interaction(interaction_id, actor)
