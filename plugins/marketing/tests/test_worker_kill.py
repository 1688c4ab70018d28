"""A worker process SIGKILLed in the middle of a broadcast, then a new one: every contact
still gets exactly one message.

The worker sends over one SMTP connection and dies inside an SMTP transaction (the sink
kills it on DATA and refuses the message), so no message is in the window between the
server's ``250`` and the worker's ``sent`` commit: that window is the at-least-once case
the sender documents, and with several connections a kill can land in it for messages
other connections just handed over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crm_marketing import campaigns, segments, templates_store
from helpers import many_contacts

from crmcore.services.actor import SYSTEM

pytestmark = pytest.mark.crm_plugins("marketing")

CONTACTS = 10_000
KILL_AT = 3_000


def _worker(crm_settings, smtp_sink, *extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CRM_HOME": str(crm_settings.home),
        "CRM_DATABASE_URL": crm_settings.database_url,
        "CRM_SECRET_KEY": "test-secret",
        "CRM_LOAD_PLUGINS": "marketing",
        "CRM_SMTP_URL": f"smtp://127.0.0.1:{smtp_sink.port}?from=news@example.com",
        "CRM_JOBS_LEASE_S": "2",
        "CRM_MARKETING_LEASE_S": "2",
        "CRM_JOBS_POLL_S": "0.2",
        "CRM_MARKETING_CONNECTIONS": "1",
    }
    crm = Path(sys.executable).parent / "crm"
    return subprocess.Popen([str(crm), "worker", *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


async def _prepare() -> int:
    await many_contacts(CONTACTS)
    await segments.create_segment("all", {"filter": "has_email"}, SYSTEM)
    await templates_store.create_template(
        {"name": "t", "subject": "Hi", "html": "<p>Hi {{ contact.first_name }}</p>"}, SYSTEM
    )
    campaign = await campaigns.create_campaign({"segment": "all", "template": "t"}, SYSTEM)
    await campaigns.start_campaign(campaign["id"], SYSTEM)
    return campaign["id"]


def test_killed_worker_then_restarted_sends_each_contact_exactly_once(
    crm_run, crm_settings, smtp_sink
):
    campaign_id = crm_run(_prepare())
    first = _worker(crm_settings, smtp_sink)

    def kill_midway(count: int) -> str | None:
        # The worker dies in the middle of an SMTP transaction: this message is not
        # accepted, and the worker never learns what happened to its claimed batch.
        if count >= KILL_AT and first.poll() is None:
            os.kill(first.pid, signal.SIGKILL)
            return "451 4.3.0 connection lost"
        return None

    smtp_sink.on_data = kill_midway
    assert first.wait(timeout=300) == -signal.SIGKILL
    assert KILL_AT <= len(smtp_sink.messages) < CONTACTS
    smtp_sink.on_data = None
    second = _worker(crm_settings, smtp_sink)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if crm_run(campaigns.get_campaign(campaign_id))["status"] == "sent":
                break
            time.sleep(0.5)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
    assert len(smtp_sink.messages) == CONTACTS
    assert len(smtp_sink.by_recipient) == CONTACTS
    assert set(smtp_sink.by_recipient.values()) == {1}
