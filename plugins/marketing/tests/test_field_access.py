"""Field-level access in segments: a person may not probe a contact field their role may not
read through a segment's filter; sending a saved campaign (as the system) is unaffected."""

from __future__ import annotations

from typing import Any

import pytest
from crm_marketing import campaigns, segments, templates_store
from helpers import run_jobs

from crmcore.hookspecs import hookimpl
from crmcore.permissions import Permission
from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact
from crmcore.services.roles import create_role
from crmcore.services.users import create_user
from crmcore.testing.plugin import make_client

pytestmark = pytest.mark.crm_plugins("marketing")

MARKETING = ["contacts.read", "marketing.read", "marketing.write", "marketing.send"]
CITY = {"filter": "city", "value": "Yazd"}
# A hidden field deep in a tree is refused too, naming the filter that compares it.
NESTED_TAG = {"and": [{"filter": "has_email"}, {"not": {"filter": "tag", "value": "nobody"}}]}


class WhereaboutsPlugin:
    """Hides contacts' city and tags from readers without ``whereabouts.view``."""

    @hookimpl
    def register_permissions(self) -> list[Any]:
        return [
            Permission(
                "whereabouts.view",
                "See contacts' city and tags",
                restricts=(("contact", "city"), ("contact", "tags")),
            )
        ]


@pytest.fixture
def whereabouts_plugin(register_test_plugin):
    register_test_plugin(WhereaboutsPlugin(), "whereabouts")


@pytest.fixture
async def people(whereabouts_plugin, crm_app) -> dict[str, Any]:
    """Reza lives in Yazd, Sara in Tabriz; a marketer who may not see cities and tags and a
    locating marketer who may."""
    reza = await create_contact(
        {"first_name": "Reza", "email": "reza@example.com", "city": "Yazd", "tags": ["vip"]},
        SYSTEM,
    )
    await create_contact(
        {"first_name": "Sara", "email": "sara@example.com", "city": "Tabriz"}, SYSTEM
    )
    await create_role(name="marketer", permissions=MARKETING)
    await create_role(name="locating_marketer", permissions=[*MARKETING, "whereabouts.view"])
    password = "a long enough password"
    return {
        "reza": reza,
        "marketer": await create_user(email="m@example.com", password=password, role="marketer"),
        "locator": await create_user(
            email="l@example.com", password=password, role="locating_marketer"
        ),
    }


def assert_refused(response: Any, name: str) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["permission"] == "whereabouts.view"
    assert list(body["errors"]) == [name]
    assert f"filter {name!r}" in body["detail"]
    assert "Reza" not in response.text


async def test_segment_on_a_hidden_field_is_refused_to_a_marketer_who_may_not_read_it(
    people, crm_app
):
    saved = await segments.create_segment("in Yazd", CITY, SYSTEM)
    await segments.create_segment("with email", {"filter": "has_email"}, SYSTEM)
    async with await make_client(crm_app, people["marketer"]) as client:
        for name, tree, field in (("probe", CITY, "city"), ("nested", NESTED_TAG, "tag")):
            made = await client.post(
                "/api/v1/marketing/segments", json={"name": name, "filter": tree}
            )
            assert_refused(made, field)
        # Previewing (members and counts) a saved segment on the hidden field is refused.
        preview = await client.get(f"/api/v1/marketing/segments/{saved['id']}/members")
        assert_refused(preview, "city")
        # Listing still works: that segment's count is withheld, the others are counted.
        listed = await client.get("/api/v1/marketing/segments")
        assert listed.status_code == 200
        counts = {s["name"]: s["count"] for s in listed.json()}
        assert counts == {"in Yazd": None, "with email": 2}
        page = await client.get("/marketing/")
        assert page.status_code == 200
        assert "with email — 2" in page.text
        assert "in Yazd — " not in page.text and "in Yazd" in page.text
        # A lead-scoring rule on the hidden field would tell it through scores.
        rule = await client.post(
            "/api/v1/marketing/scoring/rules",
            json={"kind": "field", "points": 10, "params": {"filter": CITY}},
        )
        assert_refused(rule, "city")
        # Filters on fields the marketer may read work as before.
        fine = await client.post(
            "/api/v1/marketing/segments",
            json={"name": "emailable", "filter": {"filter": "has_email"}},
        )
        assert fine.status_code == 201 and fine.json()["count"] == 2
    assert {s["name"] for s in await segments.list_segments()} == {
        "in Yazd", "with email", "emailable"
    }  # fmt: skip


async def test_marketer_who_may_read_the_field_segments_by_it(people, crm_app):
    async with await make_client(crm_app, people["locator"]) as client:
        made = await client.post(
            "/api/v1/marketing/segments", json={"name": "in Yazd", "filter": CITY}
        )
        assert made.status_code == 201, made.text
        assert made.json()["count"] == 1
        preview = await client.get(f"/api/v1/marketing/segments/{made.json()['id']}/members")
        assert preview.status_code == 200
        assert preview.json()["count"] == 1 and preview.json()["mailable"] == 1
        assert [c["first_name"] for c in preview.json()["items"]] == ["Reza"]
        listed = await client.get("/api/v1/marketing/segments")
        assert [s["count"] for s in listed.json()] == [1]
        page = await client.get("/marketing/")
        assert "in Yazd — 1" in page.text
        nested = await client.post(
            "/api/v1/marketing/segments", json={"name": "nested", "filter": NESTED_TAG}
        )
        assert nested.status_code == 201 and nested.json()["count"] == 2


async def test_sending_a_saved_campaign_on_a_hidden_field_still_works(people, crm_app, smtp_sink):
    """The send is a job acting as the system: whoever starts it, the segment's filter
    compiles and reaches exactly its contacts."""
    async with await make_client(crm_app, people["locator"]) as client:
        made = await client.post(
            "/api/v1/marketing/segments", json={"name": "in Yazd", "filter": CITY}
        )
        assert made.status_code == 201, made.text
    await templates_store.create_template(
        {"name": "news", "subject": "Hi", "html": "<p>Hello {{ contact.first_name }}</p>"},
        SYSTEM,
    )
    campaign = await campaigns.create_campaign(
        {"name": "Yazd news", "segment": "in Yazd", "template": "news"}, SYSTEM
    )
    async with await make_client(crm_app, people["marketer"]) as client:
        started = await client.post(f"/api/v1/marketing/campaigns/{campaign['id']}/start")
        assert started.status_code == 200, started.text
        assert started.json()["queued"] == 1
    await run_jobs()
    assert dict(smtp_sink.by_recipient) == {"reza@example.com": 1}
    assert (await campaigns.get_campaign(campaign["id"]))["status"] == "sent"
