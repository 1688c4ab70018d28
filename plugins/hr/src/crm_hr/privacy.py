"""What the HR plugin stores about a person (through the employee's contact)."""

from __future__ import annotations

from typing import Any

from crm_hr.tables import Employee, Enrolment, JobChange, LeaveRequest, Review
from crmcore.services.audit import jsonable


async def export_contact(contact_id: int) -> dict[str, Any]:
    employees = await Employee.select().where(Employee.contact == contact_id)
    out = []
    for employee in employees:
        eid = employee["id"]
        out.append(
            {
                "employee": jsonable(employee),
                "history": jsonable(await JobChange.select().where(JobChange.employee == eid)),
                "reviews": jsonable(await Review.select().where(Review.employee == eid)),
                "enrolments": jsonable(
                    await Enrolment.select().where(Enrolment.employee == eid).output(load_json=True)
                ),
                "leave": jsonable(await LeaveRequest.select().where(LeaveRequest.employee == eid)),
            }
        )
    return {"employees": out}


async def erase_contact(contact_id: int) -> None:
    """Remove the employee records (and, by cascade, their history) of this person."""
    await Employee.delete().where(Employee.contact == contact_id)


async def move_contact(merged_id: int, survivor_id: int) -> None:
    await Employee.update({Employee.contact: survivor_id}).where(Employee.contact == merged_id)
