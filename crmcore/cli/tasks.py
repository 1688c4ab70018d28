"""``crm tasks list|done``: planned interactions from the command line."""

from __future__ import annotations

from typing import Any

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx
from crmcore.cli.interactions import as_user_option, cli_actor, service_error


@click.group()
def tasks() -> None:
    """Planned interactions: calls to make, meetings to hold, reminders."""


@tasks.command("list")
@click.option("--assignee", help="A user's email, or 'me' (needs --as). Default: everyone.")
@click.option(
    "--status",
    type=click.Choice(["planned", "done", "cancelled", "all"]),
    default="planned",
    show_default=True,
)
@click.option("--due-before", help="Only tasks due before this ISO 8601 date-time.")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of tasks.")
@as_user_option
@pass_ctx
def list_command(
    obj: CLIContext,
    assignee: str | None,
    status: str,
    due_before: str | None,
    limit: int,
    as_json: bool,
    as_user: str | None,
) -> None:
    """Tasks by due date, overdue first."""
    from crmcore.errors import CRMError
    from crmcore.services.tasks import list_tasks
    from crmcore.services.users import get_user_by_email

    async def go(_db: Any) -> list[dict[str, Any]]:
        actor = await cli_actor(as_user)
        who: int | str | None = assignee
        if assignee == "me" and actor.user_id is None:
            raise click.ClickException("--assignee me needs --as EMAIL (or CRM_USER)")
        if assignee and assignee != "me":
            who = (await get_user_by_email(assignee))["id"]
        page = await list_tasks(
            actor,
            assignee=who,
            due_before=due_before,
            status=None if status == "all" else status,
            limit=limit,
        )
        return page.items

    try:
        items = obj.run(go)
    except CRMError as exc:
        raise service_error(exc) from exc
    if as_json:
        echo_json(items)
        return
    if not items:
        click.echo("No tasks.")
    for task in items:
        due = task["due_at"].strftime("%Y-%m-%d %H:%M")
        click.echo(f"{task['id']:>6}  {due}  {task['status']:<9}  {task['subject']}")


@tasks.command("done")
@click.argument("task_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the completed task as JSON.")
@as_user_option
@pass_ctx
def done_command(obj: CLIContext, task_id: int, as_json: bool, as_user: str | None) -> None:
    """Mark task TASK_ID done (records when and by whom)."""
    from crmcore.errors import CRMError
    from crmcore.services.tasks import complete_task

    async def go(_db: Any) -> dict[str, Any]:
        return await complete_task(task_id, await cli_actor(as_user))

    try:
        task = obj.run(go)
    except CRMError as exc:
        raise service_error(exc) from exc
    if as_json:
        echo_json(task)
    else:
        click.echo(f"Task {task_id} done at {task['completed_at']}.")
