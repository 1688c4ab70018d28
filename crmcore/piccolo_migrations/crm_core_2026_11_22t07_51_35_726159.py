"""Built-in roles, and an audit log the application can only append to.

* Roles ``admin`` (everything), ``manager`` (reads and writes everywhere, all records),
  ``agent`` (contacts and interactions, own records only) and ``viewer`` (read-only). Their
  permission patterns are expanded at request time (see crmcore/services/roles.py), so
  ``*.read`` also covers plugins installed later.
* ``audit_log`` refuses UPDATE and DELETE through triggers. Two exceptions: the
  ``ON DELETE SET NULL`` of its ``actor`` foreign key may clear the id of a deleted user
  (the label stays), and privacy erasure may scrub values through
  ``crmcore.services.audit_admin.scrub_audit_for`` (PostgreSQL: the transaction-local
  setting ``crm.audit_scrub``; SQLite: the update trigger is dropped and re-created inside
  the erasure transaction).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T07:51:35:726159"
VERSION = "1.38.0"
DESCRIPTION = "seed built-in roles, append-only audit log"

ROLES = (
    ("admin", "Everything, including users, roles and settings", '["*"]', "all"),
    (
        "manager",
        "Reads and writes everywhere on all records; no user or privacy administration",
        '["*.read", "*.write", "contacts.*", "interactions.*", "settings.manage", '
        '"audit.read", "automation.manage", "jobs.manage"]',
        "all",
    ),
    (
        "agent",
        "Contacts and interactions, limited to the records the user owns or is assigned",
        '["contacts.read", "contacts.write", "interactions.write"]',
        "own",
    ),
    ("viewer", "Reads everything it may see, changes nothing", '["*.read"]', "all"),
)

POSTGRES = (
    """
    CREATE OR REPLACE FUNCTION crm_audit_log_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND current_setting('crm.audit_scrub', true) = 'on' THEN
            RETURN NEW;
        END IF;
        IF TG_OP = 'UPDATE' AND NEW.actor IS NULL AND OLD.actor IS NOT NULL
           AND (NEW.id, NEW.at, NEW.actor_label, NEW.action, NEW.table_name,
                NEW.record_id, NEW.changes::text, NEW.plugin)
               IS NOT DISTINCT FROM
               (OLD.id, OLD.at, OLD.actor_label, OLD.action, OLD.table_name,
                OLD.record_id, OLD.changes::text, OLD.plugin) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
    END
    $$
    """,
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION crm_audit_log_append_only()",
)

SQLITE = (
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN "
    "SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END",
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OF "
    "id, at, actor_label, action, table_name, record_id, changes, plugin ON audit_log BEGIN "
    "SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_log_actor_only_cleared BEFORE UPDATE OF actor ON audit_log "
    "WHEN NEW.actor IS NOT NULL BEGIN "
    "SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="crm_core", description=DESCRIPTION)

    async def seed_roles_and_protect_audit():
        engine = engine_finder()
        true = "1" if engine.engine_type == "sqlite" else "true"
        for name, description, permissions, scope in ROLES:
            await engine.run_ddl(
                "INSERT INTO role (name, description, permissions, record_scope, builtin) "
                f"VALUES ({_quote(name)}, {_quote(description)}, {_quote(permissions)}, "
                f"{_quote(scope)}, {true}) ON CONFLICT (name) DO NOTHING"
            )
        for statement in SQLITE if engine.engine_type == "sqlite" else POSTGRES:
            await engine.run_ddl(statement)

    async def unprotect_audit_and_drop_roles():
        engine = engine_finder()
        if engine.engine_type == "sqlite":
            for trigger in (
                "audit_log_no_delete",
                "audit_log_no_update",
                "audit_log_actor_only_cleared",
            ):
                await engine.run_ddl(f"DROP TRIGGER IF EXISTS {trigger}")
        else:
            await engine.run_ddl("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
            await engine.run_ddl("DROP FUNCTION IF EXISTS crm_audit_log_append_only()")
        names = ", ".join(_quote(role[0]) for role in ROLES)
        await engine.run_ddl(f"DELETE FROM role WHERE builtin AND name IN ({names})")

    manager.add_raw(seed_roles_and_protect_audit)
    manager.add_raw_backwards(unprotect_audit_and_drop_roles)
    return manager
