"""``crm backup`` and ``crm restore``: copy the database out, or put a copy back."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from crmcore.cli.context import CLIContext, pass_ctx


@click.command()
@click.argument("target", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Backup file (default: CRM_HOME/backups/crm-<time>.sqlite|.pgdump).",
)
@pass_ctx
def backup(obj: CLIContext, target: Path | None, output: Path | None) -> None:
    """Write a consistent backup of the database to TARGET (or -o FILE) while the CRM keeps
    running (SQLite online backup, or pg_dump -Fc for PostgreSQL)."""
    from crmcore.services.backup import BackupError, create_backup

    if target is not None and output is not None and target != output:
        raise click.UsageError("give the backup file once: as TARGET or with -o")
    try:
        result = create_backup(obj.settings, target or output)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Backup written to {result.path} ({result.size:,} bytes, {result.engine}).")


@click.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def restore(obj: CLIContext, source: Path, yes: bool) -> None:
    """Replace the database with the backup SOURCE, then check that it opens and migrates.
    Stop `crm serve` and `crm worker` first."""
    from crmcore.services.backup import BackupError, restore_backup, verify_database

    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("restoring replaces the whole database: pass --yes to confirm")
        click.confirm(f"Replace the database of {obj.settings.home} with {source}?", abort=True)

    try:
        restore_backup(obj.settings, source)
        report = asyncio.run(verify_database(obj.settings, obj.pm))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Restored {source}.")
    for migration in report["applied"]:
        click.echo(f"applied {migration}")
    click.echo(f"Checked: the database opens and all {len(report['apps'])} apps are up to date.")
