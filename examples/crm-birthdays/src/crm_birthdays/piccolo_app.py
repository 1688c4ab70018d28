"""The Piccolo app of the `birthdays` plugin: its table and migrations."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from crm_birthdays.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="crm_birthdays",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=TABLES,
    migration_dependencies=["crmcore.piccolo_app"],
    commands=[],
)
