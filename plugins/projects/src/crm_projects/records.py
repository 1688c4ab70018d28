"""Shared helpers of the projects services: permission checks, scope, audit and events."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from crm_projects.tables import Project, ProjectEvent, ProjectMember
from crmcore.errors import NotFound, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import record_audit
from crmcore.services.outbox import emit_event
from crmcore.services.records import iso, load_json, require

READ = "projects.read"
WRITE = "projects.write"
PLUGIN = "projects"


def can_read(actor: Actor) -> None:
    require(actor, READ)


def can_write(actor: Actor) -> None:
    require(actor, WRITE)


async def project_row(project_id: int, actor: Actor) -> dict[str, Any]:
    """The stored project, or NotFound when missing or outside the actor's record scope."""
    row = await Project.select(*Project.all_columns()).where(Project.id == project_id).first()
    if row is None or not await sees_project(actor, row):
        raise NotFound(f"Project {project_id} does not exist.")
    row["stages"] = load_json(row.get("stages"), [])
    return row


async def sees_project(actor: Actor, row: dict[str, Any]) -> bool:
    """Own-scope users see projects they own or belong to."""
    if actor.sees_all_records:
        return True
    if row.get("owner") == actor.user_id:
        return True
    return await ProjectMember.exists().where(
        (ProjectMember.project == row["id"]) & (ProjectMember.user == actor.user_id)
    )


async def audit(
    table: str, record_id: int, action: str, changes: dict[str, Any], actor: Actor
) -> None:
    await record_audit(
        table=table,
        record_id=record_id,
        action=action,
        changes=changes,
        actor=actor,
        plugin=PLUGIN,
    )


async def project_event(project_id: int, kind: str, title: str, data: dict[str, Any]) -> None:
    """Record what happened, for contact timelines, and emit it to the outbox."""
    await ProjectEvent.insert(ProjectEvent(project=project_id, kind=kind, title=title, data=data))
    await emit_event(f"projects.{kind}", {"project_id": project_id, "title": title, **data})


def parse_date_field(data: dict[str, Any], key: str) -> date | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationError.for_field(key, f"{value!r} is not a date (YYYY-MM-DD).") from exc


def parse_amount(data: dict[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValidationError.for_field(key, f"{value!r} is not a number.") from exc
    if amount < 0:
        raise ValidationError.for_field(key, "cannot be negative.")
    return amount


def parse_number(data: dict[str, Any], key: str, default: float = 0.0) -> float:
    value = data.get(key, default)
    if value in (None, ""):
        return default
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError.for_field(key, f"{value!r} is not a number.") from exc


def parse_scale(data: dict[str, Any], key: str) -> int:
    """A 1–5 rating (probability, impact)."""
    value = data.get(key)
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError.for_field(key, "must be a whole number from 1 to 5.") from exc
    if not 1 <= number <= 5:
        raise ValidationError.for_field(key, "must be from 1 to 5.")
    return number


def required_text(data: dict[str, Any], key: str, max_length: int = 300) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.for_field(key, "is required.")
    if len(value) > max_length:
        raise ValidationError.for_field(key, f"is too long (at most {max_length} characters).")
    return value.strip()


def public(row: dict[str, Any], rename: dict[str, str]) -> dict[str, Any]:
    """Rows as the API shows them: ``*_id`` for references, ISO strings for dates."""
    out = {}
    for key, value in row.items():
        name = rename.get(key, key)
        out[name] = iso(value) if hasattr(value, "isoformat") else value
        if isinstance(value, Decimal):
            out[name] = str(value)
    return out
