"""The database layer: SQLite tuned for a server, PostgreSQL pooled, both migrated."""

from __future__ import annotations

import anyio
import pytest

from crmcore.db.engine import ServerSQLiteEngine, engine_from_url, postgres_config
from crmcore.services.transaction import after_commit, write_transaction
from crmcore.tables import Tag


async def test_concurrent_read_then_write_transactions_never_lock(crm_db):
    """16 writers each read a counter and write it back, 25 times: no 'database is locked'."""
    await Tag.insert(Tag(name="counter", color="0"))
    errors: list[BaseException] = []

    async def writer(n: int) -> None:
        for i in range(25):
            try:
                async with write_transaction():
                    query = Tag.select(Tag.color).where(Tag.name == "counter")
                    if not crm_db.is_sqlite:  # SQLite's IMMEDIATE already serialises writers
                        query = query.lock_rows()
                    row = await query.first()
                    await Tag.update({Tag.color: str(int(row["color"]) + 1)}).where(
                        Tag.name == "counter"
                    )
                    await Tag.insert(Tag(name=f"w{n}-{i}"))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    async with anyio.create_task_group() as tg:
        for n in range(16):
            tg.start_soon(writer, n)
    assert errors == []
    row = await Tag.select(Tag.color).where(Tag.name == "counter").first()
    assert row["color"] == str(16 * 25)
    assert await Tag.count() == 16 * 25 + 1


async def test_sqlite_runs_in_wal_with_foreign_keys(crm_db):
    if not crm_db.is_sqlite:
        pytest.skip("SQLite only")
    assert isinstance(crm_db.engine, ServerSQLiteEngine)
    assert (await crm_db.engine.run_ddl("PRAGMA journal_mode"))[0]["journal_mode"] == "wal"
    assert (await crm_db.engine.run_ddl("PRAGMA foreign_keys"))[0]["foreign_keys"] == 1


async def test_postgres_uses_a_connection_pool(crm_db):
    if crm_db.is_sqlite:
        pytest.skip("PostgreSQL only")
    assert crm_db.engine.pool is not None


async def test_after_commit_callbacks_run_only_on_commit(crm_db):
    calls: list[str] = []

    async def note() -> None:
        calls.append("ran")

    async with write_transaction():
        await Tag.insert(Tag(name="kept"))
        after_commit(note)
        assert calls == []
    assert calls == ["ran"]

    with pytest.raises(RuntimeError):
        async with write_transaction():
            await Tag.insert(Tag(name="rolled-back"))
            after_commit(note)
            raise RuntimeError("abort")
    assert calls == ["ran"]
    assert await Tag.exists().where(Tag.name == "rolled-back") is False


def test_engine_from_url():
    assert isinstance(engine_from_url("sqlite:////tmp/x.sqlite"), ServerSQLiteEngine)
    assert postgres_config("postgresql://u:p%40ss@db:6543/crm") == {
        "host": "db",
        "port": 6543,
        "database": "crm",
        "user": "u",
        "password": "p@ss",
    }
    with pytest.raises(ValueError, match="unsupported"):
        engine_from_url("mysql://x")
