"""Hook implementations of the `birthdays` plugin.

Every morning a job creates a task for the owner of each contact whose birthday is within
the next days (7 by default; `[plugins.birthdays] days_ahead` in crm.toml). The contact page
shows the next birthday; `crm birthdays` lists and sends reminders by hand.

Only crmcore's public interfaces are used: the hooks, `crmcore.jobs`, the services and the
core tables for reading.
"""

from __future__ import annotations

from typing import Any

from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest

from crm_birthdays import __version__

manifest = Manifest(
    name="birthdays",
    version=__version__,
    description="Reminds owners of their contacts' birthdays",
    depends=(),
    core=">=0.1,<0.2",
)


@hookimpl
def register_piccolo_apps() -> list[str]:
    return ["crm_birthdays.piccolo_app"]


@hookimpl
def register_jobs() -> list[Any]:
    from crmcore.jobs import Job

    from crm_birthdays.jobs import remind

    # 06:00 UTC, ahead of the working day; one run per day however many workers are up.
    return [Job("birthdays.remind", remind, schedule="0 6 * * *", retries=3)]


@hookimpl
def register_commands(cli: Any) -> None:
    from crm_birthdays.commands import birthdays

    cli.add_command(birthdays)


@hookimpl
def event_types() -> list[str]:
    return ["birthdays.reminder_created"]


@hookimpl
async def contact_panels(request: Any, contact: dict[str, Any]) -> list[Any]:
    from crm_birthdays.panels import birthday_panels

    return await birthday_panels(contact)


@hookimpl
async def export_contact_data(contact_id: int) -> dict[str, Any]:
    from crm_birthdays.reminders import reminders_of

    return {"reminders": await reminders_of(contact_id)}


@hookimpl
async def erase_contact_data(contact_id: int) -> None:
    from crm_birthdays.reminders import erase_reminders

    await erase_reminders(contact_id)


@hookimpl
async def contact_merged(survivor_id: int, merged_id: int) -> None:
    from crm_birthdays.reminders import move_reminders

    await move_reminders(merged_id, survivor_id)
