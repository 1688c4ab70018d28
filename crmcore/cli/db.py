"""``crm db migrate|status|makemigrations``."""

from __future__ import annotations

from typing import Any

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx


@click.group()
def db() -> None:
    """Database migrations of the core and the enabled plugins."""


@db.command()
@click.option("--plugin", "plugin", help="Only this plugin's migrations.")
@pass_ctx
def migrate(obj: CLIContext, plugin: str | None) -> None:
    """Apply pending migrations, core first, then plugins in dependency order."""
    from crmcore.db.migrate import MigrationError
    from crmcore.db.migrate import migrate as run_migrate

    async def go(database: Any) -> list[str]:
        app = None
        if plugin is not None:
            app = app_of_plugin(obj, database, plugin)
        return await run_migrate(database, app)

    try:
        applied = obj.run(go)
    except MigrationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("\n".join(f"applied {m}" for m in applied) or "Nothing to migrate.")


def app_of_plugin(obj: CLIContext, database: Any, plugin: str) -> str:
    info = obj.pm.infos.get(plugin)
    if info is None or not info.loaded:
        raise click.ClickException(f"plugin {plugin!r} is not installed or not enabled")
    modules = [r for n, r in obj.pm.call_in_order("register_piccolo_apps") if n == plugin]
    if not modules or not modules[0]:
        raise click.ClickException(f"plugin {plugin!r} has no database tables")
    import importlib

    return importlib.import_module(modules[0][0]).APP_CONFIG.app_name


@db.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def status(obj: CLIContext, as_json: bool) -> None:
    """Applied and pending migrations per app; exits 1 when anything is pending."""
    from crmcore.db.migrate import migration_status

    statuses = obj.run(migration_status)
    if as_json:
        echo_json([s.as_dict() for s in statuses])
    else:
        for s in statuses:
            state = f"{len(s.pending)} pending" if s.pending else "up to date"
            click.echo(f"{s.app:<24} {len(s.applied):>3} applied  {state}")
            for mid in s.pending:
                click.echo(f"    pending: {mid}")
    if any(s.pending for s in statuses):
        raise SystemExit(1)


@db.command()
@click.argument("app_name")
@click.option("--desc", default="", help="A short description for the migration file name.")
@click.option("--empty", is_flag=True, help="An empty migration to fill with raw SQL.")
@pass_ctx
def makemigrations(obj: CLIContext, app_name: str, desc: str, empty: bool) -> None:
    """(For plugin authors) write a new migration for APP_NAME from its table classes."""
    from piccolo.apps.migrations.commands.new import new

    async def go(database: Any) -> None:
        await new(app_name=app_name, auto=not empty, desc=desc, auto_input="y")

    obj.run(go)
