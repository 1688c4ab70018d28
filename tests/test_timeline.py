"""A contact's timeline: interactions, tasks, stage changes and plugin entries, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crmcore.errors import NotFound
from crmcore.hookspecs import hookimpl
from crmcore.services.actor import SYSTEM, Actor
from crmcore.services.contacts import create_contact, update_contact
from crmcore.services.interactions import log_interaction
from crmcore.services.tasks import cancel_task, create_task
from crmcore.services.timeline import TimelineEntry, contact_timeline

pytestmark = pytest.mark.anyio

NOW = datetime.now(UTC).replace(microsecond=0)


class VisitsPlugin:
    """A plugin contributing entries, as geo would for store visits."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self.calls: list[tuple[int, int]] = []

    @hookimpl
    async def timeline_entries(self, contact_id, limit):
        self.calls.append((contact_id, limit))
        return [
            TimelineEntry(
                kind="visit",
                at=self.at,
                title="Visited the Tehran store",
                url="/geo/visits/1",
                data={"store": "Tehran"},
            )
        ]


@pytest.fixture
async def contact(crm_db: Any) -> dict[str, Any]:
    return await create_contact({"first_name": "Sara", "last_name": "Moradi"}, SYSTEM)


async def test_timeline_merges_every_source_newest_first(crm_user, contact, register_test_plugin):
    plugin = VisitsPlugin(at=NOW - timedelta(days=2))
    register_test_plugin(plugin, "visits")
    actor = Actor(user_id=crm_user["id"], label="admin", permissions=frozenset({"*"}))
    await log_interaction(
        {
            "contact_id": contact["id"],
            "channel": "phone",
            "subject": "First call",
            "occurred_at": NOW - timedelta(days=3),
        },
        SYSTEM,
    )
    await log_interaction(
        {
            "contact_id": contact["id"],
            "channel": "purchase",
            "subject": "Order 7",
            "value": "2500000",
            "currency": "IRR",
            "occurred_at": NOW - timedelta(days=1),
        },
        SYSTEM,
    )
    await update_contact(contact["id"], {"stage": "customer"}, SYSTEM)
    await create_task(
        {"subject": "Follow up", "due_at": NOW + timedelta(days=1), "contact_id": contact["id"]},
        actor,
    )
    dropped = await create_task(
        {"subject": "Dropped", "due_at": NOW + timedelta(days=2), "contact_id": contact["id"]},
        actor,
    )
    await cancel_task(dropped["id"], actor)

    entries = await contact_timeline(contact["id"], SYSTEM)
    assert [e.title for e in entries] == [
        "Follow up",  # planned tasks sit at their due date
        "Stage: lead → customer",
        "Stage: lead",  # the contact was created today, after the interactions it records
        "Order 7",
        "Visited the Tehran store",
        "First call",
    ]
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    kinds = {e.title: (e.kind, e.plugin) for e in entries}
    assert kinds["Follow up"] == ("task", "core")
    assert kinds["Visited the Tehran store"] == ("visit", "visits")
    assert kinds["Order 7"] == ("interaction", "core")
    order = next(e for e in entries if e.title == "Order 7")
    assert (order.channel, order.data["value"], order.data["currency"]) == (
        "purchase",
        "2500000.00",
        "IRR",
    )
    assert plugin.calls == [(contact["id"], 50)]


async def test_limit_and_before_page_back_through_the_timeline(contact):
    for day in range(1, 8):
        await log_interaction(
            {
                "contact_id": contact["id"],
                "channel": "email",
                "subject": f"mail {day}",
                "occurred_at": NOW - timedelta(days=day),
            },
            SYSTEM,
        )
    first = await contact_timeline(contact["id"], SYSTEM, limit=3)
    assert [e.title for e in first] == ["Stage: lead", "mail 1", "mail 2"]
    second = await contact_timeline(contact["id"], SYSTEM, limit=3, before=first[-1].at)
    assert [e.title for e in second] == ["mail 3", "mail 4", "mail 5"]
    last = await contact_timeline(contact["id"], SYSTEM, limit=3, before=second[-1].at)
    assert [e.title for e in last] == ["mail 6", "mail 7"]


async def test_timeline_api_includes_plugin_entries_and_pages(
    crm_client, contact, register_test_plugin
):
    register_test_plugin(VisitsPlugin(at=NOW - timedelta(hours=1)), "visits")
    await log_interaction(
        {"contact_id": contact["id"], "channel": "note", "body": "Prefers WhatsApp"}, SYSTEM
    )
    url = f"/api/v1/contacts/{contact['id']}/timeline"
    response = await crm_client.get(url, params={"limit": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(item["kind"], item["plugin"]) for item in body["items"]] == [
        ("interaction", "core"),
        ("stage", "core"),
    ]
    assert body["next"] is not None
    older = (await crm_client.get(url, params={"limit": 2, "before": body["next"]})).json()
    assert [(item["kind"], item["plugin"]) for item in older["items"]] == [("visit", "visits")]
    assert older["items"][0]["url"] == "/geo/visits/1"
    assert older["items"][0]["data"] == {"store": "Tehran"}
    assert older["next"] is None


async def test_timeline_of_a_missing_or_foreign_contact_is_404(crm_client, crm_db):
    from crmcore.services.users import create_user

    assert (await crm_client.get("/api/v1/contacts/999/timeline")).status_code == 404
    alice = await create_user(email="alice@example.com", password="a-long-password-1", role="agent")
    someone_elses = await create_contact({"first_name": "Omid"}, SYSTEM)
    agent = Actor(
        user_id=alice["id"],
        label="alice",
        permissions=frozenset({"contacts.read"}),
        record_scope="own",
    )
    with pytest.raises(NotFound):
        await contact_timeline(someone_elses["id"], agent)


def test_timeline_entry_as_dict_holds_every_field():
    entry = TimelineEntry(kind="visit", at=NOW, title="t", data={"a": 1})
    assert entry.as_dict() == {
        "kind": "visit",
        "at": NOW,
        "title": "t",
        "body": "",
        "channel": None,
        "plugin": "core",
        "url": None,
        "data": {"a": 1},
    }
