"""What the HR plugin stores about a person (through the employee's contact)."""

from __future__ import annotations

from typing import Any

from crm_hr.access import present
from crm_hr.tables import Employee, Enrolment, JobChange, LeaveRequest, Review
from crmcore.services.actor import Actor
from crmcore.services.audit import jsonable


async def export_contact(contact_id: int, actor: Actor) -> dict[str, Any]:
    """The person's employee records as ``actor`` may read them: salaries only with
    ``hr.view_compensation``; national ID, bank details, emergency contact, health notes
    and dependants only with ``hr.view_sensitive`` (the system actor has both). Restricted
    values that are exported are audited like any other outside read of them."""
    out = []
    for employee in await Employee.select().where(Employee.contact == contact_id):
        eid = employee["id"]
        history = await JobChange.select().where(JobChange.employee == eid)
        reviews = await Review.select().where(Review.employee == eid)
        enrolments = (
            await Enrolment.select().where(Enrolment.employee == eid).output(load_json=True)
        )
        leave = await LeaveRequest.select().where(LeaveRequest.employee == eid)
        out.append(
            {
                "employee": (await _shown("hr_employee", [employee], actor, eid))[0],
                "history": await _shown("hr_job_change", history, actor, eid),
                "reviews": await _shown("hr_review", reviews, actor, eid),
                "enrolments": await _shown("hr_enrolment", enrolments, actor, eid),
                "leave": await _shown("hr_leave_request", leave, actor, eid),
            }
        )
    return {"employees": out}


async def _shown(
    table: str, rows: list[dict[str, Any]], actor: Actor, employee_id: int
) -> list[dict[str, Any]]:
    return [await present(table, row, actor, employee_id) for row in jsonable(rows)]


async def erase_contact(contact_id: int) -> None:
    """Remove the employee records (and, by cascade, their history) of this person."""
    await Employee.delete().where(Employee.contact == contact_id)


async def move_contact(merged_id: int, survivor_id: int) -> None:
    await Employee.update({Employee.contact: survivor_id}).where(Employee.contact == merged_id)
