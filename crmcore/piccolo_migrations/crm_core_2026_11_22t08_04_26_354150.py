"""Tag names are unique ignoring case ("VIP" and "vip" are one tag).

The services look tags up by ``lower(name)``; this index lets concurrent writers that
create the same new tag insert it with ``ON CONFLICT DO NOTHING`` and both use the one
row, instead of one of them failing (PostgreSQL) or two spellings surviving.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T08:04:26:354150"
VERSION = "1.38.0"
DESCRIPTION = "tag names unique ignoring case"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="crm_core", description=DESCRIPTION)

    async def create_index():
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS tag_name_lower ON tag (lower(name))"
        )

    async def drop_index():
        await engine_finder().run_ddl("DROP INDEX IF EXISTS tag_name_lower")

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
