"""``crm hr employees list|show|import``."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx
from crmcore.errors import CRMError
from crmcore.services.actor import SYSTEM, Actor


async def _actor(email: str | None) -> Actor:
    """SYSTEM, or the named user with their role's permissions (to see what they see)."""
    if not email:
        return SYSTEM
    from crmcore.auth.identity import actor_for_user
    from crmcore.services.users import get_user_by_email, load_user_for_request

    user = await get_user_by_email(email)
    access = await load_user_for_request(user["id"])
    if access is None:
        raise click.ClickException(f"user {email} is disabled")
    return actor_for_user(access)


def _run(obj: CLIContext, fn: Any) -> Any:
    try:
        return obj.run(fn)
    except CRMError as exc:
        raise click.ClickException(exc.message) from exc


@click.group()
def hr() -> None:
    """Employees, departments, reviews, benefits and leave."""


@hr.group("employees")
def employees_group() -> None:
    """Employee records (restricted fields follow the acting user's permissions)."""


@employees_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--as-user", "as_user", help="Show what this user may see (default: everything).")
@pass_ctx
def list_command(obj: CLIContext, as_json: bool, as_user: str | None) -> None:
    from crm_hr.employees import list_employees

    async def go(_db: Any) -> list[dict[str, Any]]:
        return await list_employees(await _actor(as_user))

    rows = _run(obj, go)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        name = f"{row['first_name']} {row['last_name']}"
        click.echo(f"{row['employee_number']:<10} {name}  {row['job_title']}")


@employees_group.command()
@click.argument("employee_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.option("--as-user", "as_user")
@pass_ctx
def show(obj: CLIContext, employee_id: int, as_json: bool, as_user: str | None) -> None:
    from crm_hr.employees import get_employee

    async def go(_db: Any) -> dict[str, Any]:
        return await get_employee(employee_id, await _actor(as_user))

    employee = _run(obj, go)
    if as_json:
        echo_json(employee)
    else:
        for key, value in employee.items():
            click.echo(f"{key:>18}: {value}")


@employees_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def import_command(obj: CLIContext, path: Path) -> None:
    """Import employees from CSV (employee_number, first_name, last_name, job_title,
    department, manager_number, start_date, employment_type, salary, salary_currency).
    Bad rows are reported with their row number and reason; good rows go in."""
    from crm_hr.departments import create_department
    from crm_hr.employees import create_employee
    from crm_hr.tables import Department, Employee

    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))

    async def go(_db: Any) -> tuple[int, list[str]]:
        created, problems = 0, []
        departments: dict[str, int] = {
            d["name"]: d["id"] for d in await Department.select(Department.id, Department.name)
        }
        for number, row in enumerate(rows, start=2):
            data: dict[str, Any] = {k: (v or "").strip() for k, v in row.items() if k}
            try:
                name = data.pop("department", "")
                if name and name not in departments:
                    departments[name] = (await create_department({"name": name}, SYSTEM))["id"]
                if name:
                    data["department_id"] = departments[name]
                manager = data.pop("manager_number", "")
                if manager:
                    found = (
                        await Employee.select(Employee.id)
                        .where(Employee.employee_number == manager)
                        .first()
                    )
                    if found is None:
                        raise CRMError(
                            f"manager_number: no employee {manager!r} (list managers first)"
                        )
                    data["manager_id"] = found["id"]
                await create_employee({k: v for k, v in data.items() if v != ""}, SYSTEM)
                created += 1
            except CRMError as exc:
                problems.append(f"row {number}: {exc.message}")
        return created, problems

    created, problems = _run(obj, go)
    for problem in problems:
        click.echo(problem, err=True)
    click.echo(f"Imported {created} employee(s); {len(problems)} row(s) rejected.")
    if created == 0 and rows:
        raise SystemExit(1)
