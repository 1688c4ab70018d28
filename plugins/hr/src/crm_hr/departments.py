"""Departments: a tree with heads, an org chart and headcounts."""

from __future__ import annotations

from typing import Any

from crm_hr.access import check_can_manage
from crm_hr.tables import Department, Employee
from crm_hr.values import text
from crmcore.errors import NotFound, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import diff, record_audit
from crmcore.services.transaction import write_transaction


async def create_department(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    check_can_manage(actor)
    values = {"name": text(data, "name", 200, required=True), "parent": data.get("parent_id")}
    if values["parent"] is not None and not await Department.exists().where(
        Department.id == values["parent"]
    ):
        raise ValidationError.for_field("parent_id", f"no department with id {values['parent']}.")
    head = data.get("head_id")
    if head is not None and not await Employee.exists().where(Employee.id == head):
        raise ValidationError.for_field("head_id", f"no employee with id {head}.")
    values["head"] = head
    async with write_transaction():
        rows = await Department.insert(Department(**values)).returning(Department.id)
        await record_audit(
            table="hr_department",
            record_id=rows[0]["id"],
            action="create",
            changes=diff(None, values),
            actor=actor,
            plugin="hr",
        )
    return {
        "id": rows[0]["id"],
        "name": values["name"],
        "parent_id": values["parent"],
        "head_id": head,
    }


async def set_department_head(department_id: int, head_id: int | None, actor: Actor) -> None:
    check_can_manage(actor)
    async with write_transaction():
        row = await Department.select().where(Department.id == department_id).first()
        if row is None:
            raise NotFound(f"Department {department_id} does not exist.")
        await Department.update({Department.head: head_id}).where(Department.id == department_id)
        await record_audit(
            table="hr_department",
            record_id=department_id,
            action="update",
            changes={"head": [row["head"], head_id]},
            actor=actor,
            plugin="hr",
        )


async def department_tree() -> list[dict[str, Any]]:
    """Departments as nested dicts with ``head`` (name), ``headcount`` (own) and
    ``total`` (including sub-departments), roots sorted by name."""
    departments = await Department.select().order_by(Department.name)
    employees = await Employee.select(
        Employee.id,
        Employee.first_name,
        Employee.last_name,
        Employee.job_title,
        Employee.department,
    )
    names = {e["id"]: f"{e['first_name']} {e['last_name']}".strip() for e in employees}
    counts: dict[int | None, int] = {}
    for employee in employees:
        counts[employee["department"]] = counts.get(employee["department"], 0) + 1
    nodes = {
        d["id"]: {
            "id": d["id"],
            "name": d["name"],
            "head_id": d["head"],
            "head": names.get(d["head"]) if d["head"] else None,
            "headcount": counts.get(d["id"], 0),
            "children": [],
        }
        for d in departments
    }
    roots = []
    for d in departments:
        parent = nodes.get(d["parent"]) if d["parent"] else None
        (parent["children"] if parent else roots).append(nodes[d["id"]])

    def total(node: dict[str, Any]) -> int:
        node["total"] = node["headcount"] + sum(total(child) for child in node["children"])
        return node["total"]

    for root in roots:
        total(root)
    return roots
