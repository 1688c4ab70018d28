"""Benefit plans and enrolments with dates and dependants (dependants are restricted)."""

from __future__ import annotations

from typing import Any

from crm_hr.access import check_can_manage, check_can_read, present
from crm_hr.tables import BENEFIT_KINDS, BenefitPlan, Employee, Enrolment
from crm_hr.values import choice, day, jsonable_row, text
from crmcore.errors import ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import diff, record_audit
from crmcore.services.transaction import write_transaction


async def create_plan(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    check_can_manage(actor)
    values = {
        "name": text(data, "name", 200, required=True),
        "kind": choice(data, "kind", BENEFIT_KINDS, "other"),
        "description": text(data, "description", 5000),
    }
    rows = await BenefitPlan.insert(BenefitPlan(**values)).returning(BenefitPlan.id)
    return {"id": rows[0]["id"], **values}


async def list_plans() -> list[dict[str, Any]]:
    return await BenefitPlan.select().order_by(BenefitPlan.name)


async def enrol(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    check_can_manage(actor)
    employee_id, plan_id = data.get("employee_id"), data.get("plan_id")
    if not await Employee.exists().where(Employee.id == employee_id):
        raise ValidationError.for_field("employee_id", f"no employee with id {employee_id}.")
    if not await BenefitPlan.exists().where(BenefitPlan.id == plan_id):
        raise ValidationError.for_field("plan_id", f"no benefit plan with id {plan_id}.")
    dependants = data.get("dependants") or []
    if not isinstance(dependants, list):
        raise ValidationError.for_field("dependants", "must be a list.")
    values = {
        "employee": employee_id,
        "plan": plan_id,
        "start_date": day(data, "start_date", required=True),
        "end_date": day(data, "end_date"),
        "dependants": dependants,
    }
    async with write_transaction():
        rows = await Enrolment.insert(Enrolment(**values)).returning(Enrolment.id)
        await record_audit(
            table="hr_enrolment",
            record_id=rows[0]["id"],
            action="create",
            changes=diff(None, values),
            actor=actor,
            plugin="hr",
        )
    return {"id": rows[0]["id"], **jsonable_row(values, {})}


async def enrolments_of(employee_id: int, actor: Actor) -> list[dict[str, Any]]:
    await check_can_read(actor, employee_id)
    rows = (
        await Enrolment.select(*Enrolment.all_columns(), Enrolment.plan.name.as_alias("plan_name"))
        .where(Enrolment.employee == employee_id)
        .output(load_json=True)
    )
    out = []
    for row in rows:
        shown = await present("hr_enrolment", row, actor, employee_id)
        out.append(jsonable_row(shown, {"employee": "employee_id", "plan": "plan_id"}))
    return out
