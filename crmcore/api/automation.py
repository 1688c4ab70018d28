"""REST API for automation rules: ``/api/v1/automation`` (permission ``automation.manage``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from crmcore.auth.guards import requires
from crmcore.services.actor import Actor
from crmcore.services.automation import (
    available_actions,
    create_rule,
    delete_rule,
    get_rule,
    list_rules,
    list_runs,
    set_rule_enabled,
)

__all__ = ["AutomationController"]


class RuleIn(msgspec.Struct, forbid_unknown_fields=True):
    """A rule document: see :mod:`crmcore.services.automation` for trigger and actions."""

    name: str
    trigger: dict[str, Any]
    actions: list[dict[str, Any]]
    conditions: dict[str, Any] | None = None
    enabled: bool = True


class RulePatch(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool


class RuleOut(msgspec.Struct):
    id: int
    name: str
    enabled: bool
    trigger: dict[str, Any]
    conditions: dict[str, Any] | None
    actions: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


class RunOut(msgspec.Struct):
    id: int
    rule_id: int
    contact_id: int | None
    event_id: int | None
    status: str
    steps: list[dict[str, Any]]
    error: str
    started_at: datetime
    finished_at: datetime | None


class ActionOut(msgspec.Struct):
    name: str
    label: str
    params: dict[str, str]


class AutomationController(Controller):
    path = "/automation"
    tags = ["automation"]
    guards = [requires("automation.manage")]

    @get("/rules", summary="Automation rules")
    async def index(self, actor: NamedDependency[Actor]) -> list[RuleOut]:
        return [msgspec.convert(rule, RuleOut) for rule in await list_rules()]

    @post("/rules", summary="Create a rule (validated: unknown actions or filters answer 422)")
    async def create(self, data: JSONBody[RuleIn], actor: NamedDependency[Actor]) -> RuleOut:
        rule = await create_rule(msgspec.to_builtins(data), actor)
        return msgspec.convert(rule, RuleOut)

    @get("/rules/{rule_id:int}", summary="One rule")
    async def show(self, rule_id: FromPath[int], actor: NamedDependency[Actor]) -> RuleOut:
        return msgspec.convert(await get_rule(rule_id), RuleOut)

    @patch("/rules/{rule_id:int}", summary="Enable or disable a rule")
    async def update(
        self, rule_id: FromPath[int], data: JSONBody[RulePatch], actor: NamedDependency[Actor]
    ) -> RuleOut:
        return msgspec.convert(await set_rule_enabled(rule_id, data.enabled, actor), RuleOut)

    @delete("/rules/{rule_id:int}", summary="Delete a rule and its run log")
    async def remove(self, rule_id: FromPath[int], actor: NamedDependency[Actor]) -> None:
        await delete_rule(rule_id, actor)

    @get("/rules/{rule_id:int}/runs", summary="A rule's runs, newest first")
    async def rule_runs(
        self, rule_id: FromPath[int], actor: NamedDependency[Actor], limit: FromQuery[int] = 50
    ) -> list[RunOut]:
        await get_rule(rule_id)
        runs = await list_runs(rule_id, limit=max(1, min(limit, 500)))
        return [msgspec.convert(run, RunOut) for run in runs]

    @get("/runs", summary="Runs of every rule, newest first")
    async def runs(self, actor: NamedDependency[Actor], limit: FromQuery[int] = 50) -> list[RunOut]:
        runs = await list_runs(None, limit=max(1, min(limit, 500)))
        return [msgspec.convert(run, RunOut) for run in runs]

    @get("/actions", summary="Actions rules may use, with their parameters")
    async def actions(self, actor: NamedDependency[Actor]) -> list[ActionOut]:
        from crmcore.services.context import current_pm

        return [
            ActionOut(name=a.name, label=a.label, params=dict(a.params))
            for a in available_actions(current_pm()).values()
        ]
