"""REST API for outgoing webhooks: ``/api/v1/webhooks`` (permission ``automation.manage``)."""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from crmcore.auth.guards import requires
from crmcore.services.actor import Actor
from crmcore.services.webhooks import add_webhook, get_webhook, list_deliveries, list_webhooks

__all__ = ["WebhookController"]


class WebhookIn(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    events: list[str]
    secret: str | None = None
    description: str = ""


class WebhookOut(msgspec.Struct):
    id: int
    url: str
    events: list[str]
    description: str
    active: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    """Returned once, on creation: keep ``secret`` to verify ``X-CRM-Signature``."""

    secret: str


class AttemptOut(msgspec.Struct):
    attempt: int
    at: datetime
    ok: bool
    response_code: int | None
    duration_ms: int
    error: str


class DeliveryOut(msgspec.Struct):
    id: int
    uid: str
    webhook_id: int
    event_id: int
    event: str
    status: str
    attempts: int
    last_response_code: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[AttemptOut]


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]
    guards = [requires("automation.manage")]

    @get("/", summary="Webhook subscriptions (secrets are never shown again)")
    async def index(self, actor: NamedDependency[Actor]) -> list[WebhookOut]:
        return [msgspec.convert(w, WebhookOut) for w in await list_webhooks()]

    @post("/", summary="Subscribe a URL to events ('contact.*', '*'); returns the secret once")
    async def create(
        self, data: JSONBody[WebhookIn], actor: NamedDependency[Actor]
    ) -> WebhookCreated:
        webhook = await add_webhook(
            data.url, data.events, actor, secret=data.secret, description=data.description
        )
        return msgspec.convert(webhook, WebhookCreated)

    @delete("/{webhook_id:int}", summary="Remove a subscription and its delivery log")
    async def remove(self, webhook_id: FromPath[int], actor: NamedDependency[Actor]) -> None:
        from crmcore.services.webhooks import remove_webhook

        await remove_webhook(webhook_id, actor)

    @get("/{webhook_id:int}/deliveries", summary="Recent deliveries with every attempt")
    async def deliveries(
        self, webhook_id: FromPath[int], actor: NamedDependency[Actor], limit: FromQuery[int] = 50
    ) -> list[DeliveryOut]:
        await get_webhook(webhook_id)
        rows = await list_deliveries(webhook_id, limit=max(1, min(limit, 500)))
        return [msgspec.convert(row, DeliveryOut) for row in rows]

    @get("/events", summary="Event names the core and the enabled plugins emit")
    async def events(self, actor: NamedDependency[Actor]) -> list[str]:
        from crmcore.services.context import current_pm
        from crmcore.services.events import known_event_types

        return known_event_types(current_pm())
