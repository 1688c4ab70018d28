"""The Piccolo app of the `automation` built-in: its tables and migrations."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from crmcore.automation_app.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="crm_automation",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=TABLES,
    migration_dependencies=["crmcore.piccolo_app"],
    commands=[],
)
