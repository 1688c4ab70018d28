"""``crm plugins …``: see, check, enable, disable, install and purge plugins."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx


def _manager(obj: CLIContext, skip_broken: bool = True) -> Any:
    from crmcore.plugins import PluginError, get_plugin_manager

    try:
        return get_plugin_manager(obj.settings, skip_broken=skip_broken)
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc


def _app_modules_of(info: Any) -> list[str]:
    hook = getattr(info.module, "register_piccolo_apps", None)
    return list(hook() or []) if callable(hook) else []


def _pending_by_app(obj: CLIContext, pm: Any) -> dict[str, list[str]] | None:
    """Pending migration ids per Piccolo app, or None when the database does not exist yet."""
    settings = obj.settings
    if settings.is_sqlite:
        from crmcore.db.engine import sqlite_path

        if not Path(sqlite_path(settings.database_url)).exists():
            return None
    from crmcore.db.migrate import migration_status
    from crmcore.db.runtime import open_database

    async def go() -> dict[str, list[str]]:
        db = await open_database(settings.database_url, pm, pool=False)
        try:
            return {s.app: s.pending for s in await migration_status(db)}
        finally:
            await db.close()

    try:
        return asyncio.run(go())
    except OSError:
        return None


def _describe(obj: CLIContext, pm: Any) -> list[dict[str, Any]]:
    import importlib

    pending = _pending_by_app(obj, pm)
    rows = []
    for name in sorted(pm.infos, key=lambda n: (not pm.infos[n].essential, n)):
        info = pm.infos[name]
        row = info.as_dict()
        row["pending_migrations"] = None
        if pending is not None and info.loaded:
            apps = [importlib.import_module(m).APP_CONFIG.app_name for m in _app_modules_of(info)]
            row["pending_migrations"] = sum(len(pending.get(a, [])) for a in apps)
        rows.append(row)
    return rows


@click.group()
def plugins() -> None:
    """Installed plugins: list, inspect, enable, disable, install, purge."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, one object per plugin.")
@pass_ctx
def list_plugins(obj: CLIContext, as_json: bool) -> None:
    """Every installed plugin with its distribution, version, state and hooks."""
    rows = _describe(obj, _manager(obj))
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        state = "essential" if row["essential"] else ("enabled" if row["enabled"] else "disabled")
        if row["error"]:
            state = "BROKEN"
        pending = row["pending_migrations"]
        extra = f", {pending} migration(s) pending" if pending else ""
        click.echo(
            f"{row['name']:<14} {row['distribution']:<16} {row['version']:<10} {state}{extra}"
        )
        if row["error"]:
            click.echo(f"    {row['error']}")


@plugins.command()
@click.argument("name")
@pass_ctx
def info(obj: CLIContext, name: str) -> None:
    """Everything known about one plugin, as JSON."""
    pm = _manager(obj)
    rows = {r["name"]: r for r in _describe(obj, pm)}
    if name not in rows:
        raise click.ClickException(f"no plugin named {name!r} is installed")
    echo_json(rows[name])


@plugins.command()
@pass_ctx
def check(obj: CLIContext) -> None:
    """Load every plugin strictly; print each problem and exit 1 if there is any."""
    from crmcore.plugins import PluginError, get_plugin_manager

    try:
        pm = get_plugin_manager(obj.settings, skip_broken=True)
    except PluginError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from exc
    broken = {n: i.error for n, i in pm.infos.items() if i.error}
    for error in broken.values():
        click.echo(f"error: {error}", err=True)
    if broken:
        raise SystemExit(1)
    click.echo(f"{len(pm.infos)} plugin(s) OK: " + ", ".join(pm.order))


@plugins.command()
@click.argument("name")
@pass_ctx
def enable(obj: CLIContext, name: str) -> None:
    """Enable an installed plugin and apply its pending migrations."""
    from crmcore.settings import write_plugin_state

    pm = _manager(obj)
    info = pm.infos.get(name)
    if info is None:
        raise click.ClickException(f"no plugin named {name!r} is installed")
    missing = [d for d in info.depends if d not in pm.infos or not pm.infos[d].enabled]
    if missing:
        raise click.ClickException(
            f"plugin {name!r} depends on {', '.join(missing)}: enable that first"
        )
    write_plugin_state(obj.settings.home, name, enabled=True)
    obj.reload()
    from crmcore.db.migrate import migrate

    applied = obj.run(migrate)
    click.echo(f"Enabled {name}" + (f"; applied {len(applied)} migration(s)." if applied else "."))


@plugins.command()
@click.argument("name")
@click.option("--cascade", is_flag=True, help="Also disable the plugins that depend on it.")
@pass_ctx
def disable(obj: CLIContext, name: str, cascade: bool) -> None:
    """Disable a plugin. Its tables and data are kept; `enable` brings them back."""
    from crmcore.plugins import dependents_of
    from crmcore.settings import write_plugin_state

    pm = _manager(obj)
    info = pm.infos.get(name)
    if info is None:
        raise click.ClickException(f"no plugin named {name!r} is installed")
    if info.essential:
        raise click.ClickException(f"plugin {name!r} is essential and cannot be disabled")
    dependents = dependents_of(pm, name)
    if dependents and not cascade:
        raise click.ClickException(
            f"cannot disable {name!r}: enabled plugin(s) {', '.join(dependents)} depend on it "
            "(use --cascade to disable them too)"
        )
    for plugin in [*dependents, name]:
        write_plugin_state(obj.settings.home, plugin, enabled=False)
        click.echo(f"Disabled {plugin} (its data is kept).")


@plugins.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Confirm: the plugin's tables and data are deleted.")
@pass_ctx
def purge(obj: CLIContext, name: str, yes: bool) -> None:
    """Delete a plugin's tables and data for good.

    Every table named ``<plugin>_…`` (the naming rule all plugins follow, so raw tables
    such as spatial indexes go too) is dropped, and the plugin's migrations are forgotten:
    enabling it again starts from empty.
    """
    import importlib

    pm = _manager(obj)
    info = pm.infos.get(name)
    if info is None or info.module is None:
        raise click.ClickException(f"no plugin named {name!r} is installed")
    if info.essential:
        raise click.ClickException(f"plugin {name!r} is essential: its data cannot be purged")
    if not yes:
        raise click.ClickException(f"purging deletes all of {name}'s data: add --yes to confirm")
    apps = [importlib.import_module(m).APP_CONFIG.app_name for m in _app_modules_of(info)]

    async def go(database: Any) -> list[str]:
        from crmcore.db.migrate import drop_plugin_tables

        return await drop_plugin_tables(database, prefix=f"{name}_", apps=apps)

    dropped = obj.run(go)
    click.echo(f"Purged the data of {name}: dropped {len(dropped)} table(s).")


def _pip(*args: str) -> None:
    code = subprocess.call([sys.executable, "-m", "pip", *args])
    if code:
        raise SystemExit(code)


@plugins.command()
@click.argument("requirement", nargs=-1, required=True)
def install(requirement: tuple[str, ...]) -> None:
    """pip-install plugin distributions into this environment (e.g. crm-geo)."""
    _pip("install", *requirement)
    click.echo("Installed. Run `crm db migrate` to create the new plugin's tables.")


@plugins.command()
@click.argument("distribution", nargs=-1, required=True)
def uninstall(distribution: tuple[str, ...]) -> None:
    """pip-uninstall plugin distributions (their data stays until `crm plugins purge`)."""
    _pip("uninstall", "-y", *distribution)


from crmcore.cli.scaffold import new as _new  # noqa: E402 - `crm plugins new`

plugins.add_command(_new)
