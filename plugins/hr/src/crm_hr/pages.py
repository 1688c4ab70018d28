"""HR pages: people, an employee, the org chart and the calendar of who is away."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import jdatetime
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from crm_hr import departments, employees, leave, reviews
from crm_hr.access import check_can_read_tree
from crmcore.errors import ValidationError
from crmcore.services.actor import Actor
from crmcore.web.i18n import gregorian_month_grid, jalali_month_grid


@get("/", name="hr:employees", include_in_schema=False)
async def employee_list(actor: NamedDependency[Actor], q: FromQuery[str] = "") -> Template:
    rows = await employees.list_employees(actor, q=q or None)
    return Template(template_name="hr/employees.html", context={"employees": rows, "q": q})


@get("/employees/{employee_id:int}", name="hr:employee", include_in_schema=False)
async def employee_page(actor: NamedDependency[Actor], employee_id: FromPath[int]) -> Template:
    employee = await employees.get_employee(employee_id, actor)
    return Template(
        template_name="hr/employee.html",
        context={
            "employee": employee,
            "history": await employees.employee_history(employee_id, actor),
            "reviews": await reviews.reviews_of(employee_id, actor),
        },
    )


@get("/org", name="hr:org", include_in_schema=False)
async def org_chart(actor: NamedDependency[Actor]) -> Template:
    check_can_read_tree(actor)
    return Template(
        template_name="hr/org.html", context={"tree": await departments.department_tree()}
    )


def _parse_month(month: str) -> tuple[int, int]:
    """``YYYY-MM`` as (year, month); a 422 naming the parameter for anything else."""
    found = re.fullmatch(r"(\d{4})-(\d{1,2})", month.strip())
    if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1:
        raise ValidationError.for_field("month", f"{month!r} is not a month: use YYYY-MM.")
    return int(found[1]), int(found[2])


def _month(lang: str, month: str) -> tuple[Any, str]:
    """The month grid to show: ``month`` is ``YYYY-MM`` in the user's calendar."""
    today = datetime.now(UTC).date()
    if lang == "fa":
        current = jdatetime.date.fromgregorian(date=today)
        year, number = current.year, current.month
    else:
        year, number = today.year, today.month
    if month:
        year, number = _parse_month(month)
    grid = jalali_month_grid(year, number) if lang == "fa" else gregorian_month_grid(year, number)
    return grid, f"{year:04d}-{number:02d}"


@get("/leave", name="hr:leave", include_in_schema=False)
async def leave_calendar(actor: NamedDependency[Actor], month: FromQuery[str] = "") -> Template:
    grid, shown = _month(actor.language, month)
    days = [d for week in grid.weeks for d in week if d is not None]
    away = await leave.away_between(min(days), max(days), actor)
    by_day: dict[date, list[dict[str, Any]]] = {}
    for item in away:
        for day in days:
            if item["start_date"] <= day <= item["end_date"]:
                by_day.setdefault(day, []).append(item)
    return Template(
        template_name="hr/leave.html",
        context={"grid": grid, "by_day": by_day, "month": shown},
    )


def page_handlers() -> list[Any]:
    return [employee_list, employee_page, org_chart, leave_calendar]
