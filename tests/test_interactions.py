"""Interactions: one door (service, API, CLI), idempotent ingestion, hooks, scope, paging."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from crmcore.errors import Conflict, NotFound, ValidationError
from crmcore.hookspecs import hookimpl
from crmcore.services.actor import SYSTEM, Actor
from crmcore.services.contacts import create_contact, list_contacts
from crmcore.services.interactions import (
    delete_interaction,
    get_interaction,
    list_interactions,
    log_interaction,
    update_interaction,
)
from crmcore.tables import AuditLog, Interaction, OutboxEvent

# Marked at collection time so anyio parametrizes together with pytest.mark.parametrize.
pytestmark = pytest.mark.anyio


@pytest.fixture
async def contact(crm_db: Any) -> dict[str, Any]:
    return await create_contact(
        {"first_name": "Maryam", "last_name": "Karimi", "company": "Pars Trading"}, SYSTEM
    )


def agent(user: dict[str, Any]) -> Actor:
    return Actor(
        user_id=user["id"],
        label=user["email"],
        permissions=frozenset({"contacts.read", "interactions.write"}),
        record_scope="own",
    )


async def test_posting_the_same_external_interaction_twice_stores_one_row_and_answers_409(
    crm_client, contact
):
    body = {
        "contact_id": contact["id"],
        "channel": "purchase",
        "value": "1250000",
        "currency": "IRR",
        "source": "shop",
        "external_id": "order-1001",
        "subject": "Order 1001",
    }
    first = await crm_client.post("/api/v1/interactions", json=body)
    assert first.status_code == 201, first.text
    second = await crm_client.post("/api/v1/interactions", json={**body, "subject": "replay"})
    assert second.status_code == 409
    assert "order-1001" in second.json()["detail"]
    assert str(first.json()["id"]) in second.json()["detail"]
    rows = await Interaction.select().where(Interaction.external_id == "order-1001")
    assert [r["subject"] for r in rows] == ["Order 1001"]
    # The same external id from another system is a different interaction.
    other = await crm_client.post("/api/v1/interactions", json={**body, "source": "pos"})
    assert other.status_code == 201


async def test_service_raises_conflict_for_a_replayed_external_id(contact):
    data = {"contact_id": contact["id"], "channel": "email", "source": "gmail", "external_id": "m1"}
    await log_interaction(data, SYSTEM)
    with pytest.raises(Conflict):
        await log_interaction(data, SYSTEM)
    assert await Interaction.count().where(Interaction.source == "gmail") == 1


async def test_concurrent_posts_of_one_external_interaction_store_it_once(contact):
    import asyncio

    data = {"contact_id": contact["id"], "channel": "sms", "source": "gateway", "external_id": "s9"}
    results = await asyncio.gather(
        *[log_interaction(data, SYSTEM) for _ in range(4)], return_exceptions=True
    )
    stored = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert (len(stored), len(refused)) == (1, 3), results
    assert await Interaction.count().where(Interaction.external_id == "s9") == 1


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"channel": "fax"}, "channel", "must be one of"),
        ({"channel": "purchase"}, "value", "required for a purchase"),
        ({"channel": "purchase", "value": "10"}, "currency", "required with a value"),
        ({"channel": "purchase", "value": "10", "currency": "XYZ"}, "currency", "ISO 4217"),
        ({"channel": "purchase", "value": "1.005", "currency": "USD"}, "value", "2 decimal"),
        ({"channel": "email", "external_id": "x"}, "source", "required with external_id"),
    ],
)
async def test_api_rejects_invalid_interactions_with_field_messages(
    crm_client, contact, body, field, fragment
):
    response = await crm_client.post(
        "/api/v1/interactions", json={"contact_id": contact["id"], **body}
    )
    assert response.status_code == 422, response.text
    assert fragment in response.json()["errors"][field]
    assert await Interaction.count() == 0


async def test_malformed_json_types_are_a_400_naming_the_field(crm_client, contact):
    response = await crm_client.post(
        "/api/v1/interactions",
        json={"contact_id": contact["id"], "channel": "note", "occurred_at": "yesterday"},
    )
    assert response.status_code == 400
    assert response.json()["extra"][0]["key"] == "occurred_at"
    with pytest.raises(ValidationError) as raised:
        await log_interaction(
            {"contact_id": contact["id"], "channel": "note", "occurred_at": "yesterday"}, SYSTEM
        )
    assert "ISO 8601" in raised.value.errors["occurred_at"]


async def test_the_service_and_the_api_give_the_same_message(crm_client, contact):
    bad = {"contact_id": contact["id"], "channel": "purchase", "value": "5", "currency": "ABC"}
    with pytest.raises(ValidationError) as raised:
        await log_interaction(bad, SYSTEM)
    response = await crm_client.post("/api/v1/interactions", json=bad)
    assert response.json()["errors"] == raised.value.errors


async def test_an_interaction_needs_a_contact_or_a_company_that_exists(contact):
    with pytest.raises(ValidationError) as raised:
        await log_interaction({"channel": "note"}, SYSTEM)
    assert "contact_id" in raised.value.errors
    with pytest.raises(ValidationError) as raised:
        await log_interaction({"channel": "note", "contact_id": contact["id"] + 99}, SYSTEM)
    assert raised.value.errors["contact_id"].startswith("no contact")


async def test_company_defaults_to_the_contacts_company_and_author_is_the_actor(
    crm_client, crm_user, contact
):
    response = await crm_client.post(
        "/api/v1/interactions",
        json={"contact_id": contact["id"], "channel": "phone", "direction": "inbound"},
    )
    item = response.json()
    assert item["company_id"] == contact["company_id"] is not None
    assert item["author_id"] == crm_user["id"]
    assert item["direction"] == "inbound"


async def test_purchase_value_round_trips_as_a_decimal_string(crm_client, contact):
    response = await crm_client.post(
        "/api/v1/interactions",
        json={"contact_id": contact["id"], "channel": "purchase", "value": 19.9, "currency": "usd"},
    )
    assert response.json()["value"] == "19.90"
    assert response.json()["currency"] == "USD"
    stored = await get_interaction(response.json()["id"], SYSTEM)
    assert stored["value"] == Decimal("19.90")


async def test_logging_records_audit_outbox_event_and_fires_the_hook_after_commit(
    register_test_plugin, contact
):
    seen: list[tuple[int, bool]] = []

    class Listener:
        @hookimpl
        async def interaction_logged(self, interaction, actor):
            # After commit: the row is already visible outside the write transaction.
            stored = await Interaction.exists().where(Interaction.id == interaction["id"])
            seen.append((interaction["id"], stored))

    register_test_plugin(Listener(), "listener")
    item = await log_interaction({"contact_id": contact["id"], "channel": "meeting"}, SYSTEM)
    assert seen == [(item["id"], True)]
    events = (
        await OutboxEvent.select()
        .where(OutboxEvent.event == "interaction.logged")
        .output(load_json=True)
    )
    assert [e["payload"]["id"] for e in events] == [item["id"]]
    audit = await AuditLog.select().where(
        (AuditLog.table_name == "interaction") & (AuditLog.record_id == item["id"])
    )
    assert [a["action"] for a in audit] == ["create"]


async def test_a_failing_hook_does_not_lose_the_interaction(register_test_plugin, contact, caplog):
    class Broken:
        @hookimpl
        def interaction_logged(self, interaction, actor):
            raise RuntimeError("listener down")

    register_test_plugin(Broken(), "broken")
    item = await log_interaction({"contact_id": contact["id"], "channel": "sms"}, SYSTEM)
    assert (await get_interaction(item["id"], SYSTEM))["channel"] == "sms"
    assert "broken" in caplog.text


async def test_patch_changes_fields_and_delete_removes_the_interaction(crm_client, contact):
    created = (
        await crm_client.post(
            "/api/v1/interactions",
            json={"contact_id": contact["id"], "channel": "email", "subject": "Quote"},
        )
    ).json()
    url = f"/api/v1/interactions/{created['id']}"
    patched = await crm_client.patch(url, json={"subject": "Quote v2", "body": "Revised"})
    assert patched.status_code == 200
    assert (patched.json()["subject"], patched.json()["body"]) == ("Quote v2", "Revised")
    assert patched.json()["channel"] == "email"
    bad = await crm_client.patch(url, json={"channel": "purchase"})
    assert bad.status_code == 422
    assert "value" in bad.json()["errors"]
    assert (await crm_client.delete(url)).status_code == 204
    assert (await crm_client.get(url)).status_code == 404


async def test_changing_external_id_onto_a_stored_one_is_a_conflict(contact):
    base = {"contact_id": contact["id"], "channel": "chat", "source": "chatbox"}
    await log_interaction({**base, "external_id": "a"}, SYSTEM)
    second = await log_interaction({**base, "external_id": "b"}, SYSTEM)
    with pytest.raises(Conflict):
        await update_interaction(second["id"], {"external_id": "a"}, SYSTEM)


async def test_listing_pages_through_every_interaction_exactly_once_newest_first(contact):
    for day in range(1, 13):
        await log_interaction(
            {
                "contact_id": contact["id"],
                "channel": "phone",
                "subject": f"call {day}",
                "occurred_at": f"2025-01-{day:02d}T09:00:00+03:30",
            },
            SYSTEM,
        )
    seen: list[str] = []
    page = await list_interactions(SYSTEM, contact_id=contact["id"], limit=5)
    while True:
        seen += [item["subject"] for item in page.items]
        if page.next is None:
            break
        # An interaction logged while paging never shifts the pages already read.
        await log_interaction({"contact_id": contact["id"], "channel": "note"}, SYSTEM)
        page = await list_interactions(
            SYSTEM, contact_id=contact["id"], limit=5, cursor=page.next, channel="phone"
        )
    assert seen == [f"call {day}" for day in range(12, 0, -1)]


async def test_a_bad_cursor_is_a_422_on_cursor(crm_client):
    response = await crm_client.get("/api/v1/interactions", params={"cursor": "not-ours"})
    assert response.status_code == 422
    assert "cursor" in response.json()["errors"]


async def test_agents_see_interactions_on_their_own_contacts_only(crm_db):
    from crmcore.services.users import create_user

    alice = await create_user(email="alice@example.com", password="a-long-password-1", role="agent")
    bob = await create_user(email="bob@example.com", password="a-long-password-2", role="agent")
    mine = await create_contact({"first_name": "Reza", "owner_id": alice["id"]}, SYSTEM)
    theirs = await create_contact({"first_name": "Sam", "owner_id": bob["id"]}, SYSTEM)
    visible = await log_interaction({"contact_id": mine["id"], "channel": "email"}, SYSTEM)
    hidden = await log_interaction({"contact_id": theirs["id"], "channel": "email"}, SYSTEM)

    page = await list_interactions(agent(alice))
    assert [item["id"] for item in page.items] == [visible["id"]]
    with pytest.raises(NotFound):
        await get_interaction(hidden["id"], agent(alice))
    with pytest.raises(NotFound):
        await delete_interaction(hidden["id"], agent(alice))
    from crmcore.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        await log_interaction({"contact_id": theirs["id"], "channel": "note"}, agent(alice))


async def test_a_logged_note_makes_its_contact_findable_by_the_notes_words(contact):
    await log_interaction(
        {"contact_id": contact["id"], "channel": "note", "body": "Wants the turquoise model"},
        SYSTEM,
    )
    found = await list_contacts(SYSTEM, q="turquoise")
    assert [c["id"] for c in found.items] == [contact["id"]]


@pytest.fixture
def instance_with_a_contact(crm_settings, crm_pm, _crm_template_dir) -> dict[str, Any]:
    """A migrated instance holding one contact (for CLI tests, which run their own loop)."""
    from crmcore.testing.databases import open_test_database
    from crmcore.testing.plugin import run_sync

    async def prepare() -> dict[str, Any]:
        db = await open_test_database(crm_settings.database_url, crm_pm, _crm_template_dir)
        try:
            return await create_contact({"first_name": "Kaveh", "company": "Alborz Co"}, SYSTEM)
        finally:
            await db.close()

    return run_sync(prepare())


def test_cli_logs_an_interaction_once_per_external_id(crm_cli, instance_with_a_contact):
    import json

    contact_id = str(instance_with_a_contact["id"])
    args = ("interactions", "log", "--contact", contact_id, "--channel", "phone")
    logged = crm_cli(*args, "--subject", "Called", "--source", "pbx", "--external-id", "c-1",
                     "--json")  # fmt: skip
    assert logged.exit_code == 0, logged.output
    item = json.loads(logged.output)
    assert (item["subject"], item["company_id"]) == (
        "Called",
        instance_with_a_contact["company_id"],
    )
    again = crm_cli(*args, "--source", "pbx", "--external-id", "c-1")
    assert again.exit_code == 1
    assert "already stored" in again.output
    purchase = crm_cli("interactions", "log", "--contact", contact_id, "--channel", "purchase")
    assert purchase.exit_code == 1
    assert "value: is required for a purchase" in purchase.output
