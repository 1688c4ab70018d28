"""The ``crm_data`` Piccolo app: its tables and migrations."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from crmcore.data_app.tables import DATA_TABLES

APP_CONFIG = AppConfig(
    app_name="crm_data",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=DATA_TABLES,
    migration_dependencies=["crmcore.piccolo_app"],
    commands=[],
)
