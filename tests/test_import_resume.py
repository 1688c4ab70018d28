"""An import killed with SIGKILL part-way and run again imports every row exactly once."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from crmcore.tables import Contact

pytestmark = pytest.mark.anyio

ROWS = 20_000


def _crm_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from crmcore.cli.main import main; main()", *args]


def _env(settings: Any) -> dict[str, str]:
    return {
        **os.environ,
        "CRM_HOME": str(settings.home),
        "CRM_DATABASE_URL": settings.database_url,
        "CRM_SECRET_KEY": "test-secret",
        "CRM_LOAD_PLUGINS": "",
    }


def _write_rows(path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["first_name", "last_name", "email", "phone", "company"])
        for i in range(ROWS):
            writer.writerow(
                [f"Person{i}", "Resume", f"person{i}@example.com", f"0912{i:07d}", f"Co {i % 50}"]
            )


async def _position() -> int:
    rows = await Contact.raw('SELECT "position", status FROM data_import ORDER BY id DESC LIMIT 1')
    return rows[0]["position"] if rows else 0


async def test_killed_import_resumes_without_duplicating_a_row(
    crm_db: Any, crm_settings: Any, tmp_path: Path
) -> None:
    path = tmp_path / "contacts.csv"
    _write_rows(path)
    command = _crm_command("contacts", "import", str(path), "--batch-size", "500", "--no-progress")

    process = await asyncio.create_subprocess_exec(
        *command,
        env=_env(crm_settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(1200):
            if await _position() >= 2000 or process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        await process.wait()
    assert process.returncode == -signal.SIGKILL, (await process.stderr.read()).decode()

    killed_at = await _position()
    assert 0 < killed_at < ROWS, "the import must be killed part-way"
    # Whatever was committed is complete: a batch is all in or all out.
    assert await Contact.count() == killed_at

    process = await asyncio.create_subprocess_exec(
        *command,
        env=_env(crm_settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert f"Resumed after row {killed_at:,}" in stdout.decode()

    assert await Contact.count() == ROWS
    repeated = await Contact.raw(
        "SELECT email, COUNT(*) AS n FROM contact GROUP BY email HAVING COUNT(*) > 1"
    )
    assert repeated == []
    [record] = await Contact.raw("SELECT * FROM data_import")
    assert (record["status"], record["created"], record["position"]) == ("completed", ROWS, ROWS)
    mapped = await Contact.raw("SELECT COUNT(DISTINCT contact) AS n FROM data_import_row")
    assert mapped[0]["n"] == ROWS
