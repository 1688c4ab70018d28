"""Custom fields: an admin defines extra fields per entity; record values are checked
against those definitions on every write, whichever door they came through."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

from crmcore.errors import Conflict, NotFound, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import record_audit
from crmcore.services.outbox import emit_event
from crmcore.services.records import engine_type, fetch, load_json, require
from crmcore.services.transaction import write_transaction
from crmcore.tables import CustomField

__all__ = [
    "ENTITIES",
    "check_custom",
    "FIELD_TYPES",
    "define_field",
    "delete_field",
    "get_field",
    "list_fields",
    "update_field",
    "validate_custom",
]

ENTITIES = ("contact", "company")
FIELD_TYPES = ("text", "number", "date", "bool", "choice", "multi_choice")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_TEXT = 10_000
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def _row_to_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "entity": row["entity"],
        "key": row["key"],
        "label": row["label"],
        "field_type": row["field_type"],
        "required": bool(row["required"]),
        "choices": list(load_json(row["choices"], [])),
        "position": row["position"],
    }


def _check_entity(entity: str) -> None:
    if entity not in ENTITIES:
        raise ValidationError.for_field("entity", f"must be one of {', '.join(ENTITIES)}.")


def _clean_choices(field_type: str, choices: Any) -> list[str]:
    if field_type not in ("choice", "multi_choice"):
        if choices:
            raise ValidationError.for_field(
                "choices", f"only choice and multi_choice fields have choices, not {field_type}."
            )
        return []
    if not isinstance(choices, list | tuple) or not choices:
        raise ValidationError.for_field("choices", "list the allowed values (at least one).")
    cleaned: list[str] = []
    for choice in choices:
        text = str(choice).strip()
        if not text:
            raise ValidationError.for_field("choices", "a choice cannot be empty.")
        if text.lower() in {c.lower() for c in cleaned}:
            raise ValidationError.for_field("choices", f"{text!r} is listed twice.")
        cleaned.append(text)
    return cleaned


async def list_fields(entity: str | None = None) -> list[dict[str, Any]]:
    """Definitions in display order (of one entity, or of all)."""
    query = CustomField.select().order_by(CustomField.entity).order_by(CustomField.position)
    query = query.order_by(CustomField.id)
    if entity is not None:
        _check_entity(entity)
        query = query.where(CustomField.entity == entity)
    return [_row_to_dict(row) for row in await query]


async def get_field(field_id: int) -> dict[str, Any]:
    row = await CustomField.select().where(CustomField.id == field_id).first()
    if row is None:
        raise NotFound(f"custom field {field_id} does not exist")
    return _row_to_dict(row)


async def define_field(
    entity: str,
    key: str,
    label: str,
    field_type: str,
    required: bool = False,
    choices: list[str] | None = None,
    *,
    actor: Actor,
) -> dict[str, Any]:
    """Define a custom field for ``entity`` (``contact`` or ``company``).

    Existing records are not checked against a new required field; it is enforced on
    their next write (an update that does not touch ``custom`` passes).
    """
    require(actor, "settings.manage")
    _check_entity(entity)
    key = (key or "").strip()
    if not KEY_RE.match(key):
        raise ValidationError.for_field(
            "key", "use lower-case letters, digits and _ (starting with a letter, at most 64)."
        )
    label = (label or "").strip() or key
    if len(label) > 200:
        raise ValidationError.for_field("label", "is too long (at most 200 characters).")
    if field_type not in FIELD_TYPES:
        raise ValidationError.for_field("field_type", f"must be one of {', '.join(FIELD_TYPES)}.")
    cleaned_choices = _clean_choices(field_type, choices)
    async with write_transaction():
        clash = await CustomField.exists().where(
            (CustomField.entity == entity) & (CustomField.key == key)
        )
        if clash:
            raise Conflict(f"a {entity} custom field with the key {key!r} already exists")
        position = await CustomField.count().where(CustomField.entity == entity)
        rows = await CustomField.insert(
            CustomField(
                entity=entity,
                key=key,
                label=label,
                field_type=field_type,
                required=bool(required),
                choices=cleaned_choices,
                position=position,
            )
        )
        field = await get_field(rows[0]["id"])
        await record_audit(
            table="custom_field",
            record_id=field["id"],
            action="create",
            changes={k: [None, v] for k, v in field.items() if k != "id"},
            actor=actor,
        )
        await emit_event("custom_field.defined", field)
    return field


async def update_field(field_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Change a definition's label, required flag, choices or position (not key or type)."""
    require(actor, "settings.manage")
    unknown = set(data) - {"label", "required", "choices", "position"}
    if unknown:
        raise ValidationError(
            f"these cannot be changed on a custom field: {', '.join(sorted(unknown))} "
            "(delete the field and define a new one instead).",
            {name: "cannot be changed" for name in unknown},
        )
    async with write_transaction():
        before = await get_field(field_id)
        values: dict[str, Any] = {}
        if "label" in data:
            label = str(data["label"] or "").strip()
            if not label or len(label) > 200:
                raise ValidationError.for_field("label", "must be 1 to 200 characters.")
            values["label"] = label
        if "required" in data:
            values["required"] = bool(data["required"])
        if "choices" in data:
            values["choices"] = _clean_choices(before["field_type"], data["choices"])
        if "position" in data:
            values["position"] = int(data["position"])
        if values:
            await CustomField.update(values).where(CustomField.id == field_id)
        after = await get_field(field_id)
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        if changes:
            await record_audit(
                table="custom_field",
                record_id=field_id,
                action="update",
                changes=changes,
                actor=actor,
            )
            await emit_event("custom_field.updated", after)
    return after


async def delete_field(field_id: int, actor: Actor) -> None:
    """Delete a definition and remove its value from every record of the entity."""
    require(actor, "settings.manage")
    async with write_transaction():
        field = await get_field(field_id)
        table = field["entity"]
        if engine_type() == "sqlite":
            await fetch(
                f"UPDATE {table} SET custom = json_remove(custom, {{}}) "
                f"WHERE json_type(custom, {{}}) IS NOT NULL",
                [_json_path(field["key"]), _json_path(field["key"])],
            )
        else:
            await fetch(
                f"UPDATE {table} SET custom = (custom::jsonb - {{}})::json "
                f"WHERE (custom::jsonb) ? {{}}",
                [field["key"], field["key"]],
            )
        await CustomField.delete().where(CustomField.id == field_id)
        await record_audit(
            table="custom_field",
            record_id=field_id,
            action="delete",
            changes={k: [v, None] for k, v in field.items() if k != "id"},
            actor=actor,
        )
        await emit_event("custom_field.deleted", field)


def _json_path(key: str) -> str:
    return f'$."{key}"'


def _coerce(field: dict[str, Any], value: Any) -> Any:
    """The stored form of ``value`` for ``field``; ValueError says what is wrong."""
    kind = field["field_type"]
    if kind == "text":
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError("must be text")
        text = str(value).strip()
        if len(text) > MAX_TEXT:
            raise ValueError(f"is too long (at most {MAX_TEXT} characters)")
        return text
    if kind == "number":
        if isinstance(value, bool):
            raise ValueError("must be a number")
        if isinstance(value, str):
            try:
                value = float(value.strip().replace(",", ""))
            except ValueError:
                raise ValueError(f"{value!r} is not a number") from None
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError("must be a number")
        return int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value)
    if kind == "date":
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        try:
            return date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise ValueError(f"{value!r} is not a date; use YYYY-MM-DD") from None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"{value!r} is not yes/no; use true or false")
    choices = field["choices"]
    by_lower = {c.lower(): c for c in choices}
    if kind == "choice":
        choice = by_lower.get(str(value).strip().lower())
        if choice is None:
            raise ValueError(f"{value!r} is not one of: {', '.join(choices)}")
        return choice
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("must be a list of choices")
    picked: list[str] = []
    for item in items:
        choice = by_lower.get(str(item).strip().lower())
        if choice is None:
            raise ValueError(f"{item!r} is not one of: {', '.join(choices)}")
        if choice not in picked:
            picked.append(choice)
    return picked


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


async def validate_custom(entity: str, values: Any, partial: bool) -> dict[str, Any]:
    """Check custom field values against the definitions of ``entity``.

    Returns the values in stored form (numbers as numbers, dates as ISO strings, choices
    spelled as defined). With ``partial`` (an update) only the given keys are checked and
    a key given as empty maps to ``None``, meaning "remove this value"; without it every
    required field must be present and empty values are dropped.
    """
    _check_entity(entity)
    definitions = {f["key"]: f for f in await list_fields(entity)}
    return check_custom(entity, definitions, values, partial)


def check_custom(
    entity: str, definitions: dict[str, dict[str, Any]], values: Any, partial: bool
) -> dict[str, Any]:
    """``validate_custom`` against definitions already loaded (``{key: field}``), for bulk
    paths that check many records against the same definitions."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ValidationError.for_field("custom", "must be an object mapping field keys to values.")
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        field = definitions.get(key)
        if field is None:
            known = ", ".join(sorted(definitions)) or "none yet"
            errors[f"custom.{key}"] = (
                f"no {entity} custom field is called {key!r} (defined: {known})"
            )
        elif _is_empty(value):
            if field["required"]:
                errors[f"custom.{key}"] = f"{field['label']} is required"
            elif partial:
                cleaned[key] = None
        else:
            try:
                cleaned[key] = _coerce(field, value)
            except ValueError as exc:
                errors[f"custom.{key}"] = f"{field['label']} {exc}"
    if not partial:
        for key, field in definitions.items():
            if field["required"] and _is_empty(values.get(key)) and f"custom.{key}" not in errors:
                errors[f"custom.{key}"] = f"{field['label']} is required"
    if errors:
        message = "; ".join(f"{name}: {text}" for name, text in errors.items())
        raise ValidationError(message, errors)
    return cleaned
