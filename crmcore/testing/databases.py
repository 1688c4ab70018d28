"""Databases for tests: a fresh SQLite file or PostgreSQL database per test, made fast.

Migrating from empty costs a second; tests need it hundreds of times. On SQLite a migrated
file is kept per set of Piccolo apps and copied for each test. On PostgreSQL each test gets
the shared test database with every table emptied.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from crmcore.db.engine import postgres_config
from crmcore.db.migrate import migrate
from crmcore.db.runtime import Database, open_database

_templates: dict[tuple[str, ...], Path] = {}
_migrated_pg: set[tuple[str, tuple[str, ...]]] = set()


async def open_test_database(url: str, pm: Any, template_dir: Path) -> Database:
    """Open ``url`` migrated for the plugins of ``pm``, with no rows in any table."""
    if url.startswith("sqlite:"):
        return await _open_sqlite(url, pm, template_dir)
    return await _open_postgres(url, pm)


async def _open_sqlite(url: str, pm: Any, template_dir: Path) -> Database:
    from crmcore.db.engine import sqlite_path
    from crmcore.db.runtime import app_modules_for

    key = tuple(app_modules_for(pm))
    target = Path(sqlite_path(url))
    template = _templates.get(key)
    if template is not None and template.exists():
        shutil.copyfile(template, target)
        return await open_database(url, pm)
    db = await open_database(url, pm)
    await migrate(db)
    await db.engine.run_ddl("PRAGMA wal_checkpoint(TRUNCATE)")
    template = template_dir / f"template-{uuid.uuid4().hex}.sqlite"
    shutil.copyfile(target, template)
    _templates[key] = template
    return db


async def _open_postgres(url: str, pm: Any) -> Database:
    from crmcore.db.runtime import app_modules_for

    db = await open_database(url, pm)
    key = (url, tuple(app_modules_for(pm)))
    if key not in _migrated_pg:
        await migrate(db)
        _migrated_pg.add(key)
    await truncate_all(db)
    return db


# One round trip that empties only what a test wrote. TRUNCATE costs file work per table
# (most of a second for the whole schema, for every test); checking each table for a row
# costs microseconds, and most tests touch a handful of tables. Sequences of tables that
# were written and emptied again are restarted too, so every test sees ids from 1.
_RESET_SQL = """
DO $$
DECLARE
    kept CONSTANT text[] := ARRAY['migration', 'role'];
    name text;
    written text[] := '{}';
    has_rows boolean;
BEGIN
    FOR name IN
        SELECT tablename FROM pg_tables
        WHERE schemaname = current_schema() AND NOT tablename = ANY (kept)
    LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', name) INTO has_rows;
        IF has_rows THEN
            written := written || quote_ident(name);
        END IF;
    END LOOP;
    IF cardinality(written) > 0 THEN
        EXECUTE 'TRUNCATE ' || array_to_string(written, ', ') || ' RESTART IDENTITY CASCADE';
    END IF;
    FOR name IN
        SELECT format('%I.%I', seq.schemaname, seq.sequencename)
        FROM pg_sequences seq
        JOIN pg_class seq_class
            ON seq_class.relname = seq.sequencename
            AND seq_class.relnamespace = seq.schemaname::regnamespace
        JOIN pg_depend owner
            ON owner.objid = seq_class.oid
            AND owner.classid = 'pg_class'::regclass
            AND owner.refclassid = 'pg_class'::regclass
        JOIN pg_class owner_table ON owner_table.oid = owner.refobjid
        WHERE seq.schemaname = current_schema()
            AND seq.last_value IS NOT NULL
            AND NOT owner_table.relname = ANY (kept)
    LOOP
        EXECUTE 'ALTER SEQUENCE ' || name || ' RESTART';
    END LOOP;
    DELETE FROM role WHERE NOT builtin;
END
$$
"""


async def truncate_all(db: Database) -> None:
    """Empty every table except the migration log and the built-in roles (seed data of a
    migration, which a fresh SQLite copy keeps too), and restart the id sequences."""
    await db.engine._run_in_pool(_RESET_SQL)


async def create_postgres_database(base_url: str) -> str:
    """Create an empty database next to ``base_url``'s and return its URL."""
    config = postgres_config(base_url)
    name = f"crm_t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(**{**config, "database": "postgres"})
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base_url.rsplit("/", 1)[0] + "/" + name


async def drop_postgres_database(url: str) -> None:
    config = postgres_config(url)
    conn = await asyncpg.connect(**{**config, "database": "postgres"})
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{config["database"]}" WITH (FORCE)')
    finally:
        await conn.close()
