"""Running automation rules: which events trigger them, the daily schedule, and the job that
evaluates a rule for one contact and runs its actions (see :mod:`crmcore.services.automation`
for the rule format).

Each evaluation is a run (``automation_rule_run``) keyed by what triggered it, so a retried
or re-delivered job continues the same run instead of starting again: actions already done
are not repeated, and a ``delay`` continues with the next action when its job comes due.
"""

from __future__ import annotations

import fnmatch
from datetime import timedelta
from typing import Any

from crmcore.automation_app.tables import Rule, RuleRun
from crmcore.db.runtime import current_database
from crmcore.errors import CRMError, ValidationError
from crmcore.jobs import JobContext, clock, enqueue
from crmcore.services.audit import jsonable
from crmcore.services.automation import (
    RESERVED_KEYS,
    RUN_RULE_JOB,
    ActionContext,
    available_actions,
    load_json,
    parse_duration,
    rule_actor,
    rule_from_row,
)
from crmcore.services.context import current_pm
from crmcore.services.transaction import write_transaction
from crmcore.tables import Contact

# --------------------------------------------------------------------------- triggering


def _field(payload: dict[str, Any], path: str) -> Any:
    value: Any = payload
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def event_matches(trigger: dict[str, Any], event: str, payload: dict[str, Any]) -> bool:
    """Does an event trigger fire for this event? ``match`` values may be lists (any of)."""
    if "event" not in trigger or not fnmatch.fnmatchcase(event, trigger["event"]):
        return False
    for path, expected in (trigger.get("match") or {}).items():
        actual = _field(payload, path)
        if isinstance(expected, list):
            if actual not in expected:
                return False
        elif actual != expected:
            return False
    return True


def contacts_of_event(event: str, payload: dict[str, Any]) -> list[int]:
    """The contacts an event is about: ``contact.*`` events carry ``id``, others
    ``contact_id``, ``contact_ids`` or a ``contact`` object."""
    found: list[Any] = []
    if event.startswith("contact.") and "id" in payload:
        found.append(payload["id"])
    elif payload.get("contact_id") is not None:
        found.append(payload["contact_id"])
    elif isinstance(payload.get("contact"), dict) and "id" in payload["contact"]:
        found.append(payload["contact"]["id"])
    found.extend(payload.get("contact_ids") or [])
    return [int(c) for c in dict.fromkeys(found) if isinstance(c, int) or str(c).isdigit()]


async def enabled_event_rules() -> list[dict[str, Any]]:
    rows = await Rule.select().where(Rule.enabled.eq(True)).order_by(Rule.id)
    return [rule for rule in map(rule_from_row, rows) if "event" in rule["trigger"]]


async def trigger_rules_for_event(
    event_id: int, event: str, payload: dict[str, Any], rules: list[dict[str, Any]]
) -> int:
    """Inside the dispatch transaction: queue one run per matching rule and contact."""
    queued = 0
    for rule in rules:
        if not event_matches(rule["trigger"], event, payload):
            continue
        for contact_id in contacts_of_event(event, payload):
            run_key = f"{rule['id']}:event:{event_id}:{contact_id}"
            await enqueue(
                RUN_RULE_JOB,
                {
                    "rule_id": rule["id"],
                    "contact_id": contact_id,
                    "event_id": event_id,
                    "run_key": run_key,
                },
                key=f"rule:{run_key}",
            )
            queued += 1
    return queued


async def evaluate_scheduled_rules(payload: dict[str, Any] | None = None, ctx: Any = None) -> int:
    """Job (daily): queue runs of schedule-triggered rules; returns how many were queued."""
    queued = 0
    rows = await Rule.select().where(Rule.enabled.eq(True)).order_by(Rule.id)
    for rule in map(rule_from_row, rows):
        if "schedule" in rule["trigger"]:
            queued += await _queue_scheduled(rule)
    return queued


async def _queue_scheduled(rule: dict[str, Any]) -> int:
    from crmcore.services.filters import compile_filter_tree

    engine_type = current_database().engine.engine_type
    now = clock.now()
    days = rule["trigger"].get("no_interaction_days")
    where, args = "1 = 1", []
    if rule["conditions"]:
        where, args = compile_filter_tree(rule["conditions"], current_pm(), engine_type)
    happened = "(i.status IS NULL OR i.status = 'done')"
    if days:
        cutoff = now - timedelta(days=days)
        select = (
            "SELECT contact.id AS id, (SELECT MAX(i.id) FROM interaction i "
            f"WHERE i.contact = contact.id AND {happened}) AS marker FROM contact "
            "WHERE contact.id > {} AND contact.created_at <= {} AND NOT EXISTS ("
            f"SELECT 1 FROM interaction i WHERE i.contact = contact.id AND {happened} "
            f"AND i.occurred_at >= {{}}) AND ({where}) ORDER BY contact.id LIMIT 500"
        )
        extra: list[Any] = [cutoff, cutoff]
        kind = "quiet"
    else:
        select = (
            "SELECT contact.id AS id, CAST({} AS TEXT) AS marker FROM contact "
            "WHERE contact.id > {} "
            f"AND ({where}) ORDER BY contact.id LIMIT 500"
        )
        extra = []
        kind = "daily"
    queued, last_id = 0, 0
    while True:
        if days:
            rows = await Contact.raw(select, last_id, *extra, *args)
        else:
            rows = await Contact.raw(select, now.date().isoformat(), last_id, *args)
        if not rows:
            return queued
        last_id = rows[-1]["id"]
        keys = {row["id"]: f"{rule['id']}:{kind}:{row['id']}:{row['marker'] or 0}" for row in rows}
        done = await RuleRun.select(RuleRun.run_key).where(
            RuleRun.run_key.is_in(list(keys.values()))
        )
        seen = {row["run_key"] for row in done}
        async with write_transaction():
            for contact_id, run_key in keys.items():
                if run_key in seen:
                    continue
                await enqueue(
                    RUN_RULE_JOB,
                    {
                        "rule_id": rule["id"],
                        "contact_id": contact_id,
                        "event_id": None,
                        "run_key": run_key,
                    },
                    key=f"rule:{run_key}",
                )
                queued += 1


# --------------------------------------------------------------------------- running


async def _contact_matches(contact_id: int, conditions: dict[str, Any] | None) -> bool:
    from crmcore.services.filters import compile_filter_tree

    sql, args = "1 = 1", []
    if conditions:
        sql, args = compile_filter_tree(
            conditions, current_pm(), current_database().engine.engine_type
        )
    rows = await Contact.raw(
        f"SELECT contact.id FROM contact WHERE contact.id = {{}} AND ({sql})", contact_id, *args
    )
    return bool(rows)


async def _open_run(
    payload: dict[str, Any], rule: dict[str, Any], contact_exists: bool
) -> dict[str, Any]:
    """The run for this trigger: created on the first attempt, found on later ones."""
    run_key = payload["run_key"]
    async with write_transaction():
        await RuleRun.insert(
            RuleRun(
                rule=rule["id"],
                run_key=run_key,
                contact=payload.get("contact_id") if contact_exists else None,
                event_id=payload.get("event_id"),
                status="running",
                steps=[],
                started_at=clock.now(),
            )
        ).on_conflict(target=RuleRun.run_key, action="DO NOTHING")
    row = await RuleRun.select().where(RuleRun.run_key == run_key).first()
    assert row is not None
    row["steps"] = load_json(row["steps"]) or []
    return row


async def _save_run(run_id: int, **values: Any) -> None:
    await RuleRun.update({getattr(RuleRun, k): v for k, v in values.items()}).where(
        RuleRun.id == run_id
    )


async def run_rule(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Job: evaluate a rule for one contact and run its actions from where the run stands."""
    from crmcore.services.contacts import contact_dicts

    rule_row = await Rule.select().where(Rule.id == int(payload["rule_id"])).first()
    if rule_row is None:
        return {"status": "skipped", "reason": "the rule was deleted"}
    rule = rule_from_row(rule_row)
    contact_id = int(payload["contact_id"])
    contact = (await contact_dicts([contact_id])).get(contact_id)
    run = await _open_run(payload, rule, contact is not None)
    if run["status"] in ("done", "skipped", "failed"):
        return {"status": run["status"], "run_id": run["id"]}
    finished = clock.now()
    if not rule["enabled"]:
        await _save_run(
            run["id"], status="skipped", error="the rule is disabled", finished_at=finished
        )
        return {"status": "skipped", "run_id": run["id"]}
    if contact is None:
        await _save_run(
            run["id"], status="skipped", error="the contact no longer exists", finished_at=finished
        )
        return {"status": "skipped", "run_id": run["id"]}
    steps: list[dict[str, Any]] = run["steps"]
    if not steps and payload.get("waited_step") is None:
        if not await _contact_matches(contact_id, rule["conditions"]):
            await _save_run(
                run["id"], status="skipped", error="conditions not met", finished_at=finished
            )
            return {"status": "skipped", "run_id": run["id"]}
    pm = current_pm()
    actions = available_actions(pm)
    event = None
    if payload.get("event_id") is not None:
        event = {"id": payload["event_id"], "name": rule["trigger"].get("event")}
    action_ctx = ActionContext(
        rule=rule,
        run_id=run["id"],
        contact=contact,
        event=event,
        actor=rule_actor(rule),
        settings=pm.settings,
        pm=pm,
    )
    for index in range(len(steps), len(rule["actions"])):
        spec = rule["actions"][index]
        delay = parse_duration(spec.get("delay"))
        if delay and payload.get("waited_step") != index:
            async with write_transaction():
                await enqueue(
                    RUN_RULE_JOB,
                    {**payload, "waited_step": index},
                    at=clock.now() + delay,
                    key=f"rule:{payload['run_key']}:wait:{index}",
                )
                await _save_run(run["id"], status="waiting")
            return {"status": "waiting", "run_id": run["id"], "step": index}
        action = actions.get(spec["action"])
        params = {k: v for k, v in spec.items() if k not in RESERVED_KEYS}
        step: dict[str, Any] = {"action": spec["action"], "at": clock.now().isoformat()}
        try:
            if action is None:
                raise ValidationError(f"the action {spec['action']!r} is no longer available")
            result = await action.run(contact_id, params, action_ctx)
        except CRMError as exc:
            steps.append({**step, "status": "failed", "error": exc.message})
            await _save_run(
                run["id"], status="failed", steps=steps, error=exc.message, finished_at=clock.now()
            )
            return {"status": "failed", "run_id": run["id"], "error": exc.message}
        except Exception as exc:
            message = f"{spec['action']}: {type(exc).__name__}: {exc}"
            if ctx.last_attempt:
                steps.append({**step, "status": "failed", "error": message})
                await _save_run(
                    run["id"], status="failed", steps=steps, error=message, finished_at=clock.now()
                )
            else:
                await _save_run(run["id"], status="running", error=message)
            raise
        # Refresh for the next action (the contact may have been changed by this one).
        action_ctx.contact = (await contact_dicts([contact_id])).get(contact_id) or contact
        steps.append({**step, "status": "ok", "result": jsonable(result)})
        await _save_run(run["id"], status="running", steps=steps, error="")
    await _save_run(run["id"], status="done", finished_at=clock.now())
    return {"status": "done", "run_id": run["id"]}
