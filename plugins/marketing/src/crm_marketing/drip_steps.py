"""The steps and triggers of drip campaigns: what each looks like, checked on save.

Steps run in order for each enrolled contact::

    {"type": "send", "template": "welcome", "subject": "optional override"}
    {"type": "wait", "days": 2}                       # or "hours"
    {"type": "wait_until", "hour_from": 9, "hour_to": 17}   # next time inside the window (UTC)
    {"type": "condition", "check": "not_opened", "step": 0}  # else the contact leaves
    {"type": "condition", "check": "field", "field": "city", "value": "Tehran"}
    {"type": "add_tag", "tag": "nurtured"}
    {"type": "set_stage", "stage": "lead"}
    {"type": "create_task", "title": "Call {{ contact.first_name }}", "due_days": 1}

Triggers: ``{"event": "contact.created"}``, ``{"event": "contact.tagged", "tag": "vip"}``,
``{"event": "geo.geofence_entered", "geofence_id": 3}`` (a check-in inside that area, when the
geo plugin is enabled; without ``geofence_id`` any area), ``{"segment": "name or id"}``
(contacts entering it), or ``{}`` (enrolment by hand).
"""

from __future__ import annotations

from typing import Any

from crmcore.errors import ValidationError
from crmcore.tables import STAGES

STEP_TYPES = ("send", "wait", "wait_until", "condition", "add_tag", "set_stage", "create_task")
CHECKS = ("opened", "not_opened", "clicked", "not_clicked", "field")
TRIGGER_EVENTS = ("contact.created", "contact.tagged")
GEOFENCE_EVENTS = ("geo.geofence_entered", "geo.geofence_exited")


def _fail(index: int, message: str) -> ValidationError:
    return ValidationError.for_field("steps", f"step {index + 1}: {message}")


async def check_steps(steps: Any) -> list[dict[str, Any]]:
    """The steps, checked: known types, their parameters, templates that exist and
    conditions that refer to an earlier send step."""
    from crm_marketing.templates_store import get_template

    if not isinstance(steps, list) or not steps:
        raise ValidationError.for_field("steps", "a drip campaign needs a list of steps.")
    checked: list[dict[str, Any]] = []
    for index, step in enumerate(steps):
        if not isinstance(step, dict) or step.get("type") not in STEP_TYPES:
            raise _fail(index, f"type must be one of {', '.join(STEP_TYPES)}.")
        kind = step["type"]
        step = dict(step)
        if kind == "send":
            ref = step.get("template")
            if ref in (None, ""):
                raise _fail(index, "a send step needs a template.")
            template = await get_template(int(ref) if str(ref).isdigit() else str(ref))
            step["template"] = template["id"]
        elif kind == "wait":
            days, hours = step.get("days", 0), step.get("hours", 0)
            if not all(isinstance(v, int | float) and v >= 0 for v in (days, hours)) or not (
                days or hours
            ):
                raise _fail(index, "a wait needs positive 'days' or 'hours'.")
        elif kind == "wait_until":
            start, end = step.get("hour_from"), step.get("hour_to")
            if not all(isinstance(v, int) and 0 <= v <= 24 for v in (start, end)) or start == end:
                raise _fail(index, "a window needs 'hour_from' and 'hour_to' (0–24, different).")
        elif kind == "condition":
            if step.get("check") not in CHECKS:
                raise _fail(index, f"check must be one of {', '.join(CHECKS)}.")
            if step["check"] == "field":
                if not step.get("field"):
                    raise _fail(index, "a field condition needs 'field' and 'value'.")
            else:
                sends = [i for i, s in enumerate(checked) if s["type"] == "send"]
                target = step.get("step", sends[-1] if sends else None)
                if target not in sends:
                    raise _fail(index, "the condition must refer to an earlier send step.")
                step["step"] = target
        elif kind == "add_tag":
            if not str(step.get("tag") or "").strip():
                raise _fail(index, "add_tag needs a 'tag'.")
        elif kind == "set_stage":
            if step.get("stage") not in STAGES:
                raise _fail(index, f"stage must be one of {', '.join(STAGES)}.")
        elif kind == "create_task" and not str(step.get("title") or "").strip():
            raise _fail(index, "create_task needs a 'title'.")
        checked.append(step)
    return checked


async def check_trigger(trigger: Any) -> dict[str, Any]:
    from crm_marketing.segments import get_segment

    if not isinstance(trigger, dict):
        raise ValidationError.for_field("trigger", "the trigger must be an object.")
    if not trigger:
        return {}
    if "segment" in trigger:
        ref = trigger["segment"]
        segment = await get_segment(int(ref) if str(ref).isdigit() else str(ref))
        return {"segment": segment["id"]}
    event = trigger.get("event")
    offered = (*TRIGGER_EVENTS, *_enabled_geofence_events())
    if event not in offered:
        raise ValidationError.for_field(
            "trigger", f"event must be one of {', '.join(offered)}, or give a segment."
        )
    if event == "contact.tagged" and not str(trigger.get("tag") or "").strip():
        raise ValidationError.for_field("trigger", "contact.tagged needs a 'tag'.")
    checked = {k: v for k, v in trigger.items() if k in ("event", "tag")}
    if event in GEOFENCE_EVENTS and trigger.get("geofence_id") is not None:
        checked["geofence_id"] = await _existing_geofence(trigger["geofence_id"])
    return checked


def _enabled_geofence_events() -> tuple[str, ...]:
    """The geofence events, when an enabled plugin (geo) declares them."""
    from crmcore.services.context import current_pm
    from crmcore.services.events import known_event_types

    known = set(known_event_types(current_pm()))
    return tuple(event for event in GEOFENCE_EVENTS if event in known)


async def _existing_geofence(value: Any) -> int:
    from crmcore.services.records import fetch

    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ValidationError.for_field("trigger", "geofence_id must be a geofence's id.")
    if not await fetch("SELECT id FROM geo_geofence WHERE id = {}", [int(value)]):
        raise ValidationError.for_field("trigger", f"there is no geofence with id {value}.")
    return int(value)
