"""Broadcasts: segments, recipients in SQL, exactly one message per contact."""

from __future__ import annotations

import pytest
from crm_marketing import campaigns, segments, templates_store
from crm_marketing.consent import record_consent
from helpers import many_contacts, run_jobs

from crmcore.services.actor import SYSTEM

pytestmark = pytest.mark.crm_plugins("marketing")


async def _broadcast(segment_name: str = "everyone", tree: dict | None = None) -> dict:
    await segments.create_segment(segment_name, tree or {"filter": "has_email"}, SYSTEM)
    await templates_store.create_template(
        {"name": "news", "subject": "Hi {{ contact.first_name | default('friend') }}",
         "html": "<p>Hello {{ contact.first_name }}</p><a href=\"https://example.org/a\">a</a>",
         "text": "Hello {{ contact.first_name }}"},
        SYSTEM,
    )  # fmt: skip
    return await campaigns.create_campaign(
        {"name": "News", "segment": segment_name, "template": "news"}, SYSTEM
    )


async def test_broadcast_delivers_once_per_contact_and_skips_unsubscribed(crm_db, smtp_sink):
    ids = await many_contacts(10_000)
    for contact_id in ids[:25]:
        await record_consent(contact_id, "withdraw", SYSTEM, source="test")
    campaign = await _broadcast()
    segment = await segments.get_segment("everyone")
    assert await segments.count_segment(segment) == 10_000
    assert await segments.count_segment(segment, mailable=True) == 9_975
    started = await campaigns.start_campaign(campaign["id"], SYSTEM)
    assert started["queued"] == 9_975
    await run_jobs()
    assert len(smtp_sink.messages) == 9_975
    assert set(smtp_sink.by_recipient.values()) == {1}
    assert "c0@example.com" not in smtp_sink.by_recipient
    shown = await campaigns.get_campaign(campaign["id"])
    assert shown["status"] == "sent"
    message = smtp_sink.messages[-1]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<http://crm.test/marketing/u/")


async def test_pause_and_resume_send_each_contact_exactly_once(crm_db, smtp_sink):
    await many_contacts(600)
    campaign = await _broadcast()
    paused = {"done": False}

    def pause_midway(count: int) -> None:
        if count == 250 and not paused["done"]:
            paused["done"] = True
            from crm_marketing.tables import Campaign

            Campaign.update({Campaign.status: "paused"}).where(
                Campaign.id == campaign["id"]
            ).run_sync()
        return None

    await campaigns.start_campaign(campaign["id"], SYSTEM)
    await campaigns.pause_campaign(campaign["id"], SYSTEM)
    await run_jobs()
    assert smtp_sink.messages == []
    await campaigns.resume_campaign(campaign["id"], SYSTEM)
    smtp_sink.on_data = lambda count: (
        "451 paused by test" if count >= 250 and paused_now() else None
    )

    def paused_now() -> bool:
        return paused_state["paused"]

    paused_state = {"paused": False}
    del pause_midway
    await run_jobs()
    assert len(smtp_sink.messages) == 600
    assert set(smtp_sink.by_recipient.values()) == {1}
