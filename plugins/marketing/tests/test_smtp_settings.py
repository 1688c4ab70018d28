"""SMTP settings from ``[plugins.marketing]`` in crm.toml, and ``CRM_SMTP_URL`` over them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from crm_marketing.config import marketing_config
from helpers import many_contacts

from crmcore.settings import load_settings

pytestmark = pytest.mark.crm_plugins("marketing")


@pytest.fixture
def crm_home(tmp_path: Path, smtp_sink, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An instance whose only SMTP setting is the one in its crm.toml."""
    home = tmp_path / "crm-home"
    home.mkdir()
    (home / "crm.toml").write_text(
        "[plugins.marketing]\n"
        f'smtp_url = "smtp://127.0.0.1:{smtp_sink.port}?from=toml@example.com"\n'
        "per_second = 500\n",
        encoding="utf-8",
    )
    monkeypatch.delenv("CRM_SMTP_URL")
    return home


def test_campaign_is_sent_through_the_smtp_server_of_crm_toml(
    crm_cli, crm_run, crm_settings, smtp_sink, tmp_path
):
    assert marketing_config(crm_settings).per_second == 500
    crm_run(many_contacts(5))
    created = crm_cli("marketing", "segments", "create", "all",
                      "--filter", json.dumps({"filter": "has_email"}))  # fmt: skip
    assert created.exit_code == 0, created.output
    template = tmp_path / "t.html"
    template.write_text("<p>Hi</p>", encoding="utf-8")
    made = crm_cli("marketing", "campaigns", "create", "--segment", "all",
                   "--template", str(template), "--subject", "From the file")  # fmt: skip
    assert made.exit_code == 0, made.output
    sent = crm_cli("marketing", "campaigns", "send", made.output.strip(), "--wait")
    assert sent.exit_code == 0, sent.output
    assert len(smtp_sink.messages) == 5
    assert {m["From"] for m in smtp_sink.messages} == {"toml@example.com"}


def test_crm_smtp_url_overrides_crm_toml(crm_home, monkeypatch):
    monkeypatch.setenv("CRM_SMTP_URL", "smtp://mail.example.net:2525")
    env = {"CRM_HOME": str(crm_home), "CRM_SECRET_KEY": "x"}
    smtp = marketing_config(load_settings(home=crm_home, env=env)).smtp
    assert (smtp.host, smtp.port) == ("mail.example.net", 2525)
