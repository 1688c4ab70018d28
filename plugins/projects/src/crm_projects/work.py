"""Project tasks and their dependencies, and the bridge to the core's planned interactions.

A project task that has an assignee and a due date is mirrored by a planned interaction
(a core task), so it appears in the assignee's task list, calendar and iCal feed; completing
either side completes the other.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from crm_projects.progress import find_cycle
from crm_projects.records import (
    audit,
    can_write,
    parse_date_field,
    parse_number,
    project_row,
    public,
    required_text,
)
from crm_projects.tables import TASK_STATUSES, Milestone, ProjectTask, TaskDependency
from crmcore.errors import NotFound, ValidationError
from crmcore.services.actor import SYSTEM, Actor
from crmcore.services.audit import diff
from crmcore.services.transaction import write_transaction
from crmcore.tables import Interaction, User

TASK_FIELDS = {
    "project": "project_id",
    "milestone": "milestone_id",
    "assignee": "assignee_id",
    "interaction": "interaction_id",
}
# The hour (UTC) a project task's due date becomes a due time in the core calendar.
DUE_HOUR = time(9, 0)


async def _task_values(project_id: int, data: dict[str, Any], partial: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if not partial or "name" in data:
        values["name"] = required_text(data, "name")
    if "milestone_id" in data:
        milestone = data["milestone_id"]
        if milestone is not None:
            row = await Milestone.select(Milestone.project).where(Milestone.id == milestone).first()
            if row is None or row["project"] != project_id:
                raise ValidationError.for_field(
                    "milestone_id", "is not a milestone of this project."
                )
        values["milestone"] = milestone
    if "assignee_id" in data:
        assignee = data["assignee_id"]
        if assignee is not None and not await User.exists().where(User.id == assignee):
            raise ValidationError.for_field("assignee_id", f"no user with id {assignee}.")
        values["assignee"] = assignee
    if "estimate_hours" in data:
        estimate = parse_number(data, "estimate_hours")
        if estimate < 0:
            raise ValidationError.for_field("estimate_hours", "cannot be negative.")
        values["estimate_hours"] = estimate
    for key in ("start_date", "due_date"):
        if key in data:
            values[key] = parse_date_field(data, key)
    if "status" in data:
        if data["status"] not in TASK_STATUSES:
            raise ValidationError.for_field("status", f"must be one of {', '.join(TASK_STATUSES)}.")
        values["status"] = data["status"]
    return values


async def add_task(project_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Add a task; ``depends_on`` lists task ids it waits for (a cycle is refused)."""
    can_write(actor)
    async with write_transaction():
        project = await project_row(project_id, actor)
        values = await _task_values(project_id, data, partial=False)
        values["project"] = project_id
        if values.get("status") == "done":
            values["completed_at"] = datetime.now(UTC)
        rows = await ProjectTask.insert(ProjectTask(**values)).returning(ProjectTask.id)
        task_id = rows[0]["id"]
        for other in data.get("depends_on") or []:
            await _add_dependency(task_id, int(other), project_id)
        await audit("projects_task", task_id, "create", diff(None, values), actor)
        await _mirror_in_calendar(task_id, project, actor)
    return await get_task(task_id)


async def get_task(task_id: int) -> dict[str, Any]:
    row = await ProjectTask.select().where(ProjectTask.id == task_id).first()
    if row is None:
        raise NotFound(f"Task {task_id} does not exist.")
    deps = await TaskDependency.select(TaskDependency.depends_on).where(
        TaskDependency.task == task_id
    )
    return {**public(row, TASK_FIELDS), "depends_on": sorted(d["depends_on"] for d in deps)}


async def update_task(task_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Change a task; marking it done completes its calendar entry too."""
    can_write(actor)
    async with write_transaction():
        before = await ProjectTask.select().where(ProjectTask.id == task_id).first()
        if before is None:
            raise NotFound(f"Task {task_id} does not exist.")
        project = await project_row(before["project"], actor)
        values = await _task_values(before["project"], data, partial=True)
        if values.get("status") == "done" and before["status"] != "done":
            values["completed_at"] = datetime.now(UTC)
        elif "status" in values and values["status"] != "done":
            values["completed_at"] = None
        if values:
            await ProjectTask.update(values).where(ProjectTask.id == task_id)
            await audit(
                "projects_task", task_id, "update", diff(before, {**before, **values}), actor
            )
        if "depends_on" in data:
            await TaskDependency.delete().where(TaskDependency.task == task_id)
            for other in data["depends_on"] or []:
                await _add_dependency(task_id, int(other), before["project"])
        if values.get("status") == "done" and before["interaction"]:
            await _complete_calendar_entry(before["interaction"], actor)
        elif before["interaction"] is None:
            await _mirror_in_calendar(task_id, project, actor)
    return await get_task(task_id)


async def add_dependency(task_id: int, depends_on: int, actor: Actor) -> dict[str, Any]:
    can_write(actor)
    async with write_transaction():
        row = await ProjectTask.select(ProjectTask.project).where(ProjectTask.id == task_id).first()
        if row is None:
            raise NotFound(f"Task {task_id} does not exist.")
        await project_row(row["project"], actor)
        await _add_dependency(task_id, depends_on, row["project"])
    return await get_task(task_id)


async def _add_dependency(task_id: int, depends_on: int, project_id: int) -> None:
    if task_id == depends_on:
        raise ValidationError.for_field("depends_on", "a task cannot depend on itself.")
    other = (
        await ProjectTask.select(ProjectTask.project).where(ProjectTask.id == depends_on).first()
    )
    if other is None or other["project"] != project_id:
        raise ValidationError.for_field("depends_on", f"task {depends_on} is not in this project.")
    rows = await TaskDependency.raw(
        "SELECT d.task, d.depends_on FROM projects_task_dependency d "
        "JOIN projects_task t ON t.id = d.task WHERE t.project = {}",
        project_id,
    )
    edges: dict[int, list[int]] = {}
    for row in rows:
        edges.setdefault(row["task"], []).append(row["depends_on"])
    edges.setdefault(task_id, []).append(depends_on)
    cycle = find_cycle(edges)
    if cycle:
        path = " -> ".join(f"#{n}" for n in cycle)
        raise ValidationError.for_field(
            "depends_on", f"would create a dependency cycle: {path}. Remove one of these links."
        )
    await TaskDependency.insert(TaskDependency(task=task_id, depends_on=depends_on))


async def _mirror_in_calendar(task_id: int, project: dict[str, Any], actor: Actor) -> None:
    """Create the core planned interaction for a task with an assignee and a due date."""
    from crmcore.services.tasks import create_task

    row = await ProjectTask.select().where(ProjectTask.id == task_id).first()
    if row is None or row["assignee"] is None or row["due_date"] is None or row["status"] == "done":
        return
    due = datetime.combine(row["due_date"], DUE_HOUR, tzinfo=UTC)
    planned = await create_task(
        {
            "subject": f"{project['name']}: {row['name']}",
            "due_at": due,
            "assignee_id": row["assignee"],
            "company_id": project.get("company"),
            "channel": "meeting",
            "meta": {"projects_task_id": task_id, "project_id": project["id"]},
        },
        SYSTEM if actor.sees_all_records else actor,
    )
    await ProjectTask.update({ProjectTask.interaction: planned["id"]}).where(
        ProjectTask.id == task_id
    )


async def _complete_calendar_entry(interaction_id: int, actor: Actor) -> None:
    from crmcore.services.tasks import complete_task

    row = (
        await Interaction.select(Interaction.status).where(Interaction.id == interaction_id).first()
    )
    if row is not None and row["status"] == "planned":
        await complete_task(interaction_id, SYSTEM if actor.sees_all_records else actor)


async def calendar_task_completed(interaction: dict[str, Any]) -> None:
    """The core task mirroring a project task was done: mark the project task done too."""
    meta = interaction.get("meta") or {}
    task_id = meta.get("projects_task_id") if isinstance(meta, dict) else None
    if task_id is None:
        return
    async with write_transaction():
        row = await ProjectTask.select().where(ProjectTask.id == task_id).first()
        if row is None or row["status"] == "done":
            return
        values = {"status": "done", "completed_at": datetime.now(UTC)}
        await ProjectTask.update(values).where(ProjectTask.id == task_id)
        await audit("projects_task", task_id, "update", diff(row, {**row, **values}), SYSTEM)
