"""``crm contacts import`` exit codes and output, and ``crm imports list|show|revert``."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any


def marker() -> str:
    """Tests of this module may share a PostgreSQL database: each uses its own addresses."""
    return uuid.uuid4().hex[:10]


def test_import_exits_0_with_bad_rows_and_lists_them(crm_cli: Any, tmp_path: Path) -> None:
    assert crm_cli("db", "migrate").exit_code == 0
    tag = marker()
    path = tmp_path / "people.csv"
    path.write_text(
        "first_name,last_name,email,phone,company\n"
        f"Ali,Rezaei,ali-{tag}@example.com,09121234567,Acme\n"
        f"Bad,Row,bad-{tag},09121234568,\n"
    )
    report = tmp_path / "errors.csv"
    result = crm_cli("contacts", "import", str(path), "--error-report", str(report))
    assert result.exit_code == 0, result.output
    assert "1 were created" in result.output and "1 rejected" in result.output
    assert f"row 3: email: 'bad-{tag}' is not a valid email address" in result.output
    assert report.read_text(encoding="utf-8-sig").splitlines()[0] == (
        "first_name,last_name,email,phone,company,row,reason"
    )

    again = crm_cli("contacts", "import", str(path))
    assert again.exit_code == 0
    assert "already imported" in again.output

    listed = json.loads(crm_cli("imports", "list", "--json").output)
    mine = [r for r in listed if r["file_name"] == "people.csv" and r["created"] == 1]
    import_id = mine[0]["id"]
    shown = crm_cli("imports", "show", str(import_id), "--errors")
    assert shown.exit_code == 0
    assert "completed" in shown.output and "row 3:" in shown.output

    reverted = crm_cli("imports", "revert", str(import_id), "--yes")
    assert reverted.exit_code == 0, reverted.output
    assert "1 contacts deleted" in reverted.output
    found = json.loads(crm_cli("contacts", "search", f"ali-{tag}@example.com", "--json").output)
    assert found == []


def test_import_exits_nonzero_when_nothing_could_be_imported(crm_cli: Any, tmp_path: Path) -> None:
    assert crm_cli("db", "migrate").exit_code == 0
    tag = marker()
    path = tmp_path / f"bad-{tag}.csv"
    path.write_text(f"first_name,email\nA,nope-{tag}\nB,also-{tag}\n")
    result = crm_cli("contacts", "import", str(path))
    assert result.exit_code == 1
    assert "nothing was imported" in result.output
    assert f"row 2: email: 'nope-{tag}'" in result.output
    assert f"row 3: email: 'also-{tag}'" in result.output

    unknown = crm_cli("contacts", "import", str(path), "--map", "Nope=email")
    assert unknown.exit_code == 2
    assert "the file has no column 'Nope'" in unknown.output
    wrong = crm_cli("contacts", "import", str(path), "--map", "email")
    assert wrong.exit_code == 2


def test_update_by_email_upserts(crm_cli: Any, tmp_path: Path) -> None:
    assert crm_cli("db", "migrate").exit_code == 0
    tag = marker()
    first = tmp_path / "first.csv"
    first.write_text(f"first_name,email\nAli,{tag}@example.com\n")
    assert crm_cli("contacts", "import", str(first)).exit_code == 0
    second = tmp_path / "second.csv"
    second.write_text(
        f"first_name,last_name,email\nAli,Rezaei,{tag}@example.com\nSara,X,{tag}-2@example.com\n"
    )
    result = crm_cli("contacts", "import", str(second), "--update-by", "email", "--json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.output)
    assert (outcome["mode"], outcome["updated"], outcome["created"]) == ("upsert", 1, 1)
