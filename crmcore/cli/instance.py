"""``crm init`` and ``crm serve``: create an instance, run it."""

from __future__ import annotations

import os
import sys

import click

from crmcore.cli.context import CLIContext, pass_ctx
from crmcore.settings import ensure_secret_key, read_config_file, write_config_file


@click.command()
@click.option("--admin-email", help="Create this first admin user (no prompt).")
@click.option("--admin-password", help="Password for --admin-email (or CRM_ADMIN_PASSWORD).")
@click.option("--demo", is_flag=True, help="Fill the new instance with demo data.")
@pass_ctx
def init(obj: CLIContext, admin_email: str | None, admin_password: str | None, demo: bool) -> None:
    """Create CRM_HOME, its crm.toml and database, and run every migration.

    Never prompts when standard input is not a terminal; safe to run twice.
    """
    home = obj.settings.home
    home.mkdir(parents=True, exist_ok=True)
    (home / "uploads").mkdir(exist_ok=True)
    ensure_secret_key(home)
    config = read_config_file(home)
    if not config:
        config = {"language": "en", "default_region": "IR", "plugins": {"disabled": []}}
        write_config_file(home, config)
    obj.reload()
    from crmcore.db.migrate import migrate

    applied = obj.run(migrate)
    click.echo(f"Instance ready in {home} ({len(applied)} migration(s) applied).")
    admin_password = admin_password or os.environ.get("CRM_ADMIN_PASSWORD")
    if admin_email is None and sys.stdin.isatty():
        admin_email = (
            click.prompt("First admin email (blank to skip)", default="", show_default=False)
            or None
        )
        if admin_email and not admin_password:
            admin_password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if admin_email:
        if not admin_password:
            raise click.UsageError("--admin-password (or CRM_ADMIN_PASSWORD) is required")
        from crmcore.services.users import create_user

        email, password = admin_email, admin_password
        obj.run(lambda _db: create_user(email=email, password=password, role="admin"))
        click.echo(f"Created admin user {email}.")
    if demo:
        from crmcore.cli.demo import run_demo

        run_demo(obj, contacts=500, seed=42)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="Server processes.")
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
@click.option(
    "--skip-broken-plugins", is_flag=True, help="Skip optional plugins that fail to load."
)
@click.option("--no-jobs", is_flag=True, help="Do not run the embedded job runner here.")
@pass_ctx
def serve(
    obj: CLIContext,
    host: str,
    port: int,
    workers: int,
    reload: bool,
    skip_broken_plugins: bool,
    no_jobs: bool,
) -> None:
    """Serve the web UI and the REST API (uvicorn; several processes with --workers)."""
    import uvicorn

    if skip_broken_plugins or obj.skip_broken:
        os.environ["CRM_SKIP_BROKEN_PLUGINS"] = "1"
    if no_jobs:
        os.environ["CRM_EMBEDDED_JOBS"] = "0"
    obj.skip_broken = os.environ.get("CRM_SKIP_BROKEN_PLUGINS") == "1"
    for name, info in obj.pm.infos.items():
        if info.error:
            click.echo(f"warning: skipped plugin {name}: {info.error}", err=True)
    os.environ.setdefault("CRM_HOME", str(obj.settings.home))
    uvicorn.run(
        "crmcore.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        reload=reload,
        log_level="info",
    )
