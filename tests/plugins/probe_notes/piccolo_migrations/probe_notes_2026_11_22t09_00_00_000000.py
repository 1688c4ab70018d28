"""Create ``probe_notes_note`` (written with MigrationManager, as `crm plugins new` does)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Serial, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-22T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "probe notes"

DEFAULTS = {
    "null": False,
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="probe_notes", description=DESCRIPTION)
    manager.add_table(
        class_name="ProbeNote", tablename="probe_notes_note", schema=None, columns=None
    )
    for name, column_class, params in (
        ("id", Serial, {"primary_key": True}),
        ("text", Varchar, {"length": 200, "default": ""}),
    ):
        manager.add_column(
            table_class_name="ProbeNote",
            tablename="probe_notes_note",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params={**DEFAULTS, **params},
            schema=None,
        )
    return manager
