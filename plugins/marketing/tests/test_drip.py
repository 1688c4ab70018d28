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


async def test_contacts_entering_a_segment_are_enrolled_once_and_get_a_task(
    crm_db, crm_user, smtp_sink
):
    from crm_marketing import segments

    from crmcore.services.contacts import create_contact, update_contact
    from crmcore.services.records import fetch

    owner = {"owner_id": crm_user["id"]}
    first = await create_contact({"first_name": "Tara", "email": "t@example.com",
                                  "city": "Shiraz", **owner}, SYSTEM)  # fmt: skip
    later = await create_contact({"first_name": "Omid", "email": "o@example.com", **owner},
                                 SYSTEM)  # fmt: skip
    await segments.create_segment("shiraz", {"filter": "city", "value": "Shiraz"}, SYSTEM)
    await templates_store.create_template({"name": "hi", "html": "<p>Hi</p>"}, SYSTEM)
    task = {"type": "create_task", "title": "Call {{ contact.first_name }}", "due_days": 1}
    steps = [{"type": "send", "template": "hi"}, task]
    drip = await campaigns.create_campaign(
        {"kind": "drip", "trigger": {"segment": "shiraz"}, "steps": steps}, SYSTEM
    )
    await campaigns.start_campaign(drip["id"], SYSTEM)
    with frozen_clock() as clock:
        await run_jobs()
        assert [m["To"] for m in smtp_sink.messages] == ["t@example.com"]
        await update_contact(later["id"], {"city": "Shiraz"}, SYSTEM)
        clock.advance(minutes=2)
        await run_jobs()
        clock.advance(minutes=2)
        await run_jobs()
    assert sorted(m["To"] for m in smtp_sink.messages) == ["o@example.com", "t@example.com"]
    tasks = await fetch("SELECT subject FROM interaction WHERE status = 'planned' ORDER BY id")
    assert [t["subject"] for t in tasks] == ["Call Tara", "Call Omid"]
    enrolled = await fetch("SELECT contact FROM marketing_enrolment ORDER BY contact")
    assert [e["contact"] for e in enrolled] == [first["id"], later["id"]]


async def test_rate_limiter_spaces_messages():
    import time

    from crm_marketing.sender import RateLimiter

    limiter = RateLimiter(per_second=40)
    started = time.monotonic()
    for _ in range(9):
        await limiter.wait()
    assert time.monotonic() - started >= 8 / 40 * 0.9
