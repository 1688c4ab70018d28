"""The core's automation actions: create a task, set a field, add a tag, notify a user by
email, call a webhook. Registered by the `automation` built-in through
``register_automation_actions``, exactly as a plugin registers its own."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from crmcore.errors import ValidationError
from crmcore.jobs import clock
from crmcore.services.audit import jsonable
from crmcore.services.automation import Action, ActionContext


class ActionFailed(Exception):
    """A remote end refused; the rule's job retries the action with back-off."""


_templates = SandboxedEnvironment(autoescape=False)


def render(text: str, ctx: ActionContext) -> str:
    """Fill ``{{ contact.first_name }}``-style placeholders (sandboxed: no attribute tricks)."""
    try:
        return _templates.from_string(str(text)).render(contact=ctx.contact, rule=ctx.rule)
    except Exception as exc:
        raise ValidationError(f"template {text!r} cannot be rendered: {exc}") from exc


def _number(params: dict[str, Any], name: str, default: float = 0) -> float:
    value = params.get(name, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError.for_field(name, f"must be a number, not {value!r}") from None
    if number < 0:
        raise ValidationError.for_field(name, "must not be negative")
    return number


async def _user_for(target: Any, ctx: ActionContext) -> dict[str, Any]:
    from crmcore.services.users import get_user, get_user_by_email

    target = "owner" if target in (None, "") else target
    if target == "owner":
        owner = ctx.contact.get("owner_id")
        if owner is None:
            raise ValidationError(f"contact {ctx.contact['id']} has no owner to address")
        return await get_user(int(owner))
    if isinstance(target, int) or str(target).isdigit():
        return await get_user(int(target))
    return await get_user_by_email(str(target))


async def create_task_action(contact_id: int, params: dict[str, Any], ctx: ActionContext) -> Any:
    from crmcore.services.tasks import create_task

    due = clock.now() + timedelta(
        days=_number(params, "in_days"), hours=_number(params, "in_hours")
    )
    assignee = await _user_for(params.get("assignee"), ctx)
    data: dict[str, Any] = {
        "subject": render(params["subject"], ctx),
        "body": render(params.get("body") or "", ctx),
        "due_at": due,
        "assignee_id": assignee["id"],
        "contact_id": contact_id,
        "meta": {"automation_rule": ctx.rule["id"], "automation_run": ctx.run_id},
    }
    if params.get("channel"):
        data["channel"] = params["channel"]
    task = await create_task(data, ctx.actor)
    return {
        "task_id": task["id"],
        "due_at": jsonable(task["due_at"]),
        "assignee_id": assignee["id"],
    }


async def set_field_action(contact_id: int, params: dict[str, Any], ctx: ActionContext) -> Any:
    from crmcore.services.contacts import update_contact

    name, value = str(params["field"]), params.get("value")
    if name.startswith("custom."):
        data: dict[str, Any] = {"custom": {name.removeprefix("custom."): value}}
    else:
        data = {name: value}
    await update_contact(contact_id, data, ctx.actor)
    return {"field": name}


async def add_tag_action(contact_id: int, params: dict[str, Any], ctx: ActionContext) -> Any:
    from crmcore.services.tags import add_tags

    changed = await add_tags([contact_id], [str(params["tag"])], ctx.actor)
    return {"tag": params["tag"], "changed": changed}


async def notify_user_action(contact_id: int, params: dict[str, Any], ctx: ActionContext) -> Any:
    from crmcore.services.mail import MailNotConfigured, send_email

    to = params.get("to")
    if isinstance(to, str) and "@" in to:
        address = to
    else:
        address = (await _user_for(to, ctx))["email"]
    subject = render(params["subject"], ctx)
    body = render(params.get("body") or params["subject"], ctx)
    try:
        await send_email(address, subject, body, settings=ctx.settings)
    except MailNotConfigured as exc:
        raise ValidationError(str(exc)) from exc
    return {"sent_to_user": params.get("to") or "owner"}


async def call_webhook_action(contact_id: int, params: dict[str, Any], ctx: ActionContext) -> Any:
    from crmcore.services.webhooks import check_url, post_signed

    url = check_url(str(params["url"]))
    body = json.dumps(
        {
            "rule": {"id": ctx.rule["id"], "name": ctx.rule["name"]},
            "run_id": ctx.run_id,
            "event": ctx.event,
            "contact": jsonable(ctx.contact),
        },
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    ).encode()
    headers = {"X-CRM-Event": "automation.rule", "X-CRM-Delivery": f"run-{ctx.run_id}"}
    code, error = await post_signed(url, str(params.get("secret") or ""), body, headers)
    if error:
        raise ActionFailed(f"{url}: {error}")
    return {"status_code": code}


CORE_ACTIONS: tuple[Action, ...] = (
    Action(
        "create_task",
        "Create a task",
        {
            "subject": "Subject ({{ contact.name }} and other fields may be used)",
            "in_days": "Due in this many days (optional)",
            "in_hours": "Due in this many hours (optional)",
            "assignee": "owner, a user id or email (optional; default: the contact's owner)",
            "body": "Details (optional)",
            "channel": "What is planned: phone, email, meeting… (optional)",
        },
        create_task_action,
    ),
    Action(
        "set_field",
        "Set a field",
        {"field": "Contact field (stage, title, source, custom.<key>…)", "value": "New value"},
        set_field_action,
    ),
    Action("add_tag", "Add a tag", {"tag": "Tag name"}, add_tag_action),
    Action(
        "notify_user",
        "Email a user",
        {
            "to": "owner, a user id or an email address (optional; default: the owner)",
            "subject": "Subject",
            "body": "Text (optional)",
        },
        notify_user_action,
    ),
    Action(
        "call_webhook",
        "Call a webhook",
        {"url": "URL to POST the contact to", "secret": "Signing secret (optional)"},
        call_webhook_action,
    ),
)
