"""The Piccolo app of the test plugin."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from probe_notes.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="probe_notes",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=TABLES,
    migration_dependencies=["crmcore.piccolo_app"],
    commands=[],
)
