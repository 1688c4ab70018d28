"""Hook implementations of the `projects` plugin.

Kept light at import time: ``crm --help`` imports every enabled plugin's module, so the
modules that pull in Litestar, click or the tables are imported inside the hooks.
"""

from __future__ import annotations

from typing import Any

from crm_projects import __version__
from crmcore.hookspecs import hookimpl
from crmcore.permissions import Permission
from crmcore.plugins import Manifest

manifest = Manifest(
    name="projects",
    version=__version__,
    description="Customer projects: goals, milestones, tasks, risks and progress",
    depends=(),
    core=">=0.1,<0.2",
)


@hookimpl
def register_piccolo_apps() -> list[str]:
    return ["crm_projects.piccolo_app"]


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission("projects.read", "See customer projects"),
        Permission("projects.write", "Create and change customer projects"),
    ]


@hookimpl
def event_types() -> list[str]:
    return [
        "projects.project_created",
        "projects.milestone_reached",
        "projects.risk_raised",
        "projects.stage_changed",
        "projects.status_update",
    ]


@hookimpl
def register_api_routes() -> list[Any]:
    from crm_projects.api import ProjectController

    return [ProjectController]


@hookimpl
def register_routes() -> list[Any]:
    from crm_projects.pages import page_handlers

    return page_handlers()


@hookimpl
def register_commands(cli: Any) -> None:
    from crm_projects.commands import projects

    cli.add_command(projects)


@hookimpl
def menu_links(request: Any) -> list[Any]:
    from crmcore.web.hooks import MenuLink
    from crmcore.web.templating import translator_for

    label = translator_for(request).gettext("Projects")
    return [MenuLink(label=label, url="/projects/", order=50, permission="projects.read")]


@hookimpl
async def timeline_entries(contact_id: int, limit: int) -> list[Any]:
    from crm_projects.timeline import entries_for_contact

    return await entries_for_contact(contact_id, limit)


@hookimpl
async def task_completed(interaction: Any, actor: Any) -> None:
    from crm_projects.work import calendar_task_completed

    await calendar_task_completed(interaction)


@hookimpl
async def contact_merged(survivor_id: int, merged_id: int) -> None:
    from crm_projects.privacy import move_contact

    await move_contact(merged_id, survivor_id)


@hookimpl
async def export_contact_data(contact_id: int) -> dict[str, Any]:
    from crm_projects.privacy import export_contact

    return await export_contact(contact_id)


@hookimpl
async def erase_contact_data(contact_id: int) -> None:
    from crm_projects.privacy import erase_contact

    await erase_contact(contact_id)
