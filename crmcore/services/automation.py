"""Workflow automation rules: a trigger, conditions on the contact, actions run in order.

A rule is JSON, e.g. "when a contact becomes a customer, create a follow-up task for the
owner in 3 days"::

    {"name": "Follow up new customers",
     "trigger": {"event": "contact.stage_changed", "match": {"to": "customer"}},
     "conditions": {"filter": "has_email"},
     "actions": [{"action": "create_task", "subject": "Follow up", "in_days": 3}]}

* **trigger**: ``{"event": NAME-or-PATTERN, "match": {field: value}}`` fires for each
  outbox event whose payload matches; ``{"schedule": "daily", "no_interaction_days": 30}``
  fires once per quiet period for each contact without an interaction for that long
  (``{"schedule": "daily"}`` alone: once a day for every contact the conditions select).
* **conditions**: a filter tree over the contact, the same filters the contacts API uses
  (plugin filters included), compiled by :func:`crmcore.services.filters.compile_filter_tree`.
* **actions**: ``{"action": NAME, "delay": "2d", **params}``; a ``delay`` pauses the rule
  there through the job queue. Actions come from the ``register_automation_actions`` hook
  (:class:`Action`); the core's are in :mod:`crmcore.services.automation_actions`.

Each evaluation is a run (``automation_rule_run``): skipped (conditions false), waiting
(in a delay), done or failed, with one step per action. A run is keyed by what triggered
it, so a retried or re-delivered job continues the same run instead of starting again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from crmcore.automation_app.tables import Rule, RuleRun
from crmcore.db.runtime import current_database
from crmcore.errors import NotFound, ValidationError
from crmcore.jobs import clock
from crmcore.services.actor import Actor
from crmcore.services.audit import jsonable, record_audit
from crmcore.services.context import current_pm
from crmcore.services.transaction import write_transaction

RUN_RULE_JOB = "automation.run_rule"
SCHEDULES = ("daily",)
_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
RESERVED_KEYS = ("action", "delay")


@dataclass
class ActionContext:
    """What an action knows: the rule, the run, the contact as it is now, the trigger."""

    rule: dict[str, Any]
    run_id: int
    contact: dict[str, Any]
    event: dict[str, Any] | None
    actor: Actor
    settings: Any
    pm: Any
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    """Something a rule can do to a contact.

    ``params`` maps each parameter to a label for forms; labels containing ``(optional``
    mark optional ones. ``run(contact_id, params, ctx)`` does the work and returns JSON data
    for the run log. Raise :class:`crmcore.errors.CRMError` (e.g. ValidationError) for a
    problem retrying cannot fix; any other exception is retried with back-off.
    """

    name: str
    label: str
    params: dict[str, str]
    run: Callable[[int, dict[str, Any], ActionContext], Awaitable[Any]]

    @property
    def required(self) -> list[str]:
        return [name for name, label in self.params.items() if "(optional" not in label]


def rule_actor(rule: dict[str, Any]) -> Actor:
    """Rules act as the system, named after the rule in the audit log."""
    return Actor(
        user_id=None,
        label=f"automation rule {rule['id']}: {rule['name']}"[:320],
        permissions=frozenset({"*"}),
        is_system=True,
    )


def parse_duration(value: Any, field_name: str = "delay") -> timedelta | None:
    """``"3d"``, ``"2h"``, ``"30m"``, ``"1w"`` or seconds as a number."""
    if value in (None, "", 0):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return timedelta(seconds=value)
    match = _DURATION_RE.match(str(value).strip().lower())
    if not match:
        raise ValidationError.for_field(
            field_name, f"{value!r} is not a duration: use e.g. '30m', '2h', '3d' or seconds"
        )
    return timedelta(seconds=float(match.group(1)) * _DURATION_UNITS[match.group(2)])


def available_actions(pm: Any) -> dict[str, Action]:
    """Every action registered through ``register_automation_actions``, by name."""
    actions: dict[str, Action] = {}
    for plugin, result in pm.call_in_order("register_automation_actions"):
        for action in result or ():
            if not isinstance(action, Action):
                raise TypeError(f"plugin {plugin!r} returned {action!r}; expected Action")
            actions.setdefault(action.name, action)
    return actions


# --------------------------------------------------------------------------- rules


def load_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def rule_from_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "enabled": bool(row["enabled"]),
        "trigger": load_json(row["trigger"]) or {},
        "conditions": load_json(row["conditions"]),
        "actions": load_json(row["actions"]) or [],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def validate_rule(spec: dict[str, Any], pm: Any) -> dict[str, Any]:
    """Check a rule document; returns it cleaned or raises ValidationError with fields."""
    if not isinstance(spec, dict):
        raise ValidationError("a rule is a JSON object with name, trigger and actions")
    errors: dict[str, str] = {}
    name = str(spec.get("name") or "").strip()
    if not name:
        errors["name"] = "is required"
    trigger = spec.get("trigger")
    if not isinstance(trigger, dict) or not (("event" in trigger) ^ ("schedule" in trigger)):
        errors["trigger"] = (
            'must be {"event": "contact.created", "match": {...}} or '
            '{"schedule": "daily", "no_interaction_days": 30}'
        )
    elif "event" in trigger:
        if not isinstance(trigger["event"], str) or not trigger["event"].strip():
            errors["trigger"] = "event must name an event, e.g. contact.stage_changed"
        elif not isinstance(trigger.get("match", {}), dict):
            errors["trigger"] = "match must be an object of payload fields and values"
    else:
        if trigger["schedule"] not in SCHEDULES:
            errors["trigger"] = f"schedule must be one of {', '.join(SCHEDULES)}"
        days = trigger.get("no_interaction_days")
        if days is not None and (not isinstance(days, int) or isinstance(days, bool) or days < 1):
            errors["trigger"] = "no_interaction_days must be a whole number of days (1 or more)"
    conditions = spec.get("conditions") or None
    if conditions is not None:
        from crmcore.services.filters import compile_filter_tree

        try:
            compile_filter_tree(conditions, pm, current_database().engine.engine_type)
        except ValidationError as exc:
            errors["conditions"] = exc.errors.get("filters") or exc.message
    actions = spec.get("actions")
    known = available_actions(pm)
    if not isinstance(actions, list) or not actions:
        errors["actions"] = 'list at least one action, e.g. {"action": "add_tag", ...}'
    else:
        for index, step in enumerate(actions):
            problem = _check_step(step, known)
            if problem:
                errors[f"actions[{index}]"] = problem
    if errors:
        first = next(iter(errors.items()))
        raise ValidationError(f"invalid rule: {first[0]} {first[1]}", errors)
    return {
        "name": name,
        "enabled": bool(spec.get("enabled", True)),
        "trigger": trigger,
        "conditions": conditions,
        "actions": actions,
    }


def _check_step(step: Any, known: dict[str, Action]) -> str | None:
    if not isinstance(step, dict) or not isinstance(step.get("action"), str):
        return 'must be {"action": NAME, ...params}'
    action = known.get(step["action"])
    if action is None:
        return f"unknown action {step['action']!r} (available: {', '.join(sorted(known))})"
    try:
        parse_duration(step.get("delay"))
    except ValidationError as exc:
        return exc.message
    missing = [p for p in action.required if step.get(p) in (None, "")]
    if missing:
        return f"{action.name} needs {', '.join(missing)}"
    unknown = [k for k in step if k not in RESERVED_KEYS and k not in action.params]
    if unknown:
        return f"{action.name} has no parameter {', '.join(unknown)}"
    return None


async def create_rule(spec: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Validate and store a rule; returns it."""
    clean = validate_rule(spec, current_pm())
    now = clock.now()
    async with write_transaction():
        rows = await Rule.insert(
            Rule(**clean, created_at=now, updated_at=now, created_by=actor.user_id)
        )
        rule = await get_rule(rows[0]["id"])
        await record_audit(
            table="automation_rule",
            record_id=rule["id"],
            action="create",
            changes={k: [None, jsonable(v)] for k, v in clean.items()},
            actor=actor,
            plugin="automation",
        )
    return rule


async def get_rule(rule_id: int) -> dict[str, Any]:
    row = await Rule.select().where(Rule.id == int(rule_id)).first()
    if row is None:
        raise NotFound(f"automation rule {rule_id} not found")
    return rule_from_row(row)


async def list_rules() -> list[dict[str, Any]]:
    return [rule_from_row(row) for row in await Rule.select().order_by(Rule.id)]


async def set_rule_enabled(rule_id: int, enabled: bool, actor: Actor) -> dict[str, Any]:
    """Turn a rule on or off (runs already waiting in a delay stop at their next step)."""
    async with write_transaction():
        before = await get_rule(rule_id)
        if before["enabled"] != enabled:
            await Rule.update({Rule.enabled: enabled, Rule.updated_at: clock.now()}).where(
                Rule.id == before["id"]
            )
            await record_audit(
                table="automation_rule",
                record_id=before["id"],
                action="update",
                changes={"enabled": [before["enabled"], enabled]},
                actor=actor,
                plugin="automation",
            )
    return await get_rule(rule_id)


async def delete_rule(rule_id: int, actor: Actor) -> None:
    async with write_transaction():
        before = await get_rule(rule_id)
        await Rule.delete().where(Rule.id == before["id"])
        await record_audit(
            table="automation_rule",
            record_id=before["id"],
            action="delete",
            changes={"name": [before["name"], None]},
            actor=actor,
            plugin="automation",
        )


async def list_runs(rule_id: int | None = None, *, limit: int = 50) -> list[dict[str, Any]]:
    """Newest runs first."""
    query = RuleRun.select().order_by(RuleRun.id, ascending=False).limit(limit)
    if rule_id is not None:
        query = query.where(RuleRun.rule == int(rule_id))
    return [
        {
            "id": row["id"],
            "rule_id": row["rule"],
            "contact_id": row["contact"],
            "event_id": row["event_id"],
            "status": row["status"],
            "steps": load_json(row["steps"]) or [],
            "error": row["error"],
            "started_at": row["started_at"],
            "finished_at": row["finished_at"],
        }
        for row in await query
    ]
