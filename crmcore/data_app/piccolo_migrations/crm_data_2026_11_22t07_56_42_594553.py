from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-22T07:56:42:594553"
VERSION = "1.38.0"
DESCRIPTION = "import runner lease"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="crm_data", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="DataImport",
        tablename="data_import",
        column_name="runner",
        db_column_name="runner",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 64,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
