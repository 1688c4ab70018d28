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
