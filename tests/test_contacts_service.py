"""Contacts through the service: normalisation, history, audit, events, hooks, scope."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crmcore.errors import NotFound, PermissionDenied, ValidationError
from crmcore.hookspecs import hookimpl
from crmcore.services.actor import SYSTEM, Actor
from crmcore.services.audit import list_audit
from crmcore.services.contacts import (
    create_contact,
    delete_contact,
    find_contacts_by_point,
    get_contact,
    list_contacts,
    stage_history,
    update_contact,
)
from crmcore.tables import Company, Contact, ContactPoint, OutboxEvent, StageChange

# Marked at collection time so anyio parametrizes together with pytest.mark.parametrize.
pytestmark = pytest.mark.anyio


async def test_create_normalises_emails_and_phones_and_keeps_them_all(crm_db: Any) -> None:
    contact = await create_contact(
        {
            "first_name": "Maryam",
            "last_name": "Karimi",
            "emails": ["Maryam.Karimi@Example.COM", "m.karimi@work.example"],
            "phone": "0912 123 4567",
            "company": "Pars Trading",
            "tags": ["VIP", "vip", "Tehran"],
            "stage": "prospect",
        },
        SYSTEM,
    )
    assert contact["email"] == "maryam.karimi@example.com"
    assert contact["emails"] == ["maryam.karimi@example.com", "m.karimi@work.example"]
    assert contact["phone"] == "+989121234567"
    assert contact["phones"] == ["+989121234567"]
    assert contact["name"] == "Maryam Karimi"
    assert contact["company_name"] == "Pars Trading"
    assert contact["tags"] == ["Tehran", "VIP"]
    assert contact["stage"] == "prospect"
    assert contact["created_at"].endswith("+00:00")
    assert await ContactPoint.count().where(ContactPoint.contact == contact["id"]) == 3
    assert await Company.count() == 1
    assert await get_contact(contact["id"], SYSTEM) == contact


async def test_phone_is_read_in_the_contacts_country(crm_db: Any) -> None:
    contact = await create_contact(
        {"first_name": "Hans", "country": "de", "phone": "030 1234567"}, SYSTEM
    )
    assert contact["country"] == "DE"
    assert contact["phone"] == "+49301234567"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"first_name": "A", "email": "not-an-email"}, "email"),
        ({"first_name": "A", "email": "a@b"}, "email"),
        ({"first_name": "A", "phone": "12"}, "phone"),
        ({"first_name": "A", "phone": "call me"}, "phone"),
        ({"first_name": "A", "stage": "vip"}, "stage"),
        ({"first_name": "A", "birthday": "21/04/1990"}, "birthday"),
        ({"first_name": "A", "nickname": "x"}, "nickname"),
        ({}, "first_name"),
    ],
)
async def test_invalid_input_is_refused_and_nothing_is_stored(
    crm_db: Any, data: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        await create_contact(data, SYSTEM)
    assert field in caught.value.errors
    assert await Contact.count() == 0


async def test_update_records_field_level_before_and_after_in_the_audit(crm_db: Any) -> None:
    contact = await create_contact({"first_name": "Reza", "email": "reza@old.example"}, SYSTEM)
    updated = await update_contact(contact["id"], {"email": "Reza@New.Example"}, SYSTEM)
    assert updated["emails"] == ["reza@new.example"]
    entries = await list_audit(SYSTEM, table="contact", record_id=contact["id"])
    assert [e["action"] for e in entries] == ["update", "create"]
    assert entries[0]["changes"] == {
        "emails": [["reza@old.example"], ["reza@new.example"]],
    }
    assert await find_contacts_by_point("email", "REZA@new.example") == [contact["id"]]
    assert await find_contacts_by_point("email", "reza@old.example") == []


async def test_an_update_that_changes_nothing_writes_nothing(crm_db: Any) -> None:
    contact = await create_contact({"first_name": "Sara", "phone": "+98 912 000 1111"}, SYSTEM)
    same = await update_contact(contact["id"], {"phone": "09120001111"}, SYSTEM)
    assert same == contact
    assert len(await list_audit(SYSTEM, table="contact", record_id=contact["id"])) == 1


async def test_stage_changes_keep_history_and_emit_an_event(crm_db: Any) -> None:
    contact = await create_contact({"first_name": "Ali"}, SYSTEM)
    await update_contact(contact["id"], {"stage": "prospect"}, SYSTEM)
    await update_contact(contact["id"], {"stage": "customer"}, SYSTEM)
    history = await stage_history(contact["id"], SYSTEM)
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [
        (None, "lead"),
        ("lead", "prospect"),
        ("prospect", "customer"),
    ]
    events = await OutboxEvent.select().order_by(OutboxEvent.id)
    names = [e["event"] for e in events]
    assert names == [
        "contact.created",
        "contact.updated",
        "contact.stage_changed",
        "contact.updated",
        "contact.stage_changed",
    ]
    payload = events[-1]["payload"]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    assert payload == {"id": contact["id"], "from": "prospect", "to": "customer"}


async def test_emails_list_update_and_primary_replacement(crm_db: Any) -> None:
    contact = await create_contact(
        {"first_name": "Nima", "emails": ["a@x.example", "b@x.example"]}, SYSTEM
    )
    replaced = await update_contact(contact["id"], {"email": "c@x.example"}, SYSTEM)
    assert replaced["emails"] == ["c@x.example", "b@x.example"]
    listed = await update_contact(contact["id"], {"emails": ["b@x.example"]}, SYSTEM)
    assert listed["emails"] == ["b@x.example"]
    assert listed["email"] == "b@x.example"
    cleared = await update_contact(contact["id"], {"emails": []}, SYSTEM)
    assert cleared["email"] is None and cleared["emails"] == []


async def test_delete_removes_the_contact_and_its_points(crm_db: Any) -> None:
    contact = await create_contact({"first_name": "Leila", "email": "leila@example.com"}, SYSTEM)
    await delete_contact(contact["id"], SYSTEM)
    with pytest.raises(NotFound):
        await get_contact(contact["id"], SYSTEM)
    assert await ContactPoint.count() == 0
    assert await StageChange.count() == 0
    entries = await list_audit(SYSTEM, table="contact", record_id=contact["id"])
    assert entries[0]["action"] == "delete"
    assert entries[0]["changes"]["emails"] == [["leila@example.com"], None]


async def test_record_scope_own_sees_only_owned_contacts(crm_db: Any, crm_user: Any) -> None:
    seller = Actor(
        user_id=crm_user["id"],
        label=crm_user["email"],
        permissions=frozenset({"contacts.read", "contacts.write"}),
        record_scope="own",
    )
    mine = await create_contact({"first_name": "Mine"}, seller)
    other = await create_contact({"first_name": "Other"}, SYSTEM)
    assert mine["owner_id"] == crm_user["id"]
    assert other["owner_id"] is None
    page = await list_contacts(seller)
    assert [c["id"] for c in page.items] == [mine["id"]]
    with pytest.raises(NotFound):
        await get_contact(other["id"], seller)
    with pytest.raises(NotFound):
        await update_contact(other["id"], {"first_name": "Taken"}, seller)
    with pytest.raises(PermissionDenied):
        await delete_contact(mine["id"], seller)


class RejectingPlugin:
    """Refuses contacts from a blocked domain, as a compliance plugin might."""

    @hookimpl
    def validate_contact(self, data: dict[str, Any], existing: Any) -> None:
        if any(e.endswith("@blocked.example") for e in data["emails"]):
            raise ValidationError.for_field("email", "addresses at blocked.example are refused")


async def test_a_plugin_veto_stores_nothing(crm_db: Any, register_test_plugin: Any) -> None:
    register_test_plugin(RejectingPlugin(), "rejecting")
    with pytest.raises(ValidationError, match="blocked.example are refused"):
        await create_contact({"first_name": "X", "email": "x@blocked.example"}, SYSTEM)
    assert await Contact.count() == 0
    assert await OutboxEvent.count() == 0
    kept = await create_contact({"first_name": "Y", "email": "y@ok.example"}, SYSTEM)
    with pytest.raises(ValidationError):
        await update_contact(kept["id"], {"email": "y@blocked.example"}, SYSTEM)
    assert (await get_contact(kept["id"], SYSTEM))["email"] == "y@ok.example"


class Recorder:
    def __init__(self) -> None:
        self.saved: list[tuple[int, bool, dict[str, Any]]] = []
        self.deleted: list[int] = []

    @hookimpl
    async def contact_saved(self, contact: Any, created: bool, changes: Any, actor: Any) -> None:
        # Runs after commit: the row must be readable from outside the transaction.
        assert await Contact.exists().where(Contact.id == contact["id"])
        self.saved.append((contact["id"], created, changes))

    @hookimpl
    def contact_deleted(self, contact: Any, actor: Any) -> None:
        self.deleted.append(contact["id"])


async def test_saved_and_deleted_hooks_run_after_commit(
    crm_db: Any, register_test_plugin: Any
) -> None:
    recorder = Recorder()
    register_test_plugin(recorder, "recorder")
    contact = await create_contact({"first_name": "Hooked"}, SYSTEM)
    await update_contact(contact["id"], {"last_name": "Up"}, SYSTEM)
    await delete_contact(contact["id"], SYSTEM)
    assert recorder.saved == [
        (contact["id"], True, {}),
        (contact["id"], False, {"last_name": ("", "Up")}),
    ]
    assert recorder.deleted == [contact["id"]]


class Exploding:
    @hookimpl
    def contact_saved(self, contact: Any, created: bool, changes: Any, actor: Any) -> None:
        raise RuntimeError("the CRM sync endpoint is down")


async def test_a_failing_after_commit_hook_does_not_lose_the_write(
    crm_db: Any, register_test_plugin: Any, caplog: pytest.LogCaptureFixture
) -> None:
    register_test_plugin(Exploding(), "exploding")
    contact = await create_contact({"first_name": "Survivor"}, SYSTEM)
    assert (await get_contact(contact["id"], SYSTEM))["first_name"] == "Survivor"
    assert "exploding" in caplog.text


async def test_company_by_name_is_reused_case_insensitively(crm_db: Any) -> None:
    first = await create_contact({"first_name": "A", "company": "Pars Trading"}, SYSTEM)
    second = await create_contact({"first_name": "B", "company": "pars trading"}, SYSTEM)
    assert first["company_id"] == second["company_id"]
    moved = await update_contact(second["id"], {"company": "Kish Air"}, SYSTEM)
    assert moved["company_name"] == "Kish Air"
    assert moved["company_id"] != first["company_id"]
    dropped = await update_contact(second["id"], {"company_id": None}, SYSTEM)
    assert dropped["company_id"] is None and dropped["company_name"] is None
