"""Lead scoring: points for opens, clicks and page visits, for matching a filter (field
rules), inactivity decay, and thresholds that change the lifecycle stage or fire
``marketing.score_threshold`` (which automation rules can react to).

Rules (``marketing_scoring_rule``)::

    kind "open" | "click" | "page_visit"   points per event
    kind "field"        params {"filter": <filter tree>}    points while the contact matches
    kind "inactivity"   params {"days": 30}   points (negative) each day without interactions
    kind "threshold"    points = minimum score; params {"stage": "lead"} or {"event": true}

A contact's score is its stored event points plus its field points; each threshold fires
once per contact (remembered in ``marketing_score.thresholds``).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from crm_marketing.tables import ScoringRule
from crmcore.errors import ValidationError
from crmcore.jobs import clock
from crmcore.services.actor import SYSTEM, Actor
from crmcore.services.filters import compile_filter_tree
from crmcore.services.outbox import emit_event
from crmcore.services.records import engine_type, fetch, load_json, plugin_manager, require
from crmcore.services.transaction import write_transaction
from crmcore.tables import STAGES

KINDS = ("open", "click", "page_visit", "field", "inactivity", "threshold")


async def create_rule(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    require(actor, "marketing.write")
    kind = data.get("kind")
    if kind not in KINDS:
        raise ValidationError.for_field("kind", f"must be one of {', '.join(KINDS)}.")
    try:
        points = int(data.get("points", 0))
    except (TypeError, ValueError):
        raise ValidationError.for_field("points", "must be a whole number.") from None
    params = data.get("params") or {}
    if kind == "field":
        # Checked with the author as reader: a rule's points must not tell a hidden field.
        compile_filter_tree(params.get("filter") or {}, plugin_manager(), engine_type(), actor)
    if kind == "inactivity" and not int(params.get("days") or 0) > 0:
        raise ValidationError.for_field("params", "inactivity needs 'days' (more than 0).")
    if kind == "threshold":
        if params.get("stage") is not None and params["stage"] not in STAGES:
            raise ValidationError.for_field("params", f"stage must be one of {', '.join(STAGES)}.")
        if params.get("stage") is None and not params.get("event"):
            raise ValidationError.for_field("params", "a threshold sets a 'stage' or an 'event'.")
    async with write_transaction():
        rows = await ScoringRule.insert(
            ScoringRule(kind=kind, points=points, params=json.dumps(params))
        )
    return {"id": int(rows[0]["id"]), "kind": kind, "points": points, "params": params}


async def list_rules() -> list[dict[str, Any]]:
    rows = await fetch("SELECT * FROM marketing_scoring_rule ORDER BY kind, id")
    return [{"id": r["id"], "kind": r["kind"], "points": r["points"],
             "params": load_json(r["params"], {})} for r in rows]  # fmt: skip


async def _rules(kind: str) -> list[dict[str, Any]]:
    return [r for r in await list_rules() if r["kind"] == kind]


async def field_points(contact_id: int) -> int:
    total = 0
    for rule in await _rules("field"):
        sql, args = compile_filter_tree(rule["params"].get("filter") or {}, plugin_manager(),
                                        engine_type())  # fmt: skip
        rows = await fetch(f"SELECT 1 AS hit FROM contact WHERE contact.id = {{}} AND ({sql})",
                           [contact_id, *args])  # fmt: skip
        if rows:
            total += rule["points"]
    return total


async def contact_score(contact_id: int) -> int:
    rows = await fetch("SELECT points FROM marketing_score WHERE contact = {}", [contact_id])
    return (int(rows[0]["points"]) if rows else 0) + await field_points(contact_id)


async def add_points(contact_id: int, points: int) -> int:
    """Add (or, negative, take) event points and apply any threshold newly reached;
    returns the contact's score."""
    async with write_transaction():
        await fetch(
            "INSERT INTO marketing_score (contact, points, thresholds, updated_at) "
            "VALUES ({}, {}, '[]', {}) ON CONFLICT (contact) DO UPDATE SET "
            "points = marketing_score.points + excluded.points, updated_at = excluded.updated_at",
            [contact_id, int(points), clock.now()],
        )
        score = await contact_score(contact_id)
        await _apply_thresholds(contact_id, score)
    return score


async def score_event(contact_id: int, kind: str) -> int | None:
    """Points for an ``open``, ``click`` or ``page_visit``; None when no rule scores it."""
    rules = await _rules(kind)
    if not rules:
        return None
    return await add_points(contact_id, sum(r["points"] for r in rules))


async def _apply_thresholds(contact_id: int, score: int) -> None:
    rows = await fetch("SELECT thresholds FROM marketing_score WHERE contact = {}", [contact_id])
    fired = set(load_json(rows[0]["thresholds"], [])) if rows else set()
    new = [r for r in await _rules("threshold") if score >= r["points"] and r["id"] not in fired]
    for rule in sorted(new, key=lambda r: r["points"]):
        fired.add(rule["id"])
        if rule["params"].get("stage"):
            from crmcore.services.contacts import update_contact

            await update_contact(contact_id, {"stage": rule["params"]["stage"]}, SYSTEM)
        await emit_event("marketing.score_threshold",
                         {"contact_id": contact_id, "score": score, "rule_id": rule["id"],
                          "threshold": rule["points"]})  # fmt: skip
    if new:
        await fetch("UPDATE marketing_score SET thresholds = {} WHERE contact = {}",
                    [json.dumps(sorted(fired)), contact_id])  # fmt: skip


async def inactivity_decay_job(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Job ``marketing.score_decay`` (daily): inactivity rules take their points from
    scored contacts with no interaction in their window, in one UPDATE per rule."""
    changed = 0
    for rule in await _rules("inactivity"):
        since = clock.now() - timedelta(days=int(rule["params"]["days"]))
        async with write_transaction():
            rows = await fetch(
                "UPDATE marketing_score SET points = points + {}, updated_at = {} "
                "WHERE NOT EXISTS (SELECT 1 FROM interaction i WHERE i.contact = "
                "marketing_score.contact AND i.occurred_at >= {}) RETURNING contact",
                [rule["points"], clock.now(), since],
            )
        changed += len(rows)
    return {"changed": changed}
