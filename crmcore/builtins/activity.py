"""Built-in plugin `activity`: interactions, planned tasks, timelines and calendar feeds.

It registers like any plugin: its REST routes through ``register_api_routes`` (mounted at
``/api/v1``, being essential) and its commands (``crm interactions``, ``crm tasks``,
``crm demo``) through ``register_commands``. Imports happen inside the hooks so that
``crm --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

from crmcore import __version__
from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest

manifest = Manifest(
    name="activity",
    version=__version__,
    description="Interactions, planned tasks, timelines and calendar feeds",
    depends=("core",),
)


@hookimpl
def register_api_routes() -> list[Any]:
    from crmcore.api.calendar import calendar_feed, my_calendar_feed
    from crmcore.api.interactions import InteractionController
    from crmcore.api.tasks import TaskController
    from crmcore.api.timeline import timeline

    return [InteractionController, TaskController, timeline, calendar_feed, my_calendar_feed]


@hookimpl
def register_commands(cli: Any) -> None:
    from crmcore.cli.demo import demo
    from crmcore.cli.interactions import interactions
    from crmcore.cli.tasks import tasks

    cli.add_command(interactions)
    cli.add_command(tasks)
    cli.add_command(demo)


@hookimpl
def event_types() -> list[str]:
    return [
        "interaction.logged",
        "interaction.updated",
        "interaction.deleted",
        "task.created",
        "task.completed",
        "task.cancelled",
    ]
