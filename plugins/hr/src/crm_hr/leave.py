"""Leave: types, yearly allocations, requests approved by the manager, balances, who is away.

A request's days are working days (weekdays outside ``[plugins.hr] weekend``, Saturday and
Sunday by default; Iranian offices set ``weekend = [4]`` for Friday) and count against the
allocation of the year each day falls in, so a request over New Year splits across years.
Balance = allocation − approved days, per type and year.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from crm_hr.access import check_can_manage, check_can_read, own_employee_id
from crm_hr.tables import Employee, LeaveAllocation, LeaveRequest, LeaveType
from crm_hr.values import day, jsonable_row, text
from crmcore.errors import NotFound, PermissionDenied, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import diff, record_audit
from crmcore.services.context import current_pm
from crmcore.services.outbox import emit_event
from crmcore.services.transaction import write_transaction

DEFAULT_WEEKEND = (5, 6)
RENAME = {"employee": "employee_id", "leave_type": "leave_type_id", "approver": "approver_id"}


def weekend_days() -> tuple[int, ...]:
    settings = getattr(current_pm(), "settings", None)
    configured = settings.plugin_settings("hr").get("weekend") if settings else None
    return tuple(configured) if configured is not None else DEFAULT_WEEKEND


def days_by_year(start: date, end: date, weekend: tuple[int, ...]) -> dict[int, int]:
    """Working days between ``start`` and ``end`` (inclusive), grouped by calendar year."""
    counts: dict[int, int] = {}
    current = start
    while current <= end:
        if current.weekday() not in weekend:
            counts[current.year] = counts.get(current.year, 0) + 1
        current += timedelta(days=1)
    return counts


async def create_leave_type(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    check_can_manage(actor)
    values = {"name": text(data, "name", 100, required=True), "paid": bool(data.get("paid", True))}
    rows = await LeaveType.insert(LeaveType(**values)).returning(LeaveType.id)
    return {"id": rows[0]["id"], **values}


async def allocate(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Set (replace) an employee's allocation of a leave type for a year."""
    check_can_manage(actor)
    employee_id, type_id, year = (
        data.get("employee_id"),
        data.get("leave_type_id"),
        data.get("year"),
    )
    days = float(data.get("days", 0))
    if days < 0:
        raise ValidationError.for_field("days", "cannot be negative.")
    if not isinstance(year, int) or not 1900 < year < 3000:
        raise ValidationError.for_field("year", "must be a year such as 2026.")
    async with write_transaction():
        await LeaveAllocation.delete().where(
            (LeaveAllocation.employee == employee_id)
            & (LeaveAllocation.leave_type == type_id)
            & (LeaveAllocation.year == year)
        )
        rows = await LeaveAllocation.insert(
            LeaveAllocation(employee=employee_id, leave_type=type_id, year=year, days=days)
        ).returning(LeaveAllocation.id)
        await record_audit(
            table="hr_leave_allocation",
            record_id=rows[0]["id"],
            action="create",
            changes=diff(None, {"employee": employee_id, "year": year, "days": days}),
            actor=actor,
            plugin="hr",
        )
    return {
        "id": rows[0]["id"],
        "employee_id": employee_id,
        "leave_type_id": type_id,
        "year": year,
        "days": days,
    }


async def request_leave(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """An employee asks for leave (HR may file it for anyone)."""
    own = await own_employee_id(actor)
    employee_id = data.get("employee_id") or own
    if employee_id is None:
        raise ValidationError.for_field(
            "employee_id", "you have no employee record; name the employee."
        )
    if employee_id != own:
        check_can_manage(actor)
    start, end = day(data, "start_date", required=True), day(data, "end_date", required=True)
    if end < start:
        raise ValidationError.for_field("end_date", "must not be before the start date.")
    type_id = data.get("leave_type_id")
    if not await LeaveType.exists().where(LeaveType.id == type_id):
        raise ValidationError.for_field("leave_type_id", f"no leave type with id {type_id}.")
    requested = days_by_year(start, end, weekend_days())
    if not requested:
        raise ValidationError.for_field("end_date", "the request holds no working day.")
    for year, count in requested.items():
        left = (await balance(employee_id, type_id, year))["remaining"]
        if count > left:
            raise ValidationError.for_field(
                "end_date", f"{count} day(s) in {year} requested but only {left:g} left."
            )
    async with write_transaction():
        rows = await LeaveRequest.insert(
            LeaveRequest(
                employee=employee_id,
                leave_type=type_id,
                start_date=start,
                end_date=end,
                reason=text(data, "reason", 2000),
            )
        ).returning(LeaveRequest.id)
        request_id = rows[0]["id"]
        await record_audit(
            table="hr_leave_request",
            record_id=request_id,
            action="create",
            changes=diff(None, {"start_date": start, "end_date": end}),
            actor=actor,
            plugin="hr",
        )
        await emit_event(
            "hr.leave_requested", {"request_id": request_id, "employee_id": employee_id}
        )
    return await get_request(request_id, actor)


async def get_request(request_id: int, actor: Actor) -> dict[str, Any]:
    row = await LeaveRequest.select().where(LeaveRequest.id == request_id).first()
    if row is None:
        raise NotFound(f"Leave request {request_id} does not exist.")
    await check_can_read(actor, row["employee"])
    out = jsonable_row(row, RENAME)
    out["days"] = sum(days_by_year(row["start_date"], row["end_date"], weekend_days()).values())
    return out


async def decide(request_id: int, approve: bool, actor: Actor) -> dict[str, Any]:
    """The employee's manager (or HR) approves or rejects a pending request."""
    row = await LeaveRequest.select().where(LeaveRequest.id == request_id).first()
    if row is None:
        raise NotFound(f"Leave request {request_id} does not exist.")
    employee = await Employee.select(Employee.manager).where(Employee.id == row["employee"]).first()
    own = await own_employee_id(actor)
    if not actor.can("hr.manage") and (own is None or employee["manager"] != own):
        raise PermissionDenied("Only the employee's manager or HR can decide on this request.")
    if row["status"] != "requested":
        raise ValidationError.for_field("status", f"the request is already {row['status']}.")
    status = "approved" if approve else "rejected"
    async with write_transaction():
        await LeaveRequest.update(
            {
                LeaveRequest.status: status,
                LeaveRequest.approver: actor.user_id,
                LeaveRequest.decided_at: datetime.now(UTC),
            }
        ).where(LeaveRequest.id == request_id)
        await record_audit(
            table="hr_leave_request",
            record_id=request_id,
            action="update",
            changes={"status": ["requested", status]},
            actor=actor,
            plugin="hr",
        )
        await emit_event(f"hr.leave_{status}", {"request_id": request_id})
    return await get_request(request_id, actor)


async def balance(employee_id: int, leave_type_id: int, year: int) -> dict[str, Any]:
    """Allocation, approved days taken in ``year`` and what remains."""
    allocation = (
        await LeaveAllocation.select(LeaveAllocation.days)
        .where(
            (LeaveAllocation.employee == employee_id)
            & (LeaveAllocation.leave_type == leave_type_id)
            & (LeaveAllocation.year == year)
        )
        .first()
    )
    allocated = float(allocation["days"]) if allocation else 0.0
    requests = await LeaveRequest.select(LeaveRequest.start_date, LeaveRequest.end_date).where(
        (LeaveRequest.employee == employee_id)
        & (LeaveRequest.leave_type == leave_type_id)
        & (LeaveRequest.status == "approved")
        & (LeaveRequest.start_date <= date(year, 12, 31))
        & (LeaveRequest.end_date >= date(year, 1, 1))
    )
    weekend = weekend_days()
    taken = sum(
        days_by_year(r["start_date"], r["end_date"], weekend).get(year, 0) for r in requests
    )
    return {"year": year, "allocated": allocated, "taken": taken, "remaining": allocated - taken}


async def employee_balance(
    employee_id: int, leave_type_id: int, year: int, actor: Actor
) -> dict[str, Any]:
    await check_can_read(actor, employee_id)
    if not 1 <= year <= 9999:
        raise ValidationError.for_field("year", "must be a year between 1 and 9999.")
    return await balance(employee_id, leave_type_id, year)


async def away_between(start: date, end: date, actor: Actor) -> list[dict[str, Any]]:
    """Approved leave overlapping the period, for the calendar of who is away."""
    from crm_hr.access import visible_employee_ids

    visible = await visible_employee_ids(actor)
    query = LeaveRequest.select(
        LeaveRequest.id,
        LeaveRequest.start_date,
        LeaveRequest.end_date,
        LeaveRequest.employee,
        LeaveRequest.employee.first_name,
        LeaveRequest.employee.last_name,
        LeaveRequest.leave_type.name.as_alias("leave_type_name"),
    ).where(
        (LeaveRequest.status == "approved")
        & (LeaveRequest.start_date <= end)
        & (LeaveRequest.end_date >= start)
    )
    if visible is not None:
        if not visible:
            return []
        query = query.where(LeaveRequest.employee.is_in(list(visible)))
    rows = await query
    return [
        {
            "id": r["id"],
            "employee_id": r["employee"],
            "name": f"{r['employee.first_name']} {r['employee.last_name']}".strip(),
            "start_date": r["start_date"],
            "end_date": r["end_date"],
            "leave_type": r["leave_type_name"],
        }
        for r in rows
    ]
