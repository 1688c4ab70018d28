"""Merging contacts: every interaction, task, tag, address and plugin row moves to the
survivor, in one transaction that a failing plugin aborts as a whole."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crmcore.errors import NotFound, ValidationError
from crmcore.hookspecs import hookimpl
from crmcore.services.actor import SYSTEM
from crmcore.services.audit import list_audit
from crmcore.services.contacts import contact_dicts, create_contact, stage_history
from crmcore.services.interactions import log_interaction
from crmcore.services.merge import MergeError, merge_contacts
from crmcore.services.tasks import create_task
from crmcore.tables import Contact, Interaction, OutboxEvent
from tests.plugins import notes_plugin
from tests.plugins.notes_plugin import Note

pytestmark = pytest.mark.anyio


@pytest.fixture
async def notes(crm_db: Any, crm_pm: Any, register_test_plugin: Any) -> Any:
    """The notes test plugin, registered and with its table in the test database."""
    register_test_plugin(notes_plugin, "notes")
    await notes_plugin.create_tables()
    return notes_plugin


async def two_people() -> tuple[dict[str, Any], dict[str, Any]]:
    survivor = await create_contact(
        {
            "first_name": "Ali",
            "last_name": "Rezaei",
            "email": "ali@example.com",
            "phone": "09121234567",
            "company": "Pars",
            "tags": ["VIP"],
            "stage": "lead",
        },
        SYSTEM,
    )
    merged = await create_contact(
        {
            "first_name": "Ali",
            "last_name": "Rezaei Jr",
            "emails": ["a.rezaei@work.example", "ali@example.com"],
            "phone": "09351112233",
            "city": "Tabriz",
            "tags": ["Tabriz", "vip"],
            "stage": "customer",
        },
        SYSTEM,
    )
    return survivor, merged


async def log_history(contact_id: int, assignee_id: int) -> None:
    for channel in ("email", "phone", "note"):
        await log_interaction(
            {"channel": channel, "contact_id": contact_id, "subject": f"{channel} {contact_id}"},
            SYSTEM,
        )
    await create_task(
        {
            "subject": f"call back {contact_id}",
            "contact_id": contact_id,
            "due_at": datetime.now(UTC) + timedelta(days=1),
            "assignee_id": assignee_id,
        },
        SYSTEM,
    )


async def test_merge_moves_everything_to_the_survivor(
    notes: Any, crm_client: Any, crm_user: Any
) -> None:
    survivor, merged = await two_people()
    await log_history(survivor["id"], crm_user["id"])
    await log_history(merged["id"], crm_user["id"])
    await notes.add_note(survivor["id"], "likes tea")
    await notes.add_note(merged["id"], "prefers calls in the morning")
    await notes.add_note(merged["id"], "met at the fair")

    response = await crm_client.post(
        "/api/v1/contacts/merge",
        json={
            "survivor_id": survivor["id"],
            "merged_id": merged["id"],
            "fields": {"email": "merged", "last_name": "survivor", "stage": "merged"},
        },
    )
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["id"] == survivor["id"]
    assert after["emails"] == ["a.rezaei@work.example", "ali@example.com"]
    assert after["phones"] == ["+989121234567", "+989351112233"]
    assert after["last_name"] == "Rezaei"
    assert after["city"] == "Tabriz"  # empty on the survivor: filled from the merged
    assert after["stage"] == "customer"
    assert sorted(after["tags"], key=str.lower) == ["Tabriz", "VIP"]

    assert await Contact.count().where(Contact.id == merged["id"]) == 0
    moved = await Interaction.select(Interaction.contact, Interaction.status)
    assert len(moved) == 8 and {r["contact"] for r in moved} == {survivor["id"]}
    assert sum(1 for r in moved if r["status"] == "planned") == 2
    texts = await Note.select(Note.contact, Note.text).order_by(Note.id)
    assert [(r["contact"], r["text"]) for r in texts] == [
        (survivor["id"], "likes tea"),
        (survivor["id"], "prefers calls in the morning"),
        (survivor["id"], "met at the fair"),
    ]
    stages = [s["to_stage"] for s in await stage_history(survivor["id"], SYSTEM)]
    assert stages.count("customer") == 2 and stages[0] == "lead"

    entries = await list_audit(SYSTEM, table="contact")
    merges = {e["record_id"]: e for e in entries if e["action"] == "merge"}
    assert set(merges) == {survivor["id"], merged["id"]}
    assert merges[merged["id"]]["changes"]["merged_into"] == [None, survivor["id"]]
    assert merges[merged["id"]]["changes"]["city"] == ["Tabriz", None]  # its last state kept
    [event] = await OutboxEvent.select().where(OutboxEvent.event == "contact.merged")
    payload = event["payload"]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    assert (payload["survivor_id"], payload["merged_id"]) == (survivor["id"], merged["id"])
    assert payload["moved"]["interaction"] == 4

    missing = await crm_client.get(f"/api/v1/contacts/{merged['id']}")
    assert missing.status_code == 404
    found = await crm_client.get("/api/v1/contacts", params={"q": "a.rezaei@work.example"})
    assert [c["id"] for c in found.json()["items"]] == [survivor["id"]]


async def test_a_plugin_that_cannot_move_its_rows_aborts_the_whole_merge(
    notes: Any, register_test_plugin: Any, crm_user: Any
) -> None:
    class Stubborn:
        @hookimpl
        def contact_merged(self, survivor_id: int, merged_id: int, actor: Any) -> None:
            raise RuntimeError("disk full")

    register_test_plugin(Stubborn(), "stubborn")
    survivor, merged = await two_people()
    await log_history(merged["id"], crm_user["id"])
    await notes.add_note(merged["id"], "keep me")
    with pytest.raises(MergeError, match="disk full"):
        await merge_contacts(survivor["id"], merged["id"], SYSTEM)
    contacts = await contact_dicts([survivor["id"], merged["id"]])
    assert contacts[merged["id"]] == merged | {"updated_at": contacts[merged["id"]]["updated_at"]}
    assert contacts[survivor["id"]]["emails"] == ["ali@example.com"]
    assert await Interaction.count().where(Interaction.contact == merged["id"]) == 4
    assert await Note.count().where(Note.contact == merged["id"]) == 1
    assert [e for e in await list_audit(SYSTEM) if e["action"] == "merge"] == []


async def test_merge_refuses_what_it_cannot_do(crm_db: Any) -> None:
    survivor, merged = await two_people()
    with pytest.raises(ValidationError):
        await merge_contacts(survivor["id"], survivor["id"], SYSTEM)
    with pytest.raises(ValidationError) as bad:
        await merge_contacts(survivor["id"], merged["id"], SYSTEM, {"nickname": "merged"})
    assert "fields.nickname" in bad.value.errors
    with pytest.raises(ValidationError):
        await merge_contacts(survivor["id"], merged["id"], SYSTEM, {"email": "both"})
    with pytest.raises(NotFound):
        await merge_contacts(survivor["id"], 999_999, SYSTEM)
    assert await Contact.count() == 2


async def test_merge_api_answers_422_404_and_403(crm_client: Any, crm_app: Any) -> None:
    survivor, merged = await two_people()
    same = await crm_client.post(
        "/api/v1/contacts/merge", json={"survivor_id": survivor["id"], "merged_id": survivor["id"]}
    )
    assert same.status_code == 422
    gone = await crm_client.post(
        "/api/v1/contacts/merge", json={"survivor_id": survivor["id"], "merged_id": 424242}
    )
    assert gone.status_code == 404
    from crmcore.testing.plugin import make_client
    from tests.auth_support import make_user

    viewer = await make_user("viewer")
    async with await make_client(crm_app, viewer) as client:
        denied = await client.post(
            "/api/v1/contacts/merge",
            json={"survivor_id": survivor["id"], "merged_id": merged["id"]},
        )
        assert denied.status_code == 403


def test_cli_merge(crm_cli: Any) -> None:
    assert crm_cli("db", "migrate").exit_code == 0
    first = json.loads(
        crm_cli(
            "contacts", "add", "--json", "--first-name", "Cli", "--email", "cli-merge@example.com"
        ).output
    )
    second = json.loads(
        crm_cli("contacts", "add", "--json", "--first-name", "Cli", "--phone", "09187776655").output
    )
    result = crm_cli("contacts", "merge", str(first["id"]), str(second["id"]), "--json")
    assert result.exit_code == 0, result.output
    merged = json.loads(result.output)
    assert merged["emails"] == ["cli-merge@example.com"]
    assert merged["phones"] == ["+989187776655"]
    again = crm_cli("contacts", "merge", str(first["id"]), str(second["id"]))
    assert again.exit_code != 0
    assert "does not exist" in again.output
