"""Backups: ``crm backup`` then ``crm restore`` gives back the same rows, table by table, on
SQLite (online backup API) and PostgreSQL (pg_dump / pg_restore)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from crmcore.db.runtime import open_database
from crmcore.plugins import get_plugin_manager
from crmcore.services.actor import SYSTEM
from crmcore.services.backup import BackupError, file_kind, restore_backup
from crmcore.settings import Settings
from crmcore.tables import Contact


def run_in_db(settings: Settings, fn: Callable[[Any], Awaitable[Any]]) -> Any:
    """Open the instance's database in this (synchronous) test, run ``fn``, close it."""

    async def main() -> Any:
        db = await open_database(settings.database_url, get_plugin_manager(settings))
        try:
            return await fn(db)
        finally:
            await db.close()

    return asyncio.run(main())


async def seed(_db: Any) -> None:
    from crmcore.services.contacts import create_contact
    from crmcore.services.interactions import log_interaction
    from crmcore.services.webhooks import add_webhook

    for n in range(25):
        contact = await create_contact(
            {
                "first_name": f"Backup{n}",
                "last_name": "زهرایی",
                "email": f"b{n}@example.com",
                "tags": ["restored"],
                "custom": {},
            },
            SYSTEM,
        )
        await log_interaction(
            {"channel": "note", "contact_id": contact["id"], "body": f"note {n} ✓"}, SYSTEM
        )
    await add_webhook("https://example.com/backup-hook", ["*"], SYSTEM)
    await seed_plugins(contact["id"])


async def seed_plugins(contact_id: int) -> None:
    """Rows in plugin tables too: a backup is of the whole database, not only the core."""
    from crm_geo.locations import save_location
    from crm_hr.employees import create_employee

    await create_employee(
        {"employee_number": f"B-{contact_id}", "first_name": "Backup", "contact_id": contact_id},
        SYSTEM,
    )
    await save_location(
        SYSTEM, lat=35.7, lon=51.4, source="manual", label="دفتر", contact_id=contact_id
    )


async def snapshot(db: Any) -> dict[str, list[str]]:
    """Every row of every table, as sorted JSON lines."""
    if db.is_sqlite:
        rows = await Contact.raw("SELECT name FROM sqlite_master WHERE type = 'table'")
        names = sorted(row["name"] for row in rows)
    else:
        rows = await Contact.raw(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
        names = sorted(row["tablename"] for row in rows)
    tables = {}
    for name in names:
        data = await Contact.raw(f'SELECT * FROM "{name}"')
        tables[name] = sorted(
            json.dumps(
                row, default=lambda v: v.hex() if isinstance(v, bytes) else str(v), sort_keys=True
            )
            for row in data
        )
    return tables


async def change_everything(_db: Any) -> None:
    from crmcore.services.contacts import create_contact

    await Contact.delete().where(Contact.first_name.like("Backup1%"))
    await create_contact({"first_name": "After the backup"}, SYSTEM)


@pytest.mark.crm_plugins("*")
def test_backup_then_restore_gives_the_same_rows(crm_cli, crm_settings, tmp_path):
    assert crm_cli("db", "migrate").exit_code == 0
    run_in_db(crm_settings, seed)
    before = run_in_db(crm_settings, snapshot)
    assert len(before["contact"]) >= 25 and before["interaction"]
    assert before["hr_employee"] and before["geo_location"]

    target = tmp_path / "crm.backup"
    made = crm_cli("backup", "-o", str(target))
    assert made.exit_code == 0, made.output
    assert str(target) in made.output and target.stat().st_size > 0
    assert file_kind(target) == ("sqlite" if crm_settings.is_sqlite else "postgres")

    run_in_db(crm_settings, change_everything)
    assert run_in_db(crm_settings, snapshot) != before

    refused = crm_cli("restore", str(target))
    assert refused.exit_code != 0 and "--yes" in refused.output
    restored = crm_cli("restore", str(target), "--yes")
    assert restored.exit_code == 0, restored.output
    assert "up to date" in restored.output
    after = run_in_db(crm_settings, snapshot)
    assert {t: len(r) for t, r in after.items()} == {t: len(r) for t, r in before.items()}
    assert after == before
    assert crm_cli("db", "status").exit_code == 0


def test_backup_refuses_to_overwrite_and_restore_checks_the_file(crm_cli, crm_settings, tmp_path):
    assert crm_cli("db", "migrate").exit_code == 0
    target = tmp_path / "exists.backup"
    target.write_text("keep me")
    clash = crm_cli("backup", str(target))
    assert clash.exit_code != 0 and "already exists" in clash.output
    assert target.read_text() == "keep me"
    bogus = crm_cli("restore", str(target), "--yes")
    assert bogus.exit_code != 0 and "neither a SQLite backup nor a pg_dump" in bogus.output


def test_restore_refuses_a_backup_of_the_other_engine(crm_settings, tmp_path):
    other = tmp_path / "other.backup"
    other.write_bytes(b"PGDMP" if crm_settings.is_sqlite else b"SQLite format 3\x00" + b"\0" * 84)
    with pytest.raises(BackupError, match="restore it into an instance configured for"):
        restore_backup(crm_settings, Path(other))


def test_missing_pg_dump_is_a_clear_error(crm_settings, monkeypatch, tmp_path):
    from crmcore.services.backup import create_backup

    if crm_settings.is_sqlite:
        pytest.skip("SQLite backups need no external tool")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BackupError, match="pg_dump was not found on PATH"):
        create_backup(crm_settings, tmp_path / "x.pgdump")
