"""Interaction indexes Piccolo cannot model: partial and composite ones.

* ``interaction_source_external_id``: an external interaction (``source`` + ``external_id``)
  is stored once; the database enforces it, so concurrent ingestion cannot double it.
* ``interaction_contact_time``: a contact's timeline and interaction list, newest first.
* ``interaction_task_due``: open tasks per assignee by due date (task lists, calendar feeds).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T07:47:37:292137"
VERSION = "1.38.0"
DESCRIPTION = "interaction external id unique per source"

INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS interaction_source_external_id "
    "ON interaction (source, external_id) WHERE external_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS interaction_contact_time "
    "ON interaction (contact, occurred_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS interaction_task_due "
    "ON interaction (assignee, status, due_at) WHERE status IS NOT NULL",
)
NAMES = ("interaction_source_external_id", "interaction_contact_time", "interaction_task_due")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="crm_core", description=DESCRIPTION)

    async def create_indexes():
        # Same SQL on both engines: SQLite and PostgreSQL both support partial indexes.
        engine = engine_finder()
        for statement in INDEXES:
            await engine.run_ddl(statement)

    async def drop_indexes():
        engine = engine_finder()
        for name in NAMES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
