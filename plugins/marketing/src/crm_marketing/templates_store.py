"""Stored email templates: create, change, list and preview with a chosen contact."""

from __future__ import annotations

from typing import Any

from crm_marketing.history import audit
from crm_marketing.rendering import check_template, render_email
from crm_marketing.tables import EmailTemplate
from crmcore.errors import Conflict, NotFound, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.records import clean_text, fetch, iso, now, require
from crmcore.services.transaction import write_transaction

FIELDS = ("name", "subject", "html", "text")


def _shape(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "name": row["name"], "subject": row["subject"], "html": row["html"],
        "text": row["text"], "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }  # fmt: skip


def _clean(data: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    clean = dict(existing or {})
    for key in FIELDS:
        if key in data:
            clean[key] = clean_text(data, key, 200 if key == "name" else 500 if key == "subject"
                                    else 1_000_000)  # fmt: skip
    if not clean.get("name"):
        raise ValidationError.for_field("name", "a template needs a name.")
    if not clean.get("html") and not clean.get("text"):
        raise ValidationError.for_field("html", "a template needs an HTML or a text part.")
    for key in ("subject", "html", "text"):
        check_template(clean.get(key) or "", key)
    return clean


async def create_template(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Save a template after checking every part parses and stays inside the sandbox."""
    require(actor, "marketing.write")
    clean = _clean(data, None)
    async with write_transaction():
        if await EmailTemplate.exists().where(EmailTemplate.name == clean["name"]):
            raise Conflict(f"there is already a template named {clean['name']!r}.")
        rows = await EmailTemplate.insert(EmailTemplate(**{k: clean.get(k, "") for k in FIELDS}))
        template_id = int(rows[0]["id"])
        await audit(actor, "create", "marketing_template", template_id,
                           {"name": [None, clean["name"]]})  # fmt: skip
    return await get_template(template_id)


async def update_template(template_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    require(actor, "marketing.write")
    existing = await get_template(template_id)
    clean = _clean(data, existing)
    changes = {k: [existing[k], clean[k]] for k in FIELDS if existing[k] != clean[k]}
    async with write_transaction():
        await EmailTemplate.update(
            {**{getattr(EmailTemplate, k): clean[k] for k in FIELDS},
             EmailTemplate.updated_at: now()}
        ).where(EmailTemplate.id == template_id)  # fmt: skip
        if changes:
            await audit(actor, "update", "marketing_template", template_id, changes,
                               plugin="marketing")  # fmt: skip
    return await get_template(template_id)


async def get_template(template_id_or_name: int | str) -> dict[str, Any]:
    column = "id" if isinstance(template_id_or_name, int) else "name"
    rows = await fetch(
        f"SELECT * FROM marketing_template WHERE {column} = {{}}", [template_id_or_name]
    )
    if not rows:
        raise NotFound(f"there is no email template {template_id_or_name!r}.")
    return _shape(rows[0])


async def list_templates() -> list[dict[str, Any]]:
    return [_shape(r) for r in await fetch("SELECT * FROM marketing_template ORDER BY name")]


async def contact_rows(ids: list[int]) -> dict[int, dict[str, Any]]:
    """The contact fields templates use, for many contacts in one query."""
    if not ids:
        return {}
    marks = ", ".join("{}" for _ in ids)
    rows = await fetch(
        "SELECT id, first_name, last_name, title, email, phone, city, region, country, stage, "
        f"language, source, custom FROM contact WHERE id IN ({marks})",
        ids,
    )
    from crmcore.services.records import load_json

    return {r["id"]: {**r, "custom": load_json(r["custom"], {})} for r in rows}


async def preview_template(template_id: int, contact_id: int, actor: Actor) -> dict[str, Any]:
    """The template rendered for one contact, as it would be sent (links not yet tracked)."""
    require(actor, "marketing.read")
    template = await get_template(template_id)
    rows = await contact_rows([contact_id])
    if contact_id not in rows:
        raise NotFound(f"there is no contact {contact_id}.")
    rendered = render_email(template, rows[contact_id], extra={"unsubscribe_url": "#"})
    return {"subject": rendered.subject, "html": rendered.html, "text": rendered.text,
            "links": rendered.links}  # fmt: skip
