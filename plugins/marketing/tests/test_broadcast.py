"""Broadcasts: segments, recipients in SQL, exactly one message per contact."""

from __future__ import annotations

import pytest
from crm_marketing import campaigns, segments, templates_store
from crm_marketing.consent import record_consent
from crm_marketing.tables import Campaign
from helpers import many_contacts, run_jobs

from crmcore.services.actor import SYSTEM
from crmcore.services.records import fetch

pytestmark = pytest.mark.crm_plugins("marketing")

HTML = '<p>Hello {{ contact.first_name }}</p><a href="https://example.org/a">a</a>'


async def broadcast(segment_name: str = "everyone", tree: dict | None = None) -> dict:
    await segments.create_segment(segment_name, tree or {"filter": "has_email"}, SYSTEM)
    await templates_store.create_template(
        {"name": "news", "subject": "Hi {{ contact.first_name | default('friend') }}",
         "html": HTML, "text": "Hello {{ contact.first_name }}"},
        SYSTEM,
    )  # fmt: skip
    return await campaigns.create_campaign(
        {"name": "News", "segment": segment_name, "template": "news"}, SYSTEM
    )


async def test_broadcast_delivers_once_per_contact_and_skips_unsubscribed(crm_db, smtp_sink):
    """10,025 contacts with an email, 25 of them unsubscribed: exactly 10,000 messages."""
    ids = await many_contacts(10_025)
    for contact_id in ids[:25]:
        await record_consent(contact_id, "withdraw", SYSTEM, source="test")
    campaign = await broadcast()
    segment = await segments.get_segment("everyone")
    assert await segments.count_segment(segment) == 10_025
    assert await segments.count_segment(segment, mailable=True) == 10_000
    started = await campaigns.start_campaign(campaign["id"], SYSTEM)
    assert started["queued"] == 10_000
    await run_jobs()
    assert len(smtp_sink.messages) == 10_000
    assert set(smtp_sink.by_recipient.values()) == {1}
    assert "c0@example.com" not in smtp_sink.by_recipient
    assert (await campaigns.get_campaign(campaign["id"]))["status"] == "sent"
    message = smtp_sink.messages[-1]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<http://crm.test/marketing/u/")


async def test_pause_midway_then_resume_sends_each_contact_exactly_once(crm_db, smtp_sink):
    await many_contacts(10_000)
    campaign = await broadcast()

    def pause_at_3000(count: int) -> None:
        # The campaign is paused while messages are in flight, as an operator would.
        if count == 3_000:
            Campaign.update({Campaign.status: "paused"}).where(
                Campaign.id == campaign["id"]
            ).run_sync()

    smtp_sink.on_data = pause_at_3000
    await campaigns.start_campaign(campaign["id"], SYSTEM)
    await run_jobs()
    halfway = len(smtp_sink.messages)
    assert 3_000 <= halfway < 10_000
    assert (await campaigns.get_campaign(campaign["id"]))["status"] == "paused"
    smtp_sink.on_data = None
    await campaigns.resume_campaign(campaign["id"], SYSTEM)
    await run_jobs()
    assert len(smtp_sink.messages) == 10_000
    assert len(smtp_sink.by_recipient) == 10_000
    assert set(smtp_sink.by_recipient.values()) == {1}


async def test_a_second_queueing_of_the_same_step_adds_nothing(crm_db, smtp_sink):
    await many_contacts(30)
    campaign = await broadcast()
    await campaigns.start_campaign(campaign["id"], SYSTEM)
    segment = await segments.get_segment("everyone")
    again = await campaigns.queue_sends(campaign["id"], 0, segments.segment_where(segment))
    assert again == 0
    await run_jobs()
    assert len(smtp_sink.messages) == 30


async def test_a_refused_message_is_a_bounce_and_its_connection_sends_the_rest(
    crm_db, smtp_sink, monkeypatch
):
    monkeypatch.setenv("CRM_MARKETING_CONNECTIONS", "1")
    await many_contacts(20)
    campaign = await broadcast()
    refused: list[int] = []

    def refuse_the_fifth(count: int) -> str | None:
        if count == 4 and not refused:
            refused.append(count)
            return "550 5.1.1 mailbox unavailable"
        return None

    smtp_sink.on_data = refuse_the_fifth
    await campaigns.start_campaign(campaign["id"], SYSTEM)
    await run_jobs()
    assert len(smtp_sink.messages) == 19
    rows = await fetch(
        "SELECT state, count(*) AS n, count(bounced_at) AS bounced FROM marketing_send "
        "GROUP BY state ORDER BY state"
    )
    assert [(r["state"], r["n"], r["bounced"]) for r in rows] == [("failed", 1, 1), ("sent", 19, 0)]
    sent = await fetch("SELECT id, campaign, message_id, links FROM marketing_send "
                       "WHERE state = 'sent'")  # fmt: skip
    assert {r["message_id"] for r in sent} == {
        f"<m{r['id']}.{r['campaign']}@example.com>" for r in sent
    }


async def test_static_list_segment_counts_its_members(crm_db):
    ids = await many_contacts(20)
    segment = await segments.create_segment("vip list", None, SYSTEM, static=True)
    assert await segments.add_to_list(segment["id"], ids[:7], SYSTEM) == 7
    assert await segments.add_to_list(segment["id"], ids[:8], SYSTEM) == 1
    assert await segments.count_segment(segment) == 8
    members = await segments.segment_members(segment, limit=3)
    assert [m["id"] for m in members] == ids[:3]
