"""``crm contacts add|show|list|search`` run in-process against a real instance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def cli(crm_settings: Any, crm_pm: Any, _crm_template_dir: Path, crm_cli: Any) -> Any:
    """``crm_cli`` on a migrated, empty instance database."""
    from crmcore.testing.databases import open_test_database
    from crmcore.testing.plugin import run_sync

    async def prepare() -> None:
        db = await open_test_database(crm_settings.database_url, crm_pm, _crm_template_dir)
        await db.close()

    run_sync(prepare())
    return crm_cli


def add(cli: Any, *args: str) -> dict[str, Any]:
    result = cli("contacts", "add", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_add_show_list_and_search(cli: Any) -> None:
    maryam = add(
        cli, "--first-name", "مریم", "--last-name", "کریمی", "--email", "Maryam@Example.com",
        "--phone", "0912 123 4567", "--company", "Pars Trading", "--tag", "vip", "--tag", "fair",
    )  # fmt: skip
    ali = add(cli, "--first-name", "Ali", "--phone", "+49 30 1234567", "--stage", "customer")
    assert maryam["emails"] == ["maryam@example.com"]
    assert maryam["phones"] == ["+989121234567"]
    assert maryam["tags"] == ["fair", "vip"]

    shown = cli("contacts", "show", str(maryam["id"]), "--json")
    assert json.loads(shown.output) == maryam
    text = cli("contacts", "show", str(maryam["id"]))
    assert "Pars Trading" in text.output and "+989121234567" in text.output

    listed = json.loads(cli("contacts", "list", "--json").output)
    assert [c["id"] for c in listed] == [ali["id"], maryam["id"]]
    assert {"id", "first_name", "last_name", "emails", "phones"} <= set(listed[0])
    only = json.loads(cli("contacts", "list", "--json", "--stage", "customer").output)
    assert [c["id"] for c in only] == [ali["id"]]
    tagged = json.loads(cli("contacts", "list", "--json", "--tag", "VIP").output)
    assert [c["id"] for c in tagged] == [maryam["id"]]
    assert len(json.loads(cli("contacts", "list", "--json", "--limit", "1").output)) == 1

    for query in ("مری", "maryam@example.com", "09121234567", "+98 912 123 4567"):
        found = json.loads(cli("contacts", "search", query, "--json").output)
        assert [c["id"] for c in found] == [maryam["id"]], query
    assert json.loads(cli("contacts", "search", "nobody", "--json").output) == []
    table = cli("contacts", "search", "ali")
    assert "Ali" in table.output and "customer" in table.output


def test_missing_contact_exits_1_with_a_message(cli: Any) -> None:
    result = cli("contacts", "show", "424242")
    assert result.exit_code == 1
    assert "contact 424242 does not exist" in result.output


def test_a_contact_needs_something_to_identify_it(cli: Any) -> None:
    result = cli("contacts", "add")
    assert result.exit_code == 2
    assert "needs a name, an email address or a phone number" in result.output
