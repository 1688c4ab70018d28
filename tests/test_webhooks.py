"""Outgoing webhooks: every event reaches a real HTTP receiver, signed; failures retried with
back-off (the clock is moved, nothing sleeps) and every attempt logged."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from http_receiver import Receiver

from crmcore.hookspecs import hookimpl
from crmcore.jobs import registry_for
from crmcore.jobs.clock import frozen_clock
from crmcore.jobs.embedded import EmbeddedRunner
from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact, update_contact
from crmcore.services.events import dispatch_events
from crmcore.services.interactions import log_interaction
from crmcore.services.webhooks import (
    add_webhook,
    list_deliveries,
    list_webhooks,
    remove_webhook,
    sign,
    verify_signature,
)
from crmcore.tables import OutboxEvent


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def runner(crm_db: Any, crm_pm: Any) -> EmbeddedRunner:
    return EmbeddedRunner(registry_for(crm_pm), schedule=False)


async def deliver_all(runner: EmbeddedRunner) -> None:
    await dispatch_events()
    await runner.run_until_idle()


def assert_signed(request: Any, secret: str) -> None:
    """Check the signature the way docs/automation.md tells receivers to (own HMAC, not
    ours), then with our helper."""
    headers = request.headers
    message = headers["x-crm-timestamp"].encode() + b"." + request.body
    expected = "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-crm-signature"], expected)
    assert sign(secret, headers["x-crm-timestamp"], request.body) == expected
    assert verify_signature(
        secret, headers["x-crm-timestamp"], headers["x-crm-signature"], request.body
    )
    assert not verify_signature(
        "another secret", headers["x-crm-timestamp"], headers["x-crm-signature"], request.body
    )


async def test_every_event_reaches_the_receiver_signed(runner, receiver):
    hook = await add_webhook(receiver.url, ["*"], SYSTEM)
    contact = await create_contact({"first_name": "Sara", "email": "sara@example.com"}, SYSTEM)
    await update_contact(contact["id"], {"stage": "customer"}, SYSTEM)
    await log_interaction({"channel": "phone", "contact_id": contact["id"]}, SYSTEM)
    await deliver_all(runner)

    events = await OutboxEvent.select(OutboxEvent.id, OutboxEvent.event).order_by(OutboxEvent.id)
    received = [json.loads(r.body) for r in receiver.requests]
    assert [(e["id"], e["event"]) for e in received] == [(e["id"], e["event"]) for e in events]
    assert {"contact.created", "contact.stage_changed", "interaction.logged"} <= {
        e["event"] for e in events
    }
    for request, body in zip(receiver.requests, received, strict=True):
        assert request.method == "POST" and request.path == "/hook"
        assert request.headers["x-crm-event"] == body["event"]
        assert request.headers["x-crm-delivery"]
        assert_signed(request, hook["secret"])
    stage = next(b for b in received if b["event"] == "contact.stage_changed")
    assert stage["data"] == {"id": contact["id"], "from": "lead", "to": "customer"}
    assert await OutboxEvent.count().where(OutboxEvent.dispatched_at.is_null()) == 0


async def test_three_failures_then_success_logs_four_attempts(runner, receiver):
    receiver.statuses = [500, 500, 500]
    hook = await add_webhook(receiver.url, ["contact.created"], SYSTEM)
    with frozen_clock() as clock:
        await create_contact({"first_name": "Reza"}, SYSTEM)
        await deliver_all(runner)
        for wait in (30, 60, 120):
            clock.advance(seconds=wait - 1)
            await runner.run_until_idle()
            clock.advance(seconds=1)
            await runner.run_until_idle()
    assert len(receiver.requests) == 4
    uids = {r.headers["x-crm-delivery"] for r in receiver.requests}
    assert len(uids) == 1, "retries keep the delivery id"
    for request in receiver.requests:
        assert_signed(request, hook["secret"])
    [delivery] = await list_deliveries(hook["id"])
    assert delivery["status"] == "delivered" and delivery["attempts"] == 4
    log = delivery["attempt_log"]
    assert [a["attempt"] for a in log] == [1, 2, 3, 4]
    assert [a["response_code"] for a in log] == [500, 500, 500, 200]
    assert [a["ok"] for a in log] == [False, False, False, True]
    assert all(a["duration_ms"] >= 0 for a in log)
    assert "HTTP 500" in log[0]["error"] and log[3]["error"] == ""


async def test_unreachable_receiver_ends_failed_after_the_last_attempt(runner, receiver):
    hook = await add_webhook(receiver.url, ["*"], SYSTEM)
    await receiver.stop()
    with frozen_clock() as clock:
        await create_contact({"first_name": "Nobody home"}, SYSTEM)
        await deliver_all(runner)
        for _ in range(8):
            clock.advance(hours=6)
            await runner.run_until_idle()
    [delivery] = await list_deliveries(hook["id"])
    assert delivery["status"] == "failed" and delivery["attempts"] == 7
    assert all(a["response_code"] is None and a["error"] for a in delivery["attempt_log"])


async def test_event_of_a_rolled_back_change_is_never_sent(runner, receiver):
    from crmcore.services.transaction import write_transaction
    from crmcore.tables import Contact

    await add_webhook(receiver.url, ["*"], SYSTEM)
    with pytest.raises(RuntimeError, match="abandon"):
        async with write_transaction():
            await create_contact({"first_name": "Never"}, SYSTEM)
            assert await OutboxEvent.count() == 1, "written with the change"
            raise RuntimeError("abandon the change")
    assert await Contact.count() == 0 and await OutboxEvent.count() == 0
    await deliver_all(runner)
    assert receiver.requests == []


async def test_patterns_choose_the_events(runner, receiver):
    await add_webhook(receiver.url, "contact.*", SYSTEM)
    contact = await create_contact({"first_name": "Ali"}, SYSTEM)
    await log_interaction({"channel": "note", "contact_id": contact["id"]}, SYSTEM)
    await deliver_all(runner)
    assert [r.headers["x-crm-event"] for r in receiver.requests] == ["contact.created"]


async def test_event_emitted_hook_sees_each_event_after_dispatch(runner, register_test_plugin):
    seen: list[tuple[str, dict[str, Any]]] = []

    class Listener:
        @hookimpl
        def event_emitted(self, event: str, payload: dict[str, Any]) -> None:
            seen.append((event, payload))

    register_test_plugin(Listener(), "listener")
    contact = await create_contact({"first_name": "Mina"}, SYSTEM)
    assert seen == []
    await dispatch_events()
    assert [(e, p["id"]) for e, p in seen] == [("contact.created", contact["id"])]


async def test_signature_check_rejects_tampering_and_stale_timestamps():
    body = b'{"id":1}'
    with frozen_clock() as clock:
        stamp = str(int(clock.current.timestamp()))
        signature = sign("s3cret-s3cret-s3cret", stamp, body)
        assert verify_signature("s3cret-s3cret-s3cret", stamp, signature, body)
        assert not verify_signature("s3cret-s3cret-s3cret", stamp, signature, b'{"id":2}')
        clock.advance(minutes=6)
        assert not verify_signature("s3cret-s3cret-s3cret", stamp, signature, body)


async def test_removed_webhook_gets_nothing_more(runner, receiver):
    hook = await add_webhook(receiver.url, ["*"], SYSTEM)
    await create_contact({"first_name": "Nima"}, SYSTEM)
    await dispatch_events()
    await remove_webhook(hook["id"], SYSTEM)
    await runner.run_until_idle()
    assert receiver.requests == []
    assert await list_webhooks() == []


async def test_webhook_api(crm_client, receiver):
    created = await crm_client.post(
        "/api/v1/webhooks", json={"url": receiver.url, "events": ["contact.*"]}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert len(body["secret"]) >= 32 and body["events"] == ["contact.*"]
    listed = (await crm_client.get("/api/v1/webhooks")).json()
    assert [w["id"] for w in listed] == [body["id"]] and "secret" not in listed[0]
    bad = await crm_client.post("/api/v1/webhooks", json={"url": "ftp://x", "events": ["*"]})
    assert bad.status_code == 422 and "url" in bad.json()["errors"]
    deliveries = await crm_client.get(f"/api/v1/webhooks/{body['id']}/deliveries")
    assert deliveries.status_code == 200 and deliveries.json() == []
    assert (await crm_client.delete(f"/api/v1/webhooks/{body['id']}")).status_code == 204
    assert (await crm_client.get(f"/api/v1/webhooks/{body['id']}/deliveries")).status_code == 404


async def test_webhook_api_needs_automation_permission(crm_app, crm_db):
    from crmcore.services.users import create_user
    from crmcore.testing.plugin import make_client

    viewer = await create_user(email="v@example.com", password="a long password 123", role="viewer")
    async with await make_client(crm_app, viewer) as client:
        assert (await client.get("/api/v1/webhooks")).status_code == 403
    async with await make_client(crm_app) as anonymous:
        assert (await anonymous.get("/api/v1/webhooks")).status_code == 401


def test_webhooks_cli_add_list_remove(crm_cli):
    assert crm_cli("db", "migrate").exit_code == 0
    url = "https://example.com/hook-cli"
    added = crm_cli("webhooks", "add", url, "--events", "contact.*")
    assert added.exit_code == 0, added.output
    assert "secret:" in added.output.lower()
    listed = json.loads(crm_cli("webhooks", "list", "--json").output)
    [hook] = [h for h in listed if h["url"] == url]
    assert hook["events"] == ["contact.*"] and "secret" not in hook
    assert crm_cli("webhooks", "remove", str(hook["id"])).exit_code == 0
    listed = json.loads(crm_cli("webhooks", "list", "--json").output)
    assert all(h["url"] != url for h in listed)
    bad = crm_cli("webhooks", "add", "not a url", "--events", "*")
    assert bad.exit_code == 2 and "url" in bad.output
    assert crm_cli("webhooks", "remove", "999999").exit_code == 1


# --------------------------------------------------------------------------- inbound


def signed(secret: str, document: dict[str, Any], *, age_s: int = 0) -> dict[str, Any]:
    """Headers and body of a post signed the way our receivers expect."""
    from crmcore.jobs import clock

    body = json.dumps(document).encode()
    stamp = str(int(clock.now().timestamp()) - age_s)
    return {
        "content": body,
        "headers": {
            "Content-Type": "application/json",
            "X-CRM-Timestamp": stamp,
            "X-CRM-Signature": sign(secret, stamp, body),
        },
    }


async def test_inbound_post_stores_an_interaction_once(crm_anon_client):
    from crmcore.services.contacts import find_contacts_by_point
    from crmcore.services.inbound import add_inbound_source
    from crmcore.tables import Interaction

    source = await add_inbound_source("call-centre", SYSTEM)
    call = {
        "external_id": "call-8812",
        "channel": "phone",
        "direction": "inbound",
        "subject": "Asked about delivery",
        "contact": {"first_name": "Parisa", "phone": "0912 345 6789"},
    }
    first = await crm_anon_client.post(
        "/api/v1/inbound/call-centre", **signed(source["secret"], call)
    )
    assert first.status_code == 201, first.text
    assert first.json()["duplicate"] is False
    again = await crm_anon_client.post(
        "/api/v1/inbound/call-centre", **signed(source["secret"], call)
    )
    assert again.status_code == 200
    assert again.json() == {"id": first.json()["id"], "duplicate": True}
    stored = await Interaction.select().where(Interaction.source == "call-centre")
    assert len(stored) == 1 and stored[0]["external_id"] == "call-8812"
    [contact_id] = await find_contacts_by_point("phone", "+989123456789")
    assert stored[0]["contact"] == contact_id

    second_call = {**call, "external_id": "call-8813", "contact": {"phone": "+98 912 345 6789"}}
    response = await crm_anon_client.post(
        "/api/v1/inbound/call-centre", **signed(source["secret"], second_call)
    )
    assert response.status_code == 201
    assert await find_contacts_by_point("phone", "09123456789") == [contact_id]


async def test_inbound_post_needs_a_valid_fresh_signature(crm_anon_client):
    from crmcore.services.inbound import add_inbound_source

    source = await add_inbound_source("erp", SYSTEM)
    post = {"external_id": "inv-1", "channel": "purchase", "contact_id": 1}
    url = "/api/v1/inbound/erp"
    forged = signed("not-the-secret-at-all", post)
    assert (await crm_anon_client.post(url, **forged)).status_code == 401
    stale = signed(source["secret"], post, age_s=3600)
    assert (await crm_anon_client.post(url, **stale)).status_code == 401
    unsigned = await crm_anon_client.post(url, json=post)
    assert unsigned.status_code == 401 and "X-CRM-Signature" in unsigned.json()["detail"]
    unknown = await crm_anon_client.post("/api/v1/inbound/nobody", **signed(source["secret"], post))
    assert unknown.status_code == 401
    missing = await crm_anon_client.post(url, **signed(source["secret"], {"channel": "note"}))
    assert missing.status_code == 422 and "external_id" in missing.json()["errors"]


def test_inbound_sources_cli(crm_cli):
    assert crm_cli("db", "migrate").exit_code == 0
    added = crm_cli("webhooks", "inbound-add", "shop-cli")
    assert added.exit_code == 0, added.output
    assert "/api/v1/inbound/shop-cli" in added.output and "Secret: " in added.output
    assert "shop-cli" in crm_cli("webhooks", "inbound-list").output
    assert crm_cli("webhooks", "inbound-add", "shop-cli").exit_code == 1
    assert crm_cli("webhooks", "inbound-add", "Bad Name").exit_code == 2
    assert crm_cli("webhooks", "inbound-remove", "shop-cli").exit_code == 0
    assert "shop-cli" not in crm_cli("webhooks", "inbound-list").output
