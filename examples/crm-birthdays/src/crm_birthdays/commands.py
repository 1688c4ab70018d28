"""`crm birthdays upcoming` and `crm birthdays remind`: the same service the daily job uses,
for a look ahead or a catch-up run (for example after the plugin was installed)."""

from __future__ import annotations

from datetime import date
from typing import Any

import click
from crmcore.cli.context import CLIContext, echo_json, pass_ctx

_days_option = click.option(
    "--days", type=click.IntRange(0, 60), default=None, help="Days ahead (default: crm.toml or 7)."
)
_today_option = click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Pretend today is this date (YYYY-MM-DD).",
)


def _today(value: Any) -> date:
    from crmcore.jobs import clock

    return value.date() if value is not None else clock.now().date()


@click.group()
def birthdays() -> None:
    """Birthday reminders for contact owners."""


@birthdays.command()
@_days_option
@_today_option
@click.option("--json", "as_json", is_flag=True, help="A JSON array of birthdays.")
@pass_ctx
def upcoming(obj: CLIContext, days: int | None, today: Any, as_json: bool) -> None:
    """Contacts whose birthday is today or in the next days."""
    from crm_birthdays.reminders import days_ahead, upcoming_birthdays

    window = days if days is not None else days_ahead(obj.settings)

    async def go(_db: Any) -> list[Any]:
        return await upcoming_birthdays(_today(today), window)

    found = obj.run(go)
    rows = [
        {
            "contact_id": b.contact_id,
            "name": b.name,
            "owner_id": b.owner_id,
            "date": b.occurs_on.isoformat(),
            "age": b.age,
        }
        for b in found
    ]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['date']}  {row['name']} ({row['age']})  contact {row['contact_id']}")
    if not rows:
        click.echo("No birthdays in that window.")


@birthdays.command()
@_days_option
@_today_option
@click.option("--json", "as_json", is_flag=True, help="What was done, as JSON.")
@pass_ctx
def remind(obj: CLIContext, days: int | None, today: Any, as_json: bool) -> None:
    """Create the reminder tasks now (birthdays already reminded are skipped)."""
    from crm_birthdays.reminders import days_ahead, send_reminders

    window = days if days is not None else days_ahead(obj.settings)

    async def go(_db: Any) -> Any:
        return await send_reminders(_today(today), window)

    result = obj.run(go)
    if as_json:
        echo_json(result.as_dict())
        return
    click.echo(
        f"{len(result.created)} reminder(s) created, {result.already_reminded} already sent."
    )
    if result.without_owner:
        ids = ", ".join(str(i) for i in result.without_owner)
        click.echo(f"No owner, so no reminder: contact(s) {ids}.")
