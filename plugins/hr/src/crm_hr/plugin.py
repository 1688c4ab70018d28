"""Hook implementations of the `hr` plugin.

HR data is the most sensitive in the CRM: its permissions restrict fields through the
core's field-level access rules, so no response, page, export or audit entry shows them to
a reader without the permission. Heavy modules load inside the hooks.
"""

from __future__ import annotations

from typing import Any

from crm_hr import __version__
from crmcore.hookspecs import hookimpl
from crmcore.permissions import Permission
from crmcore.plugins import Manifest

manifest = Manifest(
    name="hr",
    version=__version__,
    description="Employees, departments, reviews, benefits and leave, with restricted access",
    depends=(),
    core=">=0.1,<0.2",
)

COMPENSATION_FIELDS = (
    ("hr_employee", "salary"),
    ("hr_employee", "salary_currency"),
    ("hr_job_change", "salary"),
    ("hr_job_change", "salary_currency"),
)
SENSITIVE_FIELDS = (
    ("hr_employee", "national_id"),
    ("hr_employee", "bank_account"),
    ("hr_employee", "emergency_contact"),
    ("hr_employee", "health_notes"),
    ("hr_enrolment", "dependants"),
)


@hookimpl
def register_piccolo_apps() -> list[str]:
    return ["crm_hr.piccolo_app"]


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission("hr.view", "See the HR records of the people you manage, and the org chart"),
        Permission("hr.manage", "See and change every HR record (HR administrators)"),
        Permission("hr.view_compensation", "See salaries", restricts=COMPENSATION_FIELDS),
        Permission(
            "hr.view_sensitive",
            "See national IDs, bank details, emergency contacts, health notes and dependants",
            restricts=SENSITIVE_FIELDS,
        ),
    ]


@hookimpl
def event_types() -> list[str]:
    return [
        "hr.employee_created",
        "hr.leave_requested",
        "hr.leave_approved",
        "hr.leave_rejected",
    ]


@hookimpl
def register_api_routes() -> list[Any]:
    from crm_hr.api import EmployeeController, OrgController

    return [EmployeeController, OrgController]


@hookimpl
def register_routes() -> list[Any]:
    from crm_hr.pages import page_handlers

    return page_handlers()


@hookimpl
def register_commands(cli: Any) -> None:
    from crm_hr.commands import hr

    cli.add_command(hr)


@hookimpl
def menu_links(request: Any) -> list[Any]:
    from crmcore.web.hooks import MenuLink
    from crmcore.web.templating import translator_for

    return [MenuLink(label=translator_for(request).gettext("People"), url="/hr/", order=70)]


@hookimpl
async def contact_merged(survivor_id: int, merged_id: int) -> None:
    from crm_hr.privacy import move_contact

    await move_contact(merged_id, survivor_id)


@hookimpl
async def export_contact_data(contact_id: int, actor: Any) -> dict[str, Any]:
    from crm_hr.privacy import export_contact

    return await export_contact(contact_id, actor)


@hookimpl
async def erase_contact_data(contact_id: int) -> None:
    from crm_hr.privacy import erase_contact

    await erase_contact(contact_id)
