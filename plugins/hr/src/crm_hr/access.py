"""Who may see which HR record, and how restricted fields reach (or never reach) readers.

* ``hr.manage``: every HR record (HR administrators).
* ``hr.view``: the records of the people you manage, directly or through others.
* everyone: their own employee record and reviews.

Restricted fields follow the core's field-level rules (see plugin.py): salary needs
``hr.view_compensation``, national ID, bank details, emergency contacts, health notes and
benefit dependants need ``hr.view_sensitive`` — for every reader, the employee included.
A read of restricted values by anyone but the employee is written to the audit log.
"""

from __future__ import annotations

from typing import Any

from crm_hr.tables import Employee
from crmcore.errors import NotFound, PermissionDenied
from crmcore.permissions import redact, restricted_fields
from crmcore.services.actor import Actor
from crmcore.services.audit import record_audit
from crmcore.services.transaction import write_transaction

VIEW, MANAGE = "hr.view", "hr.manage"
COMPENSATION, SENSITIVE = "hr.view_compensation", "hr.view_sensitive"


async def own_employee_id(actor: Actor) -> int | None:
    if actor.user_id is None:
        return None
    row = await Employee.select(Employee.id).where(Employee.user == actor.user_id).first()
    return row["id"] if row else None


async def report_ids(manager_employee_id: int) -> set[int]:
    """Everyone below ``manager_employee_id`` in the reporting tree."""
    found: set[int] = set()
    frontier = [manager_employee_id]
    while frontier:
        rows = await Employee.select(Employee.id).where(Employee.manager.is_in(frontier))
        frontier = [r["id"] for r in rows if r["id"] not in found]
        found.update(frontier)
    return found


async def visible_employee_ids(actor: Actor) -> set[int] | None:
    """Ids the actor may read, or None for all of them."""
    if actor.can(MANAGE):
        return None
    own = await own_employee_id(actor)
    visible = {own} if own is not None else set()
    if own is not None and actor.can(VIEW):
        visible |= await report_ids(own)
    return visible


async def check_can_read(actor: Actor, employee_id: int) -> None:
    visible = await visible_employee_ids(actor)
    if visible is not None and employee_id not in visible:
        # The same answer as a missing record: no hint that the person exists.
        raise NotFound(f"Employee {employee_id} does not exist.")


def check_can_manage(actor: Actor) -> None:
    if not actor.can(MANAGE):
        raise PermissionDenied(f"{actor.label} lacks the permission 'hr.manage'.")


async def present(
    table: str, row: dict[str, Any], actor: Actor, employee_id: int
) -> dict[str, Any]:
    """``row`` as ``actor`` may see it; an outside read of restricted values is audited."""
    shown = redact(table, row, actor)
    restricted = set(restricted_fields(table))
    read = sorted(f for f in restricted if f in shown and shown[f] not in (None, "", []))
    own = await own_employee_id(actor)
    if read and own != employee_id:
        async with write_transaction():
            await record_audit(
                table=table,
                record_id=int(row["id"]),
                action="read",
                changes={"fields_read": read, "employee_id": employee_id},
                actor=actor,
                plugin="hr",
            )
    return shown


def check_can_read_tree(actor: Actor) -> None:
    """The org chart (names, titles, headcounts) is for anyone with ``hr.view``."""
    if not (actor.can(VIEW) or actor.can(MANAGE)):
        raise PermissionDenied(f"{actor.label} lacks the permission 'hr.view'.")
