"""``crm audit show``: read the audit log (there is no command that changes it)."""

from __future__ import annotations

import json
from typing import Any

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx
from crmcore.cli.users import cli_actor, run_service


@click.group()
def audit() -> None:
    """Who changed what, and when."""


@audit.command()
@click.option("--table", help="Only this table (contact, company, crm_user, …).")
@click.option("--record", type=int, help="Only this record id.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def show(obj: CLIContext, table: str | None, record: int | None, limit: int, as_json: bool) -> None:
    """Newest entries first, with field-level before and after values."""
    from crmcore.services.audit import list_audit

    rows: list[dict[str, Any]] = run_service(
        obj, lambda: list_audit(cli_actor(), table=table, record_id=record, limit=limit)
    )
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(
            f"#{row['id']} {row['at'].isoformat(timespec='seconds')} {row['actor_label']} "
            f"{row['action']} {row['table_name']}:{row['record_id']}"
        )
        for field, (before, after) in (row["changes"] or {}).items():
            click.echo(
                f"    {field}: {json.dumps(before, ensure_ascii=False, default=str)} -> "
                f"{json.dumps(after, ensure_ascii=False, default=str)}"
            )
