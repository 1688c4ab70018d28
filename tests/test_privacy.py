"""Privacy requests: one JSON export of everything stored about a person, and an erasure
after which no table of the core or of any plugin holds their email, phone or name."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from http_receiver import Receiver

from crmcore.errors import PermissionDenied
from crmcore.hookspecs import hookimpl
from crmcore.jobs import clock, registry_for
from crmcore.jobs.embedded import EmbeddedRunner
from crmcore.services.actor import SYSTEM, Actor
from crmcore.services.automation import create_rule
from crmcore.services.contacts import create_contact, get_contact, update_contact
from crmcore.services.events import dispatch_events
from crmcore.services.interactions import log_interaction
from crmcore.services.privacy import erase_contact, export_contact
from crmcore.services.tasks import create_task
from crmcore.services.webhooks import add_webhook
from crmcore.tables import AuditLog, Contact, OutboxEvent

pytestmark = pytest.mark.crm_plugins("*")

PERSON = {
    "first_name": "Xerxanthe",
    "last_name": "Quillworth",
    "email": "xerx.quill@example.org",
    "phone": "+98 912 555 0199",
    "city": "Shiraz",
    "country": "IR",
    "title": "Head of Quillworth Imports",
}
TRACES = ("xerxanthe", "quillworth", "xerx.quill@example.org", "9125550199")


class Vault:
    """A test plugin that stores notes about contacts and honours privacy requests."""

    def __init__(self) -> None:
        self.notes: dict[int, list[str]] = {}
        self.erased: list[int] = []
        self.fail_erase = False

    @hookimpl
    def export_contact_data(self, contact_id: int) -> dict[str, Any]:
        return {"notes": self.notes.get(contact_id, [])}

    @hookimpl
    async def erase_contact_data(self, contact_id: int) -> None:
        if self.fail_erase:
            raise RuntimeError("vault is read-only today")
        self.notes.pop(contact_id, None)
        self.erased.append(contact_id)


@pytest.fixture
def vault(register_test_plugin: Any) -> Vault:
    plugin = Vault()
    register_test_plugin(plugin, "vault")
    return plugin


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver(statuses=[500]).start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def person(crm_db: Any, crm_pm: Any, crm_user: Any, vault: Vault, receiver: Receiver):
    """A person the CRM knows well: tags, stages, interactions, a task, a rule run, a
    webhook delivery, a plugin's notes; and somebody else who must stay untouched."""
    await add_webhook(receiver.url, ["*"], SYSTEM)
    await create_rule(
        {
            "name": "Tag customers",
            "trigger": {"event": "contact.stage_changed", "match": {"to": "customer"}},
            "actions": [{"action": "add_tag", "tag": "customer"}],
        },
        SYSTEM,
    )
    contact = await create_contact({**PERSON, "owner_id": crm_user["id"], "tags": ["vip"]}, SYSTEM)
    await update_contact(contact["id"], {"stage": "customer", "title": "Founder"}, SYSTEM)
    await log_interaction(
        {
            "channel": "email",
            "contact_id": contact["id"],
            "subject": "Hello Xerxanthe",
            "body": "Spoke with Xerxanthe Quillworth (xerx.quill@example.org) about renewal.",
        },
        SYSTEM,
    )
    await create_task(
        {
            "subject": "Call Xerxanthe Quillworth back",
            "due_at": clock.now() + timedelta(days=2),
            "contact_id": contact["id"],
            "assignee_id": crm_user["id"],
        },
        SYSTEM,
    )
    vault.notes[contact["id"]] = ["prefers calls after 4pm"]
    await _store_in_plugins(contact["id"])
    other = await create_contact(
        {"first_name": "Someone", "last_name": "Else", "email": "else@example.com"}, SYSTEM
    )
    await dispatch_events()
    await EmbeddedRunner(registry_for(crm_pm), schedule=False).run_until_idle()
    return {"contact": contact, "other": other}


async def _store_in_plugins(contact_id: int) -> None:
    """The first-party plugins' own tables hold the person too: HR copies the name onto
    an employee record, geo keeps a labelled location, marketing queues a send to the
    address (each through the plugin's own service, so its audit rows and events exist)."""
    from crm_geo.locations import save_location
    from crm_hr.employees import create_employee
    from crm_marketing import campaigns, segments, templates_store

    await create_employee(
        {
            "employee_number": "E-PRIV-1",
            "first_name": PERSON["first_name"],
            "last_name": PERSON["last_name"],
            "contact_id": contact_id,
        },
        SYSTEM,
    )
    await save_location(
        SYSTEM,
        lat=29.61,
        lon=52.53,
        source="manual",
        label=f"{PERSON['last_name']} Imports warehouse",
        contact_id=contact_id,
    )
    await segments.create_segment("vips", {"filter": "tag", "value": "vip"}, SYSTEM)
    await templates_store.create_template(
        {"name": "privacy-news", "subject": "News", "text": "Hello {{ contact.first_name }}"},
        SYSTEM,
    )
    campaign = await campaigns.create_campaign(
        {"name": "News", "segment": "vips", "template": "privacy-news"}, SYSTEM
    )
    assert (await campaigns.start_campaign(campaign["id"], SYSTEM))["queued"] == 1


async def dump_tables(db: Any) -> dict[str, str]:
    """Every value of every row of every table (core, plugins, indexes), lower-cased, by
    table."""
    if db.is_sqlite:
        tables = await Contact.raw("SELECT name FROM sqlite_master WHERE type = 'table'")
        names = [row["name"] for row in tables]
    else:
        tables = await Contact.raw(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
        names = [row["tablename"] for row in tables]
    assert {"contact", "audit_log", "outbox_event", "automation_job"} <= set(names)
    assert any(name.startswith("geo_") for name in names), "plugin tables are included"
    dump: dict[str, str] = {}
    for name in names:
        chunks: list[str] = []
        for row in await Contact.raw(f'SELECT * FROM "{name}"'):
            for value in row.values():
                if isinstance(value, bytes | bytearray | memoryview):
                    chunks.append(bytes(value).decode("utf-8", "ignore"))
                elif isinstance(value, dict | list):
                    chunks.append(json.dumps(value, ensure_ascii=False))
                elif value is not None:
                    text = str(value)
                    chunks.append(text)
                    if "\\u" in text:
                        chunks.append(text.encode().decode("unicode_escape", "ignore"))
        dump[name] = "\n".join(chunks).lower()
    return dump


async def dump_database(db: Any) -> str:
    """The whole dump as one text."""
    return "\n".join((await dump_tables(db)).values())


async def test_export_is_one_document_with_core_and_plugin_data(person, vault):
    contact = person["contact"]
    document = await export_contact(contact["id"], SYSTEM)
    json.dumps(document)  # one JSON document
    core = document["core"]
    assert core["contact"]["email"] == PERSON["email"]
    assert core["contact"]["phones"] == ["+989125550199"]
    assert sorted(core["contact"]["tags"]) == ["customer", "vip"]
    assert [s["to_stage"] for s in core["stage_history"]] == ["lead", "customer"]
    assert [i["channel"] for i in core["interactions"]].count("email") == 1
    assert any(i["status"] == "planned" for i in core["interactions"])
    assert {entry["table"] for entry in core["audit"]} == {"contact", "interaction"}
    assert [run["status"] for run in core["automation_runs"]] == ["done"]
    assert document["plugins"]["vault"] == {"notes": ["prefers calls after 4pm"]}
    assert "geo" in document["plugins"]
    other = await export_contact(person["other"]["id"], SYSTEM)
    assert PERSON["email"] not in json.dumps(other)


async def test_erase_leaves_no_trace_in_any_table(person, vault, crm_db):
    contact = person["contact"]
    tables = await dump_tables(crm_db)
    before = "\n".join(tables.values())
    assert all(trace in before for trace in TRACES), "the fixture stores the person"
    holding = {name for name, text in tables.items() if any(t in text for t in TRACES)}
    assert {"hr_employee", "geo_location", "marketing_send"} <= holding, "plugins store it"

    summary = await erase_contact(contact["id"], SYSTEM)

    after = await dump_database(crm_db)
    for trace in TRACES:
        assert trace not in after, f"{trace!r} survived the erasure"
    assert vault.erased == [contact["id"]]
    assert summary["plugins"] and "vault" in summary["plugins"]
    assert summary["interactions"] == 2 and summary["audit_rows_scrubbed"] >= 4
    [entry] = await AuditLog.select().where(AuditLog.action == "erase").output(load_json=True)
    assert entry["table_name"] == "contact" and entry["record_id"] == contact["id"]
    erased_event = await OutboxEvent.select().where(OutboxEvent.event == "contact.erased").first()
    assert json.loads(erased_event["payload"]) == {"id": contact["id"]}
    kept = await get_contact(person["other"]["id"], SYSTEM)
    assert kept["email"] == "else@example.com"
    assert "else@example.com" in after and "someone" in after


async def test_a_failing_plugin_erasure_erases_nothing(person, vault):
    vault.fail_erase = True
    with pytest.raises(RuntimeError, match="read-only"):
        await erase_contact(person["contact"]["id"], SYSTEM)
    assert (await get_contact(person["contact"]["id"], SYSTEM))["email"] == PERSON["email"]
    assert await AuditLog.count().where(AuditLog.action == "erase") == 0


async def test_privacy_needs_its_permission(person):
    clerk = Actor(user_id=None, label="clerk", permissions=frozenset({"contacts.read"}))
    with pytest.raises(PermissionDenied):
        await export_contact(person["contact"]["id"], clerk)
    with pytest.raises(PermissionDenied):
        await erase_contact(person["contact"]["id"], clerk)


async def test_privacy_api(crm_client, crm_app, person):
    from crmcore.services.users import create_user
    from crmcore.testing.plugin import make_client

    contact_id = person["contact"]["id"]
    viewer = await create_user(
        email="viewer@example.com", password="a long password 123", role="viewer"
    )
    url = f"/api/v1/privacy/contacts/{contact_id}"
    async with await make_client(crm_app, viewer) as client:
        assert (await client.get(f"{url}/export")).status_code == 403
    exported = await crm_client.get(f"{url}/export")
    assert exported.status_code == 200
    assert exported.json()["core"]["contact"]["email"] == PERSON["email"]
    erased = await crm_client.post(f"{url}/erase")
    assert erased.status_code == 200 and erased.json()["contact_id"] == contact_id
    assert (await crm_client.get(f"/api/v1/contacts/{contact_id}")).status_code == 404
    again = await crm_client.post(f"{url}/erase")
    assert again.status_code == 404


def test_privacy_cli_export_then_erase(crm_cli, crm_settings, tmp_path):
    import asyncio

    from crmcore.db.runtime import open_database
    from crmcore.plugins import get_plugin_manager

    assert crm_cli("db", "migrate").exit_code == 0

    async def add_person() -> int:
        db = await open_database(crm_settings.database_url, get_plugin_manager(crm_settings))
        try:
            contact = await create_contact(
                {"first_name": "Cliora", "email": "cliora.privacy@example.net"}, SYSTEM
            )
            return int(contact["id"])
        finally:
            await db.close()

    contact_id = asyncio.run(add_person())
    target = tmp_path / "export.json"
    exported = crm_cli("privacy", "export", str(contact_id), "-o", str(target))
    assert exported.exit_code == 0, exported.output
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["core"]["contact"]["email"] == "cliora.privacy@example.net"
    assert set(document) >= {"format", "exported_at", "core", "plugins"}
    printed = json.loads(crm_cli("privacy", "export", str(contact_id)).output)
    assert printed["contact_id"] == contact_id

    unconfirmed = crm_cli("privacy", "erase", str(contact_id))
    assert unconfirmed.exit_code != 0 and "--yes" in unconfirmed.output
    erased = crm_cli("privacy", "erase", str(contact_id), "--yes")
    assert erased.exit_code == 0, erased.output
    assert f"Erased contact {contact_id}" in erased.output
    gone = crm_cli("privacy", "export", str(contact_id))
    assert gone.exit_code == 1 and "not found" in gone.output


class TitleGuard:
    """A test plugin restricting a contact field and an interaction field."""

    @hookimpl
    def register_permissions(self) -> list[Any]:
        from crmcore.permissions import Permission

        restricts = (("contact", "title"), ("interaction", "body"))
        return [Permission("guard.view_title", "See titles and bodies", restricts=restricts)]


@pytest.fixture
def title_guard(register_test_plugin: Any) -> None:
    register_test_plugin(TitleGuard(), "guard")


async def test_export_leaves_out_what_the_requester_may_not_read(
    title_guard, crm_app, crm_client, person
):
    from crmcore.services.roles import create_role
    from crmcore.services.users import create_user
    from crmcore.testing.plugin import make_client

    await create_role(name="dpo", permissions=["privacy.manage"])
    officer = await create_user(email="dpo@example.com", password="a long password 123", role="dpo")
    url = f"/api/v1/privacy/contacts/{person['contact']['id']}/export"
    async with await make_client(crm_app, officer) as client:
        limited = await client.get(url)
    assert limited.status_code == 200, limited.text
    assert limited.json()["core"]["contact"]["email"] == PERSON["email"]
    for value in ("Founder", PERSON["title"], "about renewal"):
        assert value not in limited.text
    assert {"contact.title", "interaction.body"} <= set(limited.json()["withheld"])
    full = await crm_client.get(url)
    assert full.json()["core"]["contact"]["title"] == "Founder"
    assert "about renewal" in full.text and full.json()["withheld"] == []
