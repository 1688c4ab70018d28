"""Employees and their dated job, contract and compensation history: one door per write."""

from __future__ import annotations

from typing import Any

from crm_hr.access import check_can_manage, check_can_read, present, visible_employee_ids
from crm_hr.tables import EMPLOYMENT_TYPES, Department, Employee, JobChange
from crm_hr.values import amount, choice, currency, day, jsonable_row, text
from crmcore.errors import Conflict, NotFound, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import diff, record_audit
from crmcore.services.outbox import emit_event
from crmcore.services.transaction import write_transaction
from crmcore.tables import Contact, User

RENAME = {
    "user": "user_id",
    "contact": "contact_id",
    "department": "department_id",
    "manager": "manager_id",
}
SENSITIVE_TEXT = ("national_id", "bank_account", "emergency_contact", "health_notes")


async def _reference(table: Any, key: str, value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        ident = int(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError.for_field(key, f"{value!r} is not an id.") from exc
    if not await table.exists().where(table.id == ident):
        raise ValidationError.for_field(key, f"no record with id {ident}.")
    return ident


async def _values(data: dict[str, Any], partial: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if not partial or "employee_number" in data:
        values["employee_number"] = text(data, "employee_number", 32, required=True)
    for key in ("first_name", "last_name", "job_title"):
        if key in data:
            values[key] = text(data, key, 200)
    for key, limit in zip(SENSITIVE_TEXT, (32, 64, 2000, 5000), strict=True):
        if key in data:
            values[key] = text(data, key, limit)
    if "employment_type" in data or not partial:
        values["employment_type"] = choice(data, "employment_type", EMPLOYMENT_TYPES, "full_time")
    for key in ("start_date", "end_date"):
        if key in data:
            values[key] = day(data, key)
    if "salary" in data:
        values["salary"] = amount(data, "salary")
    if "salary_currency" in data:
        values["salary_currency"] = currency(data, "salary_currency")
    if "user_id" in data:
        values["user"] = await _reference(User, "user_id", data["user_id"])
    if "contact_id" in data:
        values["contact"] = await _reference(Contact, "contact_id", data["contact_id"])
    if "department_id" in data:
        values["department"] = await _reference(Department, "department_id", data["department_id"])
    if "manager_id" in data:
        values["manager"] = await _reference(Employee, "manager_id", data["manager_id"])
    start, end = values.get("start_date"), values.get("end_date")
    if start and end and end < start:
        raise ValidationError.for_field("end_date", "must not be before the start date.")
    return values


async def create_employee(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    check_can_manage(actor)
    values = await _values(data, partial=False)
    async with write_transaction():
        if await Employee.exists().where(Employee.employee_number == values["employee_number"]):
            raise Conflict(f"Employee number {values['employee_number']} is already in use.")
        if values.get("user") and await Employee.exists().where(Employee.user == values["user"]):
            raise Conflict("That user already has an employee record.")
        rows = await Employee.insert(Employee(**values)).returning(Employee.id)
        employee_id = rows[0]["id"]
        await JobChange.insert(
            JobChange(
                employee=employee_id,
                effective_date=values.get("start_date") or _today(),
                kind="job",
                job_title=values.get("job_title", ""),
                department=values.get("department"),
                employment_type=values["employment_type"],
                salary=values.get("salary"),
                salary_currency=values.get("salary_currency", ""),
                note="hired",
            )
        )
        await record_audit(
            table="hr_employee",
            record_id=employee_id,
            action="create",
            changes=diff(None, values),
            actor=actor,
            plugin="hr",
        )
        await emit_event("hr.employee_created", {"employee_id": employee_id})
    return await get_employee(employee_id, actor)


def _today() -> Any:
    from datetime import date

    return date.today()


async def update_employee(employee_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Change an employee; job, contract and salary changes also go to the dated history."""
    check_can_manage(actor)
    values = await _values(data, partial=True)
    if values.get("manager") == employee_id:
        raise ValidationError.for_field("manager_id", "an employee cannot manage themselves.")
    async with write_transaction():
        before = await Employee.select().where(Employee.id == employee_id).first()
        if before is None:
            raise NotFound(f"Employee {employee_id} does not exist.")
        if values:
            await Employee.update(values).where(Employee.id == employee_id)
        changes = diff({k: before.get(k) for k in values}, values)
        kinds = _history_kinds(changes)
        for kind in kinds:
            after = {**before, **values}
            await JobChange.insert(
                JobChange(
                    employee=employee_id,
                    effective_date=day(data, "effective_date") or _today(),
                    kind=kind,
                    job_title=after["job_title"],
                    department=after["department"],
                    employment_type=after["employment_type"],
                    salary=after["salary"] if kind == "compensation" else None,
                    salary_currency=after["salary_currency"] if kind == "compensation" else "",
                    note=text(data, "note", 2000),
                )
            )
        if changes:
            await record_audit(
                table="hr_employee",
                record_id=employee_id,
                action="update",
                changes=changes,
                actor=actor,
                plugin="hr",
            )
    return await get_employee(employee_id, actor)


def _history_kinds(changes: dict[str, Any]) -> list[str]:
    kinds = []
    if {"job_title", "department", "manager"} & set(changes):
        kinds.append("job")
    if {"employment_type", "end_date"} & set(changes):
        kinds.append("contract")
    if {"salary", "salary_currency"} & set(changes):
        kinds.append("compensation")
    return kinds


async def get_employee(employee_id: int, actor: Actor) -> dict[str, Any]:
    await check_can_read(actor, employee_id)
    row = (
        await Employee.select(
            *Employee.all_columns(), Employee.department.name.as_alias("department_name")
        )
        .where(Employee.id == employee_id)
        .first()
    )
    if row is None:
        raise NotFound(f"Employee {employee_id} does not exist.")
    shown = await present("hr_employee", row, actor, employee_id)
    return jsonable_row(shown, RENAME)


async def list_employees(
    actor: Actor, *, q: str | None = None, department_id: int | None = None
) -> list[dict[str, Any]]:
    """Employees the actor may see; ``q`` matches names, number and title (never a
    restricted field, so a search cannot reveal a salary)."""
    visible = await visible_employee_ids(actor)
    query = (
        Employee.select(
            *Employee.all_columns(), Employee.department.name.as_alias("department_name")
        )
        .order_by(Employee.last_name)
        .order_by(Employee.first_name)
    )
    if visible is not None:
        if not visible:
            return []
        query = query.where(Employee.id.is_in(list(visible)))
    if department_id is not None:
        query = query.where(Employee.department == department_id)
    if q:
        like = f"%{q.strip()}%"
        # SQLite's LIKE already ignores ASCII case; Piccolo warns if asked for ILIKE there.
        sqlite = Employee._meta.db.engine_type == "sqlite"
        columns = (
            Employee.first_name,
            Employee.last_name,
            Employee.employee_number,
            Employee.job_title,
        )
        matches = [c.like(like) if sqlite else c.ilike(like) for c in columns]
        condition = matches[0]
        for match in matches[1:]:
            condition = condition | match
        query = query.where(condition)
    rows = await query
    return [jsonable_row(await present("hr_employee", r, actor, r["id"]), RENAME) for r in rows]


async def employee_history(employee_id: int, actor: Actor) -> list[dict[str, Any]]:
    await check_can_read(actor, employee_id)
    rows = (
        await JobChange.select()
        .where(JobChange.employee == employee_id)
        .order_by(JobChange.effective_date)
        .order_by(JobChange.id)
    )
    out = []
    for row in rows:
        shown = await present("hr_job_change", row, actor, employee_id)
        out.append(jsonable_row(shown, {"employee": "employee_id", "department": "department_id"}))
    return out
