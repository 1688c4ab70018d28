"""Projects from templates: copy stages, goals, milestones and tasks, dates shifted.

A template is a project with ``is_template`` set. Its start date anchors every other date,
so a milestone due 30 days after the template's start is due 30 days after the new one's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from crm_projects.projects import create_project, get_project
from crm_projects.records import can_write, parse_date_field, project_row
from crm_projects.tables import Goal, Milestone, Project, ProjectTask, TaskDependency
from crm_projects.work import _mirror_in_calendar
from crmcore.errors import ValidationError
from crmcore.services.actor import Actor
from crmcore.services.transaction import write_transaction


def _shift(value: Any, delta: timedelta) -> Any:
    return value + delta if value is not None else None


async def create_from_template(
    template_id: int, data: dict[str, Any], actor: Actor
) -> dict[str, Any]:
    """A new project from template ``template_id``; ``data`` needs ``name`` and
    ``start_date`` and may set anything ``create_project`` takes."""
    can_write(actor)
    start = parse_date_field(data, "start_date")
    if start is None:
        raise ValidationError.for_field("start_date", "is required to place the template's dates.")
    async with write_transaction():
        template = await project_row(template_id, actor)
        if not template["is_template"]:
            raise ValidationError.for_field(
                "template_id", f"project {template_id} is not a template."
            )
        anchor = template["start_date"]
        if anchor is None:
            raise ValidationError.for_field(
                "template_id", "the template has no start date to shift its dates from."
            )
        delta = start - anchor
        fields = {
            "name": data.get("name"),
            "stages": template["stages"],
            "strategy": template["strategy"],
            "description": template["description"],
            "start_date": start,
            "target_date": _shift(template["target_date"], delta),
            "budget": template["budget"],
            "currency": template["currency"],
            **{k: v for k, v in data.items() if k not in {"start_date"}},
        }
        project = await create_project(fields, actor)
        project_id = project["id"]
        await Project.update({Project.template: template_id}).where(Project.id == project_id)
        for goal in await Goal.select().where(Goal.project == template_id):
            await Goal.insert(
                Goal(
                    project=project_id,
                    name=goal["name"],
                    target_value=goal["target_value"],
                    current_value=0.0,
                    unit=goal["unit"],
                )
            )
        milestone_ids: dict[int, int] = {}
        for milestone in await Milestone.select().where(Milestone.project == template_id):
            rows = await Milestone.insert(
                Milestone(
                    project=project_id,
                    name=milestone["name"],
                    due_date=_shift(milestone["due_date"], delta),
                    position=milestone["position"],
                )
            ).returning(Milestone.id)
            milestone_ids[milestone["id"]] = rows[0]["id"]
        task_ids: dict[int, int] = {}
        template_tasks = await ProjectTask.select().where(ProjectTask.project == template_id)
        for task in template_tasks:
            rows = await ProjectTask.insert(
                ProjectTask(
                    project=project_id,
                    milestone=milestone_ids.get(task["milestone"]),
                    name=task["name"],
                    assignee=task["assignee"],
                    estimate_hours=task["estimate_hours"],
                    status="todo",
                    start_date=_shift(task["start_date"], delta),
                    due_date=_shift(task["due_date"], delta),
                )
            ).returning(ProjectTask.id)
            task_ids[task["id"]] = rows[0]["id"]
        if task_ids:
            deps = await TaskDependency.select().where(TaskDependency.task.is_in(list(task_ids)))
            for dep in deps:
                await TaskDependency.insert(
                    TaskDependency(
                        task=task_ids[dep["task"]], depends_on=task_ids[dep["depends_on"]]
                    )
                )
        new_project = await project_row(project_id, actor)
        for new_task_id in task_ids.values():
            await _mirror_in_calendar(new_task_id, new_project, actor)
    return await get_project(project_id, actor)
