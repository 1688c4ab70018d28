"""Outgoing webhooks: subscriptions, signed deliveries retried with back-off, an attempt log.

Every delivery is a POST of a JSON body::

    {"id": <event id>, "event": "contact.created", "created_at": "…", "data": {…}}

with these headers, so a receiver can check it came from this CRM and is fresh:

* ``X-CRM-Event``: the event name;
* ``X-CRM-Delivery``: the delivery's id (the same on every retry of one delivery);
* ``X-CRM-Timestamp``: Unix seconds when this attempt was signed;
* ``X-CRM-Signature``: ``sha256=`` + hex HMAC-SHA256, keyed with the webhook's secret, of
  ``"{timestamp}.{body}"`` (the exact body bytes). Receivers recompute it, compare in
  constant time, and reject timestamps older than a few minutes (see ``verify_signature``).

Inbound webhooks (``/api/v1/inbound/{source}``) are signed the same way.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import secrets
import time
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import httpx

from crmcore.automation_app.tables import Webhook, WebhookAttempt, WebhookDelivery
from crmcore.errors import NotFound, ValidationError
from crmcore.jobs import JobContext, clock
from crmcore.services.actor import Actor
from crmcore.services.audit import jsonable, record_audit
from crmcore.services.transaction import write_transaction
from crmcore.tables import OutboxEvent

EVENT_HEADER = "X-CRM-Event"
DELIVERY_HEADER = "X-CRM-Delivery"
TIMESTAMP_HEADER = "X-CRM-Timestamp"
SIGNATURE_HEADER = "X-CRM-Signature"
DELIVERY_JOB = "automation.deliver_webhook"
DELIVERY_TIMEOUT_S = 10.0
SIGNATURE_TOLERANCE_S = 300


class DeliveryFailed(Exception):
    """The receiver did not answer 2xx; the job retries with back-off."""


# --------------------------------------------------------------------------- signatures


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-CRM-Signature`` value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: datetime | None = None,
    tolerance_s: int = SIGNATURE_TOLERANCE_S,
) -> bool:
    """True when ``signature`` is ours for ``body`` and ``timestamp`` is recent enough."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    current = (now or clock.now()).timestamp()
    if abs(current - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


# --------------------------------------------------------------------------- subscriptions


def matches(patterns: list[str], event: str) -> bool:
    """``contact.*`` matches ``contact.created``; ``*`` matches everything."""
    return any(fnmatch.fnmatchcase(event, pattern) for pattern in patterns)


def check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError.for_field("url", "must be an http:// or https:// URL")
    if len(url) > 2000:
        raise ValidationError.for_field("url", "must be at most 2000 characters")
    return url


def _check_events(events: list[str] | str) -> list[str]:
    if isinstance(events, str):
        events = [e for e in (part.strip() for part in events.split(",")) if e]
    if not events or not all(isinstance(e, str) and e.strip() for e in events):
        raise ValidationError.for_field(
            "events", "name at least one event or pattern, e.g. 'contact.*' or '*'"
        )
    return [e.strip() for e in events]


def _public(row: dict[str, Any]) -> dict[str, Any]:
    events = row["events"]
    return {
        "id": row["id"],
        "url": row["url"],
        "events": json.loads(events) if isinstance(events, str) else events,
        "description": row["description"],
        "active": bool(row["active"]),
        "created_at": row["created_at"],
    }


async def add_webhook(
    url: str,
    events: list[str] | str,
    actor: Actor,
    *,
    secret: str | None = None,
    description: str = "",
) -> dict[str, Any]:
    """Subscribe ``url`` to events; returns the webhook with its ``secret`` (shown once)."""
    url, patterns = check_url(url), _check_events(events)
    secret = secret or new_secret()
    if len(secret) < 16:
        raise ValidationError.for_field("secret", "must be at least 16 characters")
    async with write_transaction():
        rows = await Webhook.insert(
            Webhook(
                url=url,
                events=patterns,
                secret=secret,
                description=description,
                active=True,
                created_at=clock.now(),
                created_by=actor.user_id,
            )
        )
        webhook = await get_webhook(rows[0]["id"])
        await record_audit(
            table="automation_webhook",
            record_id=webhook["id"],
            action="create",
            changes={"url": [None, url], "events": [None, patterns]},
            actor=actor,
            plugin="automation",
        )
    return {**webhook, "secret": secret}


async def get_webhook(webhook_id: int) -> dict[str, Any]:
    row = await Webhook.select().where(Webhook.id == webhook_id).first()
    if row is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return _public(row)


async def list_webhooks() -> list[dict[str, Any]]:
    return [_public(row) for row in await Webhook.select().order_by(Webhook.id)]


async def remove_webhook(webhook_id: int, actor: Actor) -> None:
    """Delete a subscription with its delivery log; queued deliveries find nothing to do."""
    async with write_transaction():
        webhook = await get_webhook(webhook_id)
        await Webhook.delete().where(Webhook.id == webhook_id)
        await record_audit(
            table="automation_webhook",
            record_id=webhook_id,
            action="delete",
            changes={"url": [webhook["url"], None]},
            actor=actor,
            plugin="automation",
        )


async def active_webhooks() -> list[dict[str, Any]]:
    """Id and event patterns of every active subscription (what the dispatcher matches)."""
    return (
        await Webhook.select(Webhook.id, Webhook.events)
        .where(Webhook.active.eq(True))
        .output(load_json=True)
    )


# --------------------------------------------------------------------------- deliveries


async def create_deliveries(event_id: int, event: str, webhooks: list[dict[str, Any]]) -> int:
    """Inside the dispatch transaction: one delivery and one job per matching webhook."""
    from crmcore.jobs import enqueue

    created = 0
    for webhook in webhooks:
        if not matches(webhook["events"], event):
            continue
        uid = str(uuid.uuid4())
        rows = await WebhookDelivery.insert(
            WebhookDelivery(
                uid=uid,
                webhook=webhook["id"],
                event_id=event_id,
                event=event,
                status="pending",
                created_at=clock.now(),
            )
        )
        await enqueue(DELIVERY_JOB, {"delivery_id": rows[0]["id"]}, key=f"webhook:{uid}")
        created += 1
    return created


def event_body(event: dict[str, Any]) -> bytes:
    """The JSON body of an event as every webhook receives it."""
    payload = event["payload"]
    if isinstance(payload, str):
        payload = json.loads(payload)
    created = event["created_at"]
    document = {
        "id": event["id"],
        "event": event["event"],
        "created_at": created.isoformat() if isinstance(created, datetime) else created,
        "data": jsonable(payload),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str).encode()


async def post_signed(
    url: str, secret: str, body: bytes, headers: dict[str, str]
) -> tuple[int | None, str]:
    """POST ``body`` signed with ``secret``; returns (status code or None, error text)."""
    timestamp = str(int(clock.now().timestamp()))
    all_headers = {
        "Content-Type": "application/json",
        "User-Agent": "crmcore-webhooks",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        **headers,
    }
    try:
        async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_S, follow_redirects=False) as client:
            response = await client.post(url, content=body, headers=all_headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:1000]
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code}: {response.text[:300]}"


async def deliver_webhook(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Job: send one delivery once; a non-2xx answer or a timeout raises so the job retries."""
    delivery = (
        await WebhookDelivery.select(
            WebhookDelivery.all_columns(),
            WebhookDelivery.webhook.url.as_alias("url"),
            WebhookDelivery.webhook.secret.as_alias("secret"),
        )
        .where(WebhookDelivery.id == int(payload["delivery_id"]))
        .first()
    )
    if delivery is None or delivery["status"] == "delivered":
        return {"skipped": True}
    event = await OutboxEvent.select().where(OutboxEvent.id == delivery["event_id"]).first()
    body = event_body(
        event
        or {
            "id": delivery["event_id"],
            "event": delivery["event"],
            "payload": {},
            "created_at": None,
        }
    )
    headers = {EVENT_HEADER: delivery["event"], DELIVERY_HEADER: delivery["uid"]}
    started = time.perf_counter()
    code, error = await post_signed(delivery["url"], delivery["secret"], body, headers)
    duration_ms = int((time.perf_counter() - started) * 1000)
    ok = not error
    attempt = delivery["attempts"] + 1
    status = "delivered" if ok else ("failed" if ctx.last_attempt else "pending")
    async with write_transaction():
        await WebhookAttempt.insert(
            WebhookAttempt(
                delivery=delivery["id"],
                attempt=attempt,
                at=clock.now(),
                ok=ok,
                response_code=code,
                duration_ms=duration_ms,
                error=error,
            )
        )
        await WebhookDelivery.update(
            {
                WebhookDelivery.attempts: attempt,
                WebhookDelivery.status: status,
                WebhookDelivery.last_response_code: code,
                WebhookDelivery.last_error: error,
                WebhookDelivery.delivered_at: clock.now() if ok else None,
            }
        ).where(WebhookDelivery.id == delivery["id"])
    if not ok:
        raise DeliveryFailed(f"delivery {delivery['uid']} to {delivery['url']}: {error}")
    return {"status_code": code, "attempt": attempt}


async def list_deliveries(
    webhook_id: int | None = None, *, limit: int = 50, with_attempts: bool = True
) -> list[dict[str, Any]]:
    """Newest deliveries first, each with its attempts (oldest first)."""
    query = WebhookDelivery.select().order_by(WebhookDelivery.id, ascending=False).limit(limit)
    if webhook_id is not None:
        query = query.where(WebhookDelivery.webhook == webhook_id)
    deliveries = [
        {
            "id": row["id"],
            "uid": row["uid"],
            "webhook_id": row["webhook"],
            "event_id": row["event_id"],
            "event": row["event"],
            "status": row["status"],
            "attempts": row["attempts"],
            "last_response_code": row["last_response_code"],
            "last_error": row["last_error"],
            "created_at": row["created_at"],
            "delivered_at": row["delivered_at"],
        }
        for row in await query
    ]
    if with_attempts and deliveries:
        ids = [d["id"] for d in deliveries]
        attempts = (
            await WebhookAttempt.select()
            .where(WebhookAttempt.delivery.is_in(ids))
            .order_by(WebhookAttempt.id)
        )
        by_delivery: dict[int, list[dict[str, Any]]] = {}
        for row in attempts:
            by_delivery.setdefault(row["delivery"], []).append(
                {
                    "attempt": row["attempt"],
                    "at": row["at"],
                    "ok": bool(row["ok"]),
                    "response_code": row["response_code"],
                    "duration_ms": row["duration_ms"],
                    "error": row["error"],
                }
            )
        for delivery in deliveries:
            delivery["attempt_log"] = by_delivery.get(delivery["id"], [])
    return deliveries
