"""Projects, their members, goals, milestones, risks and status updates: one door per write.

Every write checks ``projects.write``, runs in one write transaction, records the audit
entry and the outbox event there, and (for project events) a row the contact timelines read.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from crm_projects.progress import (
    percent_complete,
    risk_level,
    risk_score,
    schedule_health,
    sort_risks,
)
from crm_projects.records import (
    audit,
    can_read,
    can_write,
    parse_amount,
    parse_date_field,
    parse_number,
    parse_scale,
    project_event,
    project_row,
    public,
    required_text,
    sees_project,
)
from crm_projects.tables import (
    PROJECT_STATUSES,
    RISK_STATES,
    Goal,
    Milestone,
    Project,
    ProjectMember,
    ProjectTask,
    Risk,
    StatusUpdate,
    TaskDependency,
)
from crmcore.errors import NotFound, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import diff
from crmcore.services.records import load_json
from crmcore.services.transaction import write_transaction
from crmcore.tables import Company, Contact, User

PROJECT_FIELDS = {"company": "company_id", "owner": "owner_id", "template": "template_id"}


async def _check_exists(table: Any, key: str, value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        ident = int(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError.for_field(key, f"{value!r} is not an id.") from exc
    if not await table.exists().where(table.id == ident):
        raise ValidationError.for_field(key, f"no record with id {ident}.")
    return ident


async def _project_values(data: dict[str, Any], partial: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if not partial or "name" in data:
        values["name"] = required_text(data, "name")
    for key in ("strategy", "description"):
        if key in data:
            values[key] = str(data[key] or "")
    if "status" in data:
        if data["status"] not in PROJECT_STATUSES:
            raise ValidationError.for_field(
                "status", f"must be one of {', '.join(PROJECT_STATUSES)}."
            )
        values["status"] = data["status"]
    if "company_id" in data:
        values["company"] = await _check_exists(Company, "company_id", data["company_id"])
    if "owner_id" in data:
        values["owner"] = await _check_exists(User, "owner_id", data["owner_id"])
    for key in ("start_date", "target_date"):
        if key in data:
            values[key] = parse_date_field(data, key)
    if "budget" in data:
        values["budget"] = parse_amount(data, "budget")
    if "currency" in data:
        currency = str(data["currency"] or "").upper()
        if currency and (len(currency) != 3 or not currency.isalpha()):
            raise ValidationError.for_field("currency", "must be a 3-letter ISO 4217 code.")
        values["currency"] = currency
    if "stages" in data:
        stages = data["stages"] or []
        if not isinstance(stages, list) or not all(
            isinstance(s, str) and s.strip() for s in stages
        ):
            raise ValidationError.for_field("stages", "must be a list of stage names.")
        values["stages"] = [s.strip() for s in stages]
    if "is_template" in data:
        values["is_template"] = bool(data["is_template"])
    start, target = values.get("start_date"), values.get("target_date")
    if start and target and target < start:
        raise ValidationError.for_field("target_date", "must not be before the start date.")
    return values


async def create_project(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Create a project; ``contact_ids`` and ``member_user_ids`` add its people."""
    can_write(actor)
    values = await _project_values(data, partial=False)
    values.setdefault("owner", actor.user_id)
    stages = values.get("stages") or []
    values["stage"] = str(data.get("stage") or (stages[0] if stages else ""))
    if values["stage"] and stages and values["stage"] not in stages:
        raise ValidationError.for_field("stage", "must be one of the project's stages.")
    async with write_transaction():
        rows = await Project.insert(Project(**values)).returning(Project.id)
        project_id = rows[0]["id"]
        await _add_people(project_id, data)
        await audit("projects_project", project_id, "create", diff(None, values), actor)
        await project_event(project_id, "project_created", values["name"], {})
    return await get_project(project_id, actor)


async def _add_people(project_id: int, data: dict[str, Any]) -> None:
    for contact_id in data.get("contact_ids") or []:
        ident = await _check_exists(Contact, "contact_ids", contact_id)
        await ProjectMember.insert(
            ProjectMember(project=project_id, contact=ident, role="customer")
        )
    for user_id in data.get("member_user_ids") or []:
        ident = await _check_exists(User, "member_user_ids", user_id)
        await ProjectMember.insert(ProjectMember(project=project_id, user=ident, role="team"))


async def update_project(project_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    can_write(actor)
    async with write_transaction():
        before = await project_row(project_id, actor)
        values = await _project_values(data, partial=True)
        stages = values.get("stages", before["stages"])
        if "stage" in data:
            if data["stage"] not in stages:
                raise ValidationError.for_field("stage", f"must be one of: {', '.join(stages)}.")
            values["stage"] = data["stage"]
        if not values:
            return await get_project(project_id, actor)
        values["updated_at"] = datetime.now(UTC)
        await Project.update(values).where(Project.id == project_id)
        changes = diff({k: before.get(k) for k in values}, values)
        changes.pop("updated_at", None)
        await audit("projects_project", project_id, "update", changes, actor)
        if "stage" in values and values["stage"] != before["stage"]:
            await project_event(
                project_id, "stage_changed", f"{before['name']}: {values['stage']}", {}
            )
    return await get_project(project_id, actor)


async def delete_project(project_id: int, actor: Actor) -> None:
    can_write(actor)
    async with write_transaction():
        before = await project_row(project_id, actor)
        await Project.delete().where(Project.id == project_id)
        await audit(
            "projects_project", project_id, "delete", diff({"name": before["name"]}, None), actor
        )


async def add_goal(project_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    can_write(actor)
    async with write_transaction():
        await project_row(project_id, actor)
        values = {
            "project": project_id,
            "name": required_text(data, "name"),
            "target_value": parse_number(data, "target_value"),
            "current_value": parse_number(data, "current_value"),
            "unit": str(data.get("unit") or ""),
        }
        rows = await Goal.insert(Goal(**values)).returning(Goal.id)
        await audit("projects_goal", rows[0]["id"], "create", diff(None, values), actor)
    return {"id": rows[0]["id"], **values}


async def update_goal(goal_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    can_write(actor)
    async with write_transaction():
        before = await Goal.select().where(Goal.id == goal_id).first()
        if before is None:
            raise NotFound(f"Goal {goal_id} does not exist.")
        await project_row(before["project"], actor)
        values = {k: parse_number(data, k) for k in ("target_value", "current_value") if k in data}
        if "name" in data:
            values["name"] = required_text(data, "name")
        if values:
            await Goal.update(values).where(Goal.id == goal_id)
            await audit(
                "projects_goal", goal_id, "update", diff(before, {**before, **values}), actor
            )
    return {**before, **values}


async def add_milestone(project_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    can_write(actor)
    async with write_transaction():
        await project_row(project_id, actor)
        count = await Milestone.count().where(Milestone.project == project_id)
        values = {
            "project": project_id,
            "name": required_text(data, "name"),
            "due_date": parse_date_field(data, "due_date"),
            "position": int(data.get("position", count)),
        }
        rows = await Milestone.insert(Milestone(**values)).returning(Milestone.id)
        await audit("projects_milestone", rows[0]["id"], "create", diff(None, values), actor)
    return {"id": rows[0]["id"], **values}


async def reach_milestone(milestone_id: int, actor: Actor) -> dict[str, Any]:
    """Mark a milestone reached; the customer's timelines show it."""
    can_write(actor)
    async with write_transaction():
        row = await Milestone.select().where(Milestone.id == milestone_id).first()
        if row is None:
            raise NotFound(f"Milestone {milestone_id} does not exist.")
        project = await project_row(row["project"], actor)
        if row["reached_at"] is not None:
            return row
        reached = datetime.now(UTC)
        await Milestone.update({Milestone.reached_at: reached}).where(Milestone.id == milestone_id)
        await audit(
            "projects_milestone", milestone_id, "update", {"reached_at": [None, reached]}, actor
        )
        await project_event(
            project["id"],
            "milestone_reached",
            f"{project['name']}: {row['name']}",
            {"milestone_id": milestone_id},
        )
    return {**row, "reached_at": reached}


async def add_risk(project_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    can_write(actor)
    async with write_transaction():
        project = await project_row(project_id, actor)
        values = {
            "project": project_id,
            "title": required_text(data, "title"),
            "probability": parse_scale(data, "probability"),
            "impact": parse_scale(data, "impact"),
            "owner": await _check_exists(User, "owner_id", data.get("owner_id")),
            "response": str(data.get("response") or ""),
            "state": _risk_state(data.get("state", "open")),
        }
        rows = await Risk.insert(Risk(**values)).returning(Risk.id)
        risk_id = rows[0]["id"]
        await audit("projects_risk", risk_id, "create", diff(None, values), actor)
        score = risk_score(values["probability"], values["impact"])
        await project_event(
            project_id,
            "risk_raised",
            f"{project['name']}: {values['title']}",
            {"risk_id": risk_id, "score": score},
        )
    return _risk_dict({"id": risk_id, **values})


def _risk_state(state: Any) -> str:
    if state not in RISK_STATES:
        raise ValidationError.for_field("state", f"must be one of {', '.join(RISK_STATES)}.")
    return str(state)


async def update_risk(risk_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    can_write(actor)
    async with write_transaction():
        before = await Risk.select().where(Risk.id == risk_id).first()
        if before is None:
            raise NotFound(f"Risk {risk_id} does not exist.")
        await project_row(before["project"], actor)
        values: dict[str, Any] = {}
        for key in ("probability", "impact"):
            if key in data:
                values[key] = parse_scale(data, key)
        if "state" in data:
            values["state"] = _risk_state(data["state"])
        for key in ("title", "response"):
            if key in data:
                values[key] = str(data[key] or "")
        if values:
            await Risk.update(values).where(Risk.id == risk_id)
            await audit(
                "projects_risk", risk_id, "update", diff(before, {**before, **values}), actor
            )
    return _risk_dict({**before, **values})


def _risk_dict(row: dict[str, Any]) -> dict[str, Any]:
    score = risk_score(row["probability"], row["impact"])
    out = public(row, {"project": "project_id", "owner": "owner_id"})
    return {**out, "score": score, "level": risk_level(score)}


async def add_status_update(project_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """A periodic status report; it snapshots the progress and health of the day."""
    can_write(actor)
    async with write_transaction():
        await project_row(project_id, actor)
        summary = required_text(data, "summary", max_length=10_000)
        project = await get_project(project_id, actor)
        values = {
            "project": project_id,
            "author": actor.user_id,
            "summary": summary,
            "percent_complete": project["percent_complete"],
            "health": project["health"],
        }
        rows = await StatusUpdate.insert(StatusUpdate(**values)).returning(StatusUpdate.id)
        await audit("projects_status_update", rows[0]["id"], "create", diff(None, values), actor)
        await project_event(project_id, "status_update", f"{project['name']}: {summary[:200]}", {})
    return {"id": rows[0]["id"], **values}


async def get_project(project_id: int, actor: Actor, today: date | None = None) -> dict[str, Any]:
    """Everything about a project, with its progress figures and risks ranked."""
    can_read(actor)
    row = await project_row(project_id, actor)
    today = today or datetime.now(UTC).date()
    tasks = (
        await ProjectTask.select().where(ProjectTask.project == project_id).order_by(ProjectTask.id)
    )
    deps = await TaskDependency.select().where(
        TaskDependency.task.is_in([t["id"] for t in tasks]) if tasks else TaskDependency.id == -1
    )
    depends: dict[int, list[int]] = {}
    for dep in deps:
        depends.setdefault(dep["task"], []).append(dep["depends_on"])
    percent = percent_complete(tasks)
    risks = await Risk.select().where(Risk.project == project_id)
    members = await ProjectMember.select(
        ProjectMember.id, ProjectMember.user, ProjectMember.contact, ProjectMember.role
    ).where(ProjectMember.project == project_id)
    out = public(row, PROJECT_FIELDS)
    out.update(
        percent_complete=percent,
        health=schedule_health(
            percent, row["start_date"], row["target_date"], today, row["status"]
        ),
        goals=[
            public(g, {"project": "project_id"})
            for g in await Goal.select().where(Goal.project == project_id).order_by(Goal.id)
        ],
        milestones=[
            public(m, {"project": "project_id"})
            for m in await Milestone.select()
            .where(Milestone.project == project_id)
            .order_by(Milestone.position, Milestone.id)
        ],
        tasks=[
            {
                **public(
                    t,
                    {
                        "project": "project_id",
                        "milestone": "milestone_id",
                        "assignee": "assignee_id",
                        "interaction": "interaction_id",
                    },
                ),
                "depends_on": sorted(depends.get(t["id"], [])),
            }
            for t in tasks
        ],
        risks=sort_risks([_risk_dict(r) for r in risks]),
        members=[public(m, {"user": "user_id", "contact": "contact_id"}) for m in members],
        status_updates=[
            public(s, {"project": "project_id", "author": "author_id"})
            for s in await StatusUpdate.select()
            .where(StatusUpdate.project == project_id)
            .order_by(StatusUpdate.at, ascending=False)
            .limit(20)
        ],
    )
    return out


async def list_projects(
    actor: Actor,
    *,
    status: str | None = None,
    company_id: int | None = None,
    templates: bool = False,
    today: date | None = None,
) -> list[dict[str, Any]]:
    """Projects the actor may see, newest first, each with its progress and health."""
    can_read(actor)
    query = Project.select(*Project.all_columns()).where(Project.is_template == templates)
    if status:
        query = query.where(Project.status == status)
    if company_id:
        query = query.where(Project.company == company_id)
    rows = await query.order_by(Project.id, ascending=False)
    ids = [r["id"] for r in rows]
    tasks = (
        await ProjectTask.select(
            ProjectTask.project, ProjectTask.estimate_hours, ProjectTask.status
        ).where(ProjectTask.project.is_in(ids))
        if ids
        else []
    )
    by_project: dict[int, list[dict[str, Any]]] = {}
    for task in tasks:
        by_project.setdefault(task["project"], []).append(task)
    today = today or datetime.now(UTC).date()
    out = []
    for row in rows:
        if not await sees_project(actor, row):
            continue
        percent = percent_complete(by_project.get(row["id"], []))
        item = public(row, PROJECT_FIELDS)
        item["stages"] = load_json(row["stages"], [])
        item.update(
            percent_complete=percent,
            health=schedule_health(
                percent, row["start_date"], row["target_date"], today, row["status"]
            ),
        )
        out.append(item)
    return out
