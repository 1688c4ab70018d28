"""The contact and company forms: what the inputs are called and how they map to services.

Inputs are named after the service fields (``first_name``, ``phone``, ``custom.<key>``), so
a :class:`~crmcore.errors.ValidationError` from the service lands next to the right input
without a translation table. Custom field inputs follow the admin's definitions.
"""

from __future__ import annotations

from typing import Any

from crmcore.web.views.rendering import FormValues

__all__ = [
    "COMPANY_TEXT_FIELDS",
    "CONTACT_TEXT_FIELDS",
    "company_input",
    "contact_input",
    "custom_input",
    "form_inputs",
    "record_values",
]

CONTACT_TEXT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "title",
    "city",
    "country",
    "source",
)
COMPANY_TEXT_FIELDS = ("name", "domain", "industry", "size", "city", "country")


def form_inputs(fields: list[dict[str, Any]], company: bool = False) -> set[str]:
    """Names of the inputs the contact (or company) form shows, custom fields included."""
    names = set(COMPANY_TEXT_FIELDS if company else CONTACT_TEXT_FIELDS)
    names |= {"owner_id", "tags"} | ({"stage"} if not company else set())
    return names | {f"custom.{field['key']}" for field in fields}


def split_tags(text: str) -> list[str]:
    """``"vip, tehran"`` -> ``["vip", "tehran"]`` (Persian commas too)."""
    return [part.strip() for part in text.replace("،", ",").split(",") if part.strip()]


def custom_input(form: FormValues, fields: list[dict[str, Any]]) -> dict[str, Any]:
    """Custom field values from a form; an empty input means "no value"."""
    values: dict[str, Any] = {}
    for field in fields:
        name = f"custom.{field['key']}"
        if field["field_type"] == "multi_choice":
            values[field["key"]] = form.getall(name)
        elif field["field_type"] == "bool":
            values[field["key"]] = "true" if form.get(name) else "false"
        else:
            values[field["key"]] = form.text(name)
    return values


def contact_input(form: FormValues, fields: list[dict[str, Any]]) -> dict[str, Any]:
    """Service input for ``create_contact``/``update_contact`` from the contact form."""
    data: dict[str, Any] = {name: form.text(name) for name in CONTACT_TEXT_FIELDS}
    data["stage"] = form.text("stage") or "lead"
    data["owner_id"] = form.text("owner_id") or None
    data["tags"] = split_tags(form.get("tags", ""))
    if fields:
        data["custom"] = custom_input(form, fields)
    return data


def company_input(form: FormValues, fields: list[dict[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {name: form.text(name) for name in COMPANY_TEXT_FIELDS}
    data["owner_id"] = form.text("owner_id") or None
    data["tags"] = split_tags(form.get("tags", ""))
    if fields:
        data["custom"] = custom_input(form, fields)
    return data


def record_values(record: dict[str, Any], fields: list[dict[str, Any]]) -> FormValues:
    """Form values showing a stored contact or company, for its edit form."""
    pairs: list[tuple[str, str]] = []
    for key in dict.fromkeys((*CONTACT_TEXT_FIELDS, *COMPANY_TEXT_FIELDS, "stage")):
        source = "company_name" if key == "company" else key
        if source in record:
            value = record[source]
            pairs.append((key, "" if value is None else str(value)))
    pairs.append(("owner_id", str(record.get("owner_id") or "")))
    pairs.append(("tags", ", ".join(record.get("tags") or [])))
    custom = record.get("custom") or {}
    for field in fields:
        value = custom.get(field["key"])
        name = f"custom.{field['key']}"
        if isinstance(value, list):
            pairs.extend((name, str(item)) for item in value)
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else ""))
        elif value is not None:
            pairs.append((name, str(value)))
    return FormValues(pairs)
