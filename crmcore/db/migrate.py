"""Migrations per Piccolo app: apply pending ones in order, and report what is pending.

Each plugin owns a Piccolo app with its own ``piccolo_migrations`` folder. The core's app
always goes first, then plugins in dependency order, so a plugin's foreign keys to core
tables always find them.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.commands.forwards import ForwardsMigrationManager
from piccolo.apps.migrations.tables import Migration

from crmcore.db.runtime import Database


class MigrationError(Exception):
    """A migration failed; the message names the app and the migration."""


@dataclass(frozen=True)
class AppStatus:
    app: str
    applied: list[str]
    pending: list[str]

    def as_dict(self) -> dict[str, object]:
        return {"app": self.app, "applied": self.applied, "pending": self.pending}


async def _ensure_migration_table() -> None:
    await BaseMigrationManager().create_migration_table()


async def migration_status(database: Database) -> list[AppStatus]:
    """Applied and pending migration ids for every app of the enabled plugins."""
    await _ensure_migration_table()
    manager = BaseMigrationManager()
    statuses = []
    for config in database.app_configs():
        modules = manager.get_migration_modules(config.resolved_migrations_folder_path)
        ids = sorted(modules)
        ran = set(await Migration.get_migrations_which_ran(app_name=config.app_name))
        statuses.append(
            AppStatus(
                app=config.app_name,
                applied=[i for i in ids if i in ran],
                pending=[i for i in ids if i not in ran],
            )
        )
    return statuses


async def migrate(database: Database, app_name: str | None = None) -> list[str]:
    """Apply pending migrations (of one app, or of all in order); return what was applied."""
    await _ensure_migration_table()
    if database.is_sqlite:
        # WAL is a property of the file: setting it once here makes it stick for every process.
        await database.engine.run_ddl("PRAGMA journal_mode = WAL")
    names = database.app_names()
    if app_name is not None:
        if app_name not in names:
            raise MigrationError(f"no enabled plugin owns the Piccolo app {app_name!r}")
        names = [app_name]
    applied: list[str] = []
    for status in await migration_status(database):
        if status.app not in names or not status.pending:
            continue
        output = io.StringIO()
        try:
            with contextlib.redirect_stdout(output):
                result = await ForwardsMigrationManager(app_name=status.app).run()
        except Exception as exc:
            raise MigrationError(f"{status.app}: migration failed: {exc}") from exc
        if not result.success:
            raise MigrationError(f"{status.app}: {result.message}")
        applied.extend(f"{status.app}:{mid}" for mid in status.pending)
    return applied


async def drop_plugin_tables(database: Database, *, prefix: str, apps: list[str]) -> list[str]:
    """Drop every table whose name starts with ``prefix`` and forget ``apps``' migrations.

    Plugins prefix all their tables (``geo_``, ``hr_``…), including raw ones a Piccolo
    table class does not describe, so the prefix finds them all. One transaction.
    """
    engine = database.engine
    pattern = prefix.replace("_", r"\_") + "%"
    if database.is_sqlite:
        listing = (
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            f"AND name LIKE '{pattern}' ESCAPE '\\'"
        )
    else:
        listing = (
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() "
            f"AND tablename LIKE '{pattern}' ESCAPE '\\'"
        )
    await _ensure_migration_table()
    async with engine.transaction():
        names = [row["name"] for row in await engine.run_ddl(listing)]
        if database.is_sqlite:
            # Foreign keys between the plugin's own tables must not block the drops.
            await engine.run_ddl("PRAGMA defer_foreign_keys = ON")
        for table in names:
            cascade = "" if database.is_sqlite else " CASCADE"
            await engine.run_ddl(f'DROP TABLE IF EXISTS "{table}"{cascade}')
        for app in apps:
            await Migration.delete().where(Migration.app_name == app)
    return names
