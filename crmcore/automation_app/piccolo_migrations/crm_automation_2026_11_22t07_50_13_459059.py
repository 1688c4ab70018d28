"""A composite index for the embedded queue's claim query (due jobs by status and time)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T07:50:13:459059"
VERSION = "1.38.0"
DESCRIPTION = "job claim index"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="crm_automation", description=DESCRIPTION)

    async def run():
        from crmcore.automation_app.tables import QueuedJob

        engine = QueuedJob._meta.db
        await engine.run_ddl(
            "CREATE INDEX IF NOT EXISTS automation_job_due_idx ON automation_job (status, run_at)"
        )

    manager.add_raw(run)

    return manager
