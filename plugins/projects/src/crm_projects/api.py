"""The projects REST API, mounted under ``/api/v1/projects/``.

Handlers translate HTTP to the services, which hold every rule. Request bodies are explicit
structs; fields left out of a PATCH are left unchanged.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from crm_projects import projects as svc
from crm_projects import work
from crm_projects.templates_copy import create_from_template
from crmcore.auth.guards import requires
from crmcore.services.actor import Actor

READ, WRITE = requires("projects.read"), requires("projects.write")


def _sent(struct: msgspec.Struct) -> dict[str, Any]:
    """Only the fields the client sent (UNSET ones are left out)."""
    return {
        f: getattr(struct, f)
        for f in struct.__struct_fields__
        if getattr(struct, f) is not msgspec.UNSET
    }


class ProjectIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    company_id: int | None = None
    owner_id: int | None | msgspec.UnsetType = msgspec.UNSET
    status: str = "active"
    strategy: str = ""
    description: str = ""
    start_date: str | None = None
    target_date: str | None = None
    budget: str | float | None = None
    currency: str = ""
    stages: list[str] = []
    stage: str | msgspec.UnsetType = msgspec.UNSET
    is_template: bool = False
    contact_ids: list[int] = []
    member_user_ids: list[int] = []


class ProjectPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    company_id: int | None | msgspec.UnsetType = msgspec.UNSET
    owner_id: int | None | msgspec.UnsetType = msgspec.UNSET
    status: str | msgspec.UnsetType = msgspec.UNSET
    strategy: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    start_date: str | None | msgspec.UnsetType = msgspec.UNSET
    target_date: str | None | msgspec.UnsetType = msgspec.UNSET
    budget: str | float | None | msgspec.UnsetType = msgspec.UNSET
    currency: str | msgspec.UnsetType = msgspec.UNSET
    stages: list[str] | msgspec.UnsetType = msgspec.UNSET
    stage: str | msgspec.UnsetType = msgspec.UNSET


class FromTemplateIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    start_date: str
    company_id: int | None = None
    owner_id: int | None | msgspec.UnsetType = msgspec.UNSET
    contact_ids: list[int] = []
    member_user_ids: list[int] = []


class GoalIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    target_value: float = 0.0
    current_value: float = 0.0
    unit: str = ""


class GoalPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    target_value: float | msgspec.UnsetType = msgspec.UNSET
    current_value: float | msgspec.UnsetType = msgspec.UNSET


class MilestoneIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    due_date: str | None = None


class TaskIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    milestone_id: int | None = None
    assignee_id: int | None = None
    estimate_hours: float = 0.0
    status: str = "todo"
    start_date: str | None = None
    due_date: str | None = None
    depends_on: list[int] = []


class TaskPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    milestone_id: int | None | msgspec.UnsetType = msgspec.UNSET
    assignee_id: int | None | msgspec.UnsetType = msgspec.UNSET
    estimate_hours: float | msgspec.UnsetType = msgspec.UNSET
    status: str | msgspec.UnsetType = msgspec.UNSET
    start_date: str | None | msgspec.UnsetType = msgspec.UNSET
    due_date: str | None | msgspec.UnsetType = msgspec.UNSET
    depends_on: list[int] | msgspec.UnsetType = msgspec.UNSET


class RiskIn(msgspec.Struct, forbid_unknown_fields=True):
    title: str
    probability: int
    impact: int
    owner_id: int | None = None
    response: str = ""
    state: str = "open"


class RiskPatch(msgspec.Struct, forbid_unknown_fields=True):
    title: str | msgspec.UnsetType = msgspec.UNSET
    probability: int | msgspec.UnsetType = msgspec.UNSET
    impact: int | msgspec.UnsetType = msgspec.UNSET
    response: str | msgspec.UnsetType = msgspec.UNSET
    state: str | msgspec.UnsetType = msgspec.UNSET


class StatusUpdateIn(msgspec.Struct, forbid_unknown_fields=True):
    summary: str


class ProjectController(Controller):
    path = "/"
    tags = ["projects"]

    @get("/", guards=[READ])
    async def list_projects(
        self,
        actor: NamedDependency[Actor],
        status: FromQuery[str | None] = None,
        company: FromQuery[int | None] = None,
        templates: FromQuery[bool] = False,
    ) -> dict[str, Any]:
        """Projects with their percent complete and schedule health."""
        items = await svc.list_projects(
            actor, status=status, company_id=company, templates=templates
        )
        return {"items": items}

    @post("/", guards=[WRITE])
    async def create(
        self, actor: NamedDependency[Actor], data: JSONBody[ProjectIn]
    ) -> dict[str, Any]:
        return await svc.create_project(_sent(data), actor)

    @post("/from-template/{template_id:int}", guards=[WRITE])
    async def from_template(
        self,
        actor: NamedDependency[Actor],
        template_id: FromPath[int],
        data: JSONBody[FromTemplateIn],
    ) -> dict[str, Any]:
        """Copy a template's stages, goals, milestones and tasks, dates shifted."""
        return await create_from_template(template_id, _sent(data), actor)

    @get("/{project_id:int}", guards=[READ])
    async def show(
        self, actor: NamedDependency[Actor], project_id: FromPath[int]
    ) -> dict[str, Any]:
        return await svc.get_project(project_id, actor)

    @patch("/{project_id:int}", guards=[WRITE])
    async def update(
        self, actor: NamedDependency[Actor], project_id: FromPath[int], data: JSONBody[ProjectPatch]
    ) -> dict[str, Any]:
        return await svc.update_project(project_id, _sent(data), actor)

    @delete("/{project_id:int}", guards=[WRITE])
    async def remove(self, actor: NamedDependency[Actor], project_id: FromPath[int]) -> None:
        await svc.delete_project(project_id, actor)

    @post("/{project_id:int}/goals", guards=[WRITE])
    async def add_goal(
        self, actor: NamedDependency[Actor], project_id: FromPath[int], data: JSONBody[GoalIn]
    ) -> dict[str, Any]:
        return await svc.add_goal(project_id, _sent(data), actor)

    @patch("/goals/{goal_id:int}", guards=[WRITE])
    async def update_goal(
        self, actor: NamedDependency[Actor], goal_id: FromPath[int], data: JSONBody[GoalPatch]
    ) -> dict[str, Any]:
        return await svc.update_goal(goal_id, _sent(data), actor)

    @post("/{project_id:int}/milestones", guards=[WRITE])
    async def add_milestone(
        self, actor: NamedDependency[Actor], project_id: FromPath[int], data: JSONBody[MilestoneIn]
    ) -> dict[str, Any]:
        return await svc.add_milestone(project_id, _sent(data), actor)

    @post("/milestones/{milestone_id:int}/reached", guards=[WRITE])
    async def reach_milestone(
        self, actor: NamedDependency[Actor], milestone_id: FromPath[int]
    ) -> dict[str, Any]:
        return await svc.reach_milestone(milestone_id, actor)

    @post("/{project_id:int}/tasks", guards=[WRITE])
    async def add_task(
        self, actor: NamedDependency[Actor], project_id: FromPath[int], data: JSONBody[TaskIn]
    ) -> dict[str, Any]:
        return await work.add_task(project_id, _sent(data), actor)

    @patch("/tasks/{task_id:int}", guards=[WRITE])
    async def update_task(
        self, actor: NamedDependency[Actor], task_id: FromPath[int], data: JSONBody[TaskPatch]
    ) -> dict[str, Any]:
        return await work.update_task(task_id, _sent(data), actor)

    @post("/{project_id:int}/risks", guards=[WRITE])
    async def add_risk(
        self, actor: NamedDependency[Actor], project_id: FromPath[int], data: JSONBody[RiskIn]
    ) -> dict[str, Any]:
        return await svc.add_risk(project_id, _sent(data), actor)

    @patch("/risks/{risk_id:int}", guards=[WRITE])
    async def update_risk(
        self, actor: NamedDependency[Actor], risk_id: FromPath[int], data: JSONBody[RiskPatch]
    ) -> dict[str, Any]:
        return await svc.update_risk(risk_id, _sent(data), actor)

    @post("/{project_id:int}/status-updates", guards=[WRITE])
    async def add_status_update(
        self,
        actor: NamedDependency[Actor],
        project_id: FromPath[int],
        data: JSONBody[StatusUpdateIn],
    ) -> dict[str, Any]:
        return await svc.add_status_update(project_id, _sent(data), actor)
