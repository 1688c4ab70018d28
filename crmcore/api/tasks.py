"""REST API for planned interactions (tasks): ``/api/v1/tasks``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from crmcore.api.interactions import InteractionOut, InteractionPage, interaction_out
from crmcore.services.actor import Actor
from crmcore.services.tasks import cancel_task, complete_task, create_task, list_tasks

__all__ = ["TaskController", "TaskIn"]


class TaskIn(msgspec.Struct, forbid_unknown_fields=True):
    """A planned interaction: what (``subject``, ``channel``), when (``due_at``), who
    (``assignee_id``, default: you), and about whom (``contact_id``/``company_id``)."""

    subject: str
    due_at: datetime
    channel: str | None = None
    body: str = ""
    assignee_id: int | None = None
    contact_id: int | None = None
    company_id: int | None = None
    meta: dict[str, Any] = msgspec.field(default_factory=dict)


class TaskController(Controller):
    path = "/tasks"
    tags = ["tasks"]

    @get("/", summary="List tasks by due date (keyset pagination)")
    async def index(
        self,
        actor: NamedDependency[Actor],
        assignee: FromQuery[str | None] = None,
        due_before: FromQuery[datetime | None] = None,
        due_after: FromQuery[datetime | None] = None,
        status: FromQuery[str] = "planned",
        contact_id: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 50,
    ) -> InteractionPage:
        """``assignee`` is a user id or ``me``; ``status`` planned, done, cancelled or all."""
        page = await list_tasks(
            actor,
            assignee=assignee,
            due_before=due_before,
            due_after=due_after,
            status=None if status == "all" else status,
            contact_id=contact_id,
            cursor=cursor,
            limit=limit,
        )
        return InteractionPage(items=[interaction_out(i) for i in page.items], next=page.next)

    @post("/", summary="Plan a task")
    async def create(self, data: JSONBody[TaskIn], actor: NamedDependency[Actor]) -> InteractionOut:
        return interaction_out(await create_task(msgspec.structs.asdict(data), actor))

    @post("/{task_id:int}/done", status_code=200, summary="Mark a task done")
    async def done(self, task_id: FromPath[int], actor: NamedDependency[Actor]) -> InteractionOut:
        return interaction_out(await complete_task(task_id, actor))

    @post("/{task_id:int}/cancel", status_code=200, summary="Cancel a task")
    async def cancel(self, task_id: FromPath[int], actor: NamedDependency[Actor]) -> InteractionOut:
        return interaction_out(await cancel_task(task_id, actor))
