"""A drip campaign with time moved forward by the jobs clock, not slept."""

from __future__ import annotations

import re

import pytest
from crm_marketing import campaigns, templates_store
from crm_marketing.drip import enrol
from crm_marketing.tracking import record_open
from helpers import many_contacts, run_jobs

from crmcore.jobs.clock import frozen_clock
from crmcore.services.actor import SYSTEM

pytestmark = pytest.mark.crm_plugins("marketing")


async def test_follow_up_after_two_days_only_to_those_who_did_not_open(crm_db, smtp_sink):
    ids = await many_contacts(10)
    await templates_store.create_template(
        {"name": "welcome", "subject": "Welcome", "html": "<p>Welcome</p>"}, SYSTEM
    )
    await templates_store.create_template(
        {"name": "nudge", "subject": "Still there?", "html": "<p>Nudge</p>"}, SYSTEM
    )
    drip = await campaigns.create_campaign(
        {"kind": "drip", "name": "Onboarding",
         "steps": [{"type": "send", "template": "welcome"}, {"type": "wait", "days": 2},
                   {"type": "condition", "check": "not_opened", "step": 0},
                   {"type": "send", "template": "nudge"}, {"type": "add_tag", "tag": "nudged"}]},
        SYSTEM,
    )  # fmt: skip
    with frozen_clock() as clock:
        await campaigns.start_campaign(drip["id"], SYSTEM)
        assert await enrol(drip["id"], ids) == 10
        await run_jobs()
        assert len(smtp_sink.messages) == 10
        assert {m["Subject"] for m in smtp_sink.messages} == {"Welcome"}
        for message in smtp_sink.messages[:4]:
            html = message.get_payload()[1].get_payload(decode=True).decode()
            send_id, signature = re.search(r"/t/o/(\d+)/([^\".]+)\.gif", html).groups()
            assert await record_open("test-secret", int(send_id), signature, "Thunderbird")
        openers = {m["To"] for m in smtp_sink.messages[:4]}
        clock.advance(days=1)
        await run_jobs()
        assert len(smtp_sink.messages) == 10
        clock.advance(days=1, minutes=2)
        await run_jobs()
        nudges = [m for m in smtp_sink.messages if m["Subject"] == "Still there?"]
        assert len(nudges) == 6
        assert not openers & {m["To"] for m in nudges}
        clock.advance(days=5)
        await run_jobs()
        assert len(smtp_sink.messages) == 16


async def test_tag_trigger_enrols_and_automation_action_is_registered(crm_db, smtp_sink):
    from crm_marketing.drip import enrol_for_event

    from crmcore.services.automation import available_actions
    from crmcore.services.context import current_pm
    from crmcore.services.tags import add_tags

    ids = await many_contacts(3)
    await templates_store.create_template({"name": "vip", "html": "<p>VIP</p>"}, SYSTEM)
    drip = await campaigns.create_campaign(
        {"kind": "drip", "trigger": {"event": "contact.tagged", "tag": "vip"},
         "steps": [{"type": "send", "template": "vip"}, {"type": "set_stage", "stage": "lead"}]},
        SYSTEM,
    )  # fmt: skip
    await campaigns.start_campaign(drip["id"], SYSTEM)
    await add_tags(ids[:2], ["vip"], SYSTEM)
    await enrol_for_event("contact.tagged", {"contact_ids": ids[:2], "tags": ["vip"]})
    await enrol_for_event("contact.tagged", {"contact_ids": ids[2:], "tags": ["other"]})
    await run_jobs()
    assert sorted(m["To"] for m in smtp_sink.messages) == ["c0@example.com", "c1@example.com"]
    assert "marketing.start_drip" in available_actions(current_pm())
