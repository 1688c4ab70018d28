"""``crm marketing …`` against the test instance and a real SMTP sink."""

from __future__ import annotations

import json

import pytest
from helpers import many_contacts

pytestmark = pytest.mark.crm_plugins("marketing")


def test_segment_campaign_and_send_wait(crm_cli, crm_run, smtp_sink, tmp_path):
    crm_run(many_contacts(40))
    created = crm_cli("marketing", "segments", "create", "all",
                      "--filter", json.dumps({"filter": "has_email"}))  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "40 contacts" in created.output
    template = tmp_path / "hello.html"
    template.write_text("<p>Hi {{ contact.first_name | default('friend') }}</p>")
    result = crm_cli("marketing", "campaigns", "create", "--segment", "all",
                     "--template", str(template), "--subject", "Hello")  # fmt: skip
    assert result.exit_code == 0, result.output
    campaign_id = result.output.strip()
    sent = crm_cli("marketing", "campaigns", "send", campaign_id, "--wait")
    assert sent.exit_code == 0, sent.output
    assert len(smtp_sink.messages) == 40
    shown = json.loads(crm_cli("marketing", "campaigns", "show", campaign_id, "--json").output)
    assert shown["status"] == "sent"
    assert shown["report"]["totals"]["sent"] == 40
    listed = crm_cli("marketing", "campaigns", "list")
    assert "40/40" in listed.output
    refused = crm_cli("marketing", "campaigns", "pause", campaign_id)
    assert refused.exit_code != 0 and "only a sending" in refused.output


def test_bad_filter_json_is_refused(crm_cli, crm_run):
    crm_run(many_contacts(1))
    result = crm_cli("marketing", "segments", "create", "x", "--filter", "{nope")
    assert result.exit_code != 0
    assert "not valid JSON" in result.output
