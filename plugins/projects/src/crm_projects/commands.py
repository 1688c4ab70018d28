"""``crm projects list|show|status``."""

from __future__ import annotations

from typing import Any

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx
from crmcore.errors import CRMError
from crmcore.services.actor import SYSTEM


def _run(obj: CLIContext, fn: Any) -> Any:
    try:
        return obj.run(fn)
    except CRMError as exc:
        raise click.ClickException(exc.message) from exc


@click.group()
def projects() -> None:
    """Customer projects: progress, schedule health, risks."""


@projects.command("list")
@click.option("--status", help="Only projects in this status (active, on_hold, …).")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of projects.")
@pass_ctx
def list_command(obj: CLIContext, status: str | None, as_json: bool) -> None:
    """Every project with its percent complete and schedule health."""
    from crm_projects.projects import list_projects

    rows = _run(obj, lambda _db: list_projects(SYSTEM, status=status))
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['id']:>5}  {row['name'][:40]:<40} {row['status']:<10} "
            f"{row['percent_complete']:>5.1f}%  {row['health']}"
        )


@projects.command()
@click.argument("project_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="The whole project as JSON.")
@pass_ctx
def show(obj: CLIContext, project_id: int, as_json: bool) -> None:
    """A project with its goals, milestones, tasks, risks and progress."""
    from crm_projects.projects import get_project

    project = _run(obj, lambda _db: get_project(project_id, SYSTEM))
    if as_json:
        echo_json(project)
        return
    click.echo(f"{project['name']} — {project['percent_complete']}% ({project['health']})")
    for milestone in project["milestones"]:
        mark = "x" if milestone["reached_at"] else " "
        click.echo(f"  [{mark}] {milestone['name']} {milestone['due_date'] or ''}")
    for risk in project["risks"][:5]:
        click.echo(f"  risk {risk['score']:>2}: {risk['title']} ({risk['state']})")


@projects.command()
@click.argument("project_id", type=int)
@click.option("--summary", help="Also record a status update with this summary.")
@pass_ctx
def status(obj: CLIContext, project_id: int, summary: str | None) -> None:
    """Print percent complete and schedule health; optionally record a status update."""
    from crm_projects.projects import add_status_update, get_project

    async def go(_db: Any) -> dict[str, Any]:
        if summary:
            await add_status_update(project_id, {"summary": summary}, SYSTEM)
        return await get_project(project_id, SYSTEM)

    project = _run(obj, go)
    click.echo(f"{project['percent_complete']}% complete, {project['health']}")
