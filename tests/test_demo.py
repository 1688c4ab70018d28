"""``crm demo``: realistic Persian and English demo data, written through the bulk paths."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crmcore.demo import DemoRefused, generate_demo
from crmcore.hookspecs import hookimpl
from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import list_contacts
from crmcore.services.records import fetch
from crmcore.tables import CHANNELS, Contact, ContactPoint, CustomField, Interaction, User

pytestmark = pytest.mark.anyio

PERSIAN = re.compile(r"[\u0600-\u06FF]")


async def test_demo_creates_persian_and_english_contacts_with_two_years_of_history(crm_db):
    started = datetime.now(UTC)
    report = await generate_demo(80, seed=7)
    assert report.contacts == await Contact.count() == 80
    contacts = await Contact.select().order_by(Contact.id)
    persian = [c for c in contacts if PERSIAN.search(c["first_name"] + c["last_name"])]
    english = [c for c in contacts if c["first_name"].isascii() and c["last_name"].isascii()]
    assert len(persian) == len(english) == 40
    assert all(c["phone"] is None or c["phone"].startswith("+989") for c in persian)
    assert all(c["phone"] is None or c["phone"].startswith("+1") for c in english)
    assert {c["country"] for c in persian} == {"IR"} and {c["country"] for c in english} == {"US"}
    assert all(PERSIAN.search(c["city"]) for c in persian)
    reserved = ("@example.com", "@example.net", "@example.org")
    assert all(c["email"] is None or c["email"].endswith(reserved) for c in contacts)
    points = await ContactPoint.count()
    assert points == sum(bool(c["email"]) + bool(c["phone"]) for c in contacts)

    history = await Interaction.select().where(Interaction.status.is_null())
    assert report.interactions == len(history) >= 80
    two_years_ago = started - timedelta(days=731)
    assert all(two_years_ago <= i["occurred_at"] <= datetime.now(UTC) for i in history)
    assert {i["channel"] for i in history} == set(CHANNELS)
    purchases = [i for i in history if i["channel"] == "purchase"]
    assert purchases and all(i["value"] and i["currency"] in ("IRR", "USD") for i in purchases)
    by_id = {c["id"]: c for c in contacts}
    for purchase in purchases:
        expected = "IRR" if by_id[purchase["contact"]]["country"] == "IR" else "USD"
        assert purchase["currency"] == expected
    assert len({i["external_id"] for i in purchases}) == len(purchases)

    tasks = await Interaction.select().where(Interaction.status.is_not_null())
    planned = [t for t in tasks if t["status"] == "planned"]
    assert report.tasks == len(tasks)
    assert any(t["due_at"] < started for t in planned), "some tasks are overdue"
    assert any(t["due_at"] > started for t in planned), "some tasks are upcoming"
    assert all(t["completed_by"] and t["completed_at"] for t in tasks if t["status"] == "done")

    assert len(report.users) == 4
    assert await User.count() == 4
    assert await CustomField.count() == report.custom_fields == 4
    stages = await fetch("SELECT count(*) AS n FROM stage_change")
    assert stages[0]["n"] >= 80


async def test_demo_contacts_are_searchable_like_any_other(crm_db):
    await generate_demo(40, seed=3)
    contact = await Contact.select().where(Contact.country == "IR").order_by(Contact.id).first()
    fragment = contact["last_name"][:3]
    found = await list_contacts(SYSTEM, q=fragment, limit=100)
    assert contact["id"] in [c["id"] for c in found.items]
    local = "0" + contact["phone"][3:]  # +98912… written as 0912…
    assert [c["id"] for c in (await list_contacts(SYSTEM, q=local)).items] == [contact["id"]]
    note = (
        await Interaction.select()
        .where((Interaction.channel == "note") & (Interaction.body != ""))
        .first()
    )
    assert note is not None, "the demo writes notes with a body"
    word = max(note["body"].split(), key=len).strip(".")
    hits = await list_contacts(SYSTEM, q=word, limit=100)
    assert note["contact"] in [c["id"] for c in hits.items]


async def test_demo_refuses_a_non_empty_instance_unless_forced(crm_db):
    await generate_demo(20, seed=1)
    with pytest.raises(DemoRefused) as refused:
        await generate_demo(20, seed=1)
    assert "--force" in refused.value.message
    assert await Contact.count() == 20
    report = await generate_demo(20, seed=1, force=True)
    assert report.contacts == 20
    assert report.users == []  # the demo users exist already
    assert await Contact.count() == 40


@pytest.fixture
def empty_instance(crm_run) -> None:
    """A migrated, empty instance for commands run through ``crm_cli`` (the first
    ``crm_run`` call prepares it)."""
    crm_run(asyncio.sleep(0))


def test_crm_demo_command_fills_once_and_then_refuses(crm_cli, empty_instance: Any):
    first = crm_cli("demo", "--contacts", "30", "--seed", "5", "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert report["contacts"] == 30 and report["interactions"] > 0
    again = crm_cli("demo", "--contacts", "30")
    assert again.exit_code == 1
    assert "already holds 30 contacts" in again.output
    assert "--force" in again.output


class DemoListener:
    """A test plugin that records what ``demo_data_created`` hands it, and what it can read
    at that moment (the demo must be committed by then)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    @hookimpl
    async def demo_data_created(self, contact_ids, company_ids, actor):
        stored = await fetch("SELECT count(*) AS n FROM contact")
        self.calls.append(
            {"contacts": contact_ids, "companies": company_ids, "actor": actor,
             "stored": stored[0]["n"]}
        )  # fmt: skip


class BrokenDemoListener:
    @hookimpl
    def demo_data_created(self, contact_ids):
        raise RuntimeError("this plugin has a bug")


@pytest.fixture
def demo_listener(register_test_plugin) -> DemoListener:
    register_test_plugin(BrokenDemoListener(), "broken_demo_listener")
    listener = DemoListener()
    register_test_plugin(listener, "demo_listener")
    return listener


async def test_plugins_get_every_demo_id_once_after_commit(demo_listener, crm_db, caplog):
    report = await generate_demo(25, seed=2)
    contact_ids = [row["id"] for row in await fetch("SELECT id FROM contact ORDER BY id")]
    company_ids = [row["id"] for row in await fetch("SELECT id FROM company ORDER BY id")]
    assert len(demo_listener.calls) == 1
    call = demo_listener.calls[0]
    assert sorted(call["contacts"]) == contact_ids and len(contact_ids) == report.contacts
    assert sorted(call["companies"]) == company_ids and len(company_ids) == report.companies
    assert call["actor"] is SYSTEM
    assert call["stored"] == 25  # the rows are written when plugins are called
    # A failing plugin is logged by name and leaves the demo in place.
    assert "broken_demo_listener" in caplog.text
    assert await Contact.count() == 25
