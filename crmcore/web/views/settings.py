"""Settings pages for administrators: custom field definitions and user accounts.

Each handler declares the permission it needs (``settings.manage`` / ``users.manage``) with
the auth guard, so a user without it gets 403 before anything is read.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Response, Template

from crmcore.auth.guards import requires
from crmcore.errors import Conflict, ValidationError
from crmcore.services.custom_fields import ENTITIES, FIELD_TYPES, define_field, list_fields
from crmcore.services.roles import list_roles
from crmcore.services.users import LANGUAGES, create_user, list_users
from crmcore.web.templating import translator_for
from crmcore.web.views.forms import field_errors
from crmcore.web.views.labels import code_label
from crmcore.web.views.language import LANGUAGE_CHOICES, request_language
from crmcore.web.views.record_forms import split_tags
from crmcore.web.views.rendering import FormValues, read_form, redirect, render
from crmcore.web.views.session import CurrentActor

__all__ = ["ROUTES"]

# English msgids of the field types, translated on the page.
FIELD_TYPE_LABELS = {
    "text": "Text",
    "number": "Number",
    "date": "Date",
    "bool": "Yes / no",
    "choice": "One of a list",
    "multi_choice": "Several of a list",
}
ENTITY_LABELS = {"contact": "Contacts", "company": "Companies"}


FIELD_INPUTS = ("entity", "key", "label", "field_type", "choices")
USER_INPUTS = ("name", "email", "password", "role", "language")


def _errors(
    request: Request[Any, Any, Any], exc: ValidationError, form_fields: tuple[str, ...]
) -> dict[str, str]:
    return field_errors(
        exc, translator_for(request), request_language(request), form_fields=form_fields
    )


async def _fields_page(
    request: Request[Any, Any, Any], values: FormValues, errors: dict[str, str], status: int
) -> Template:
    _ = translator_for(request).gettext
    return await render(
        request,
        "core/settings_fields.html",
        {
            "fields": await list_fields(),
            "entities": [(code, _(ENTITY_LABELS[code])) for code in ENTITIES],
            "field_types": [(code, _(FIELD_TYPE_LABELS[code])) for code in FIELD_TYPES],
            "type_labels": {code: _(text) for code, text in FIELD_TYPE_LABELS.items()},
            "entity_labels": {code: _(text) for code, text in ENTITY_LABELS.items()},
            "values": values,
            "errors": errors,
        },
        status_code=status,
    )


@get("/settings/fields", name="settings-fields", guards=[requires("settings.manage")])
async def fields_page(request: Request[Any, Any, Any]) -> Template:
    values = FormValues([("entity", "contact"), ("field_type", "text")])
    return await _fields_page(request, values, {}, 200)


@post("/settings/fields", name="settings-field-create", guards=[requires("settings.manage")])
async def field_create(
    request: Request[Any, Any, Any], actor: CurrentActor
) -> Response[Any] | Template:
    form = await read_form(request)
    try:
        await define_field(
            form.text("entity"),
            form.text("key"),
            form.text("label"),
            form.text("field_type"),
            required=bool(form.get("required")),
            choices=split_tags(form.get("choices", "")) or None,
            actor=actor,
        )
    except (ValidationError, Conflict) as exc:
        if isinstance(exc, Conflict):
            exc = ValidationError(exc.message, {"key": exc.message})
        return await _fields_page(request, form, _errors(request, exc, FIELD_INPUTS), 422)
    return redirect("/settings/fields", "field_added")


async def _users_page(
    request: Request[Any, Any, Any], values: FormValues, errors: dict[str, str], status: int
) -> Template:
    catalog = translator_for(request)
    return await render(
        request,
        "core/settings_users.html",
        {
            "users": await list_users(),
            "roles": [
                (role["name"], code_label("role", role["name"], catalog))
                for role in await list_roles()
            ],
            "languages": [(c, n) for c, n in LANGUAGE_CHOICES if c in LANGUAGES],
            "values": values,
            "errors": errors,
        },
        status_code=status,
    )


@get("/settings/users", name="settings-users", guards=[requires("users.manage")])
async def users_page(request: Request[Any, Any, Any]) -> Template:
    values = FormValues([("role", "agent"), ("language", request_language(request))])
    return await _users_page(request, values, {}, 200)


@post("/settings/users", name="settings-user-create", guards=[requires("users.manage")])
async def user_create(
    request: Request[Any, Any, Any], actor: CurrentActor
) -> Response[Any] | Template:
    form = await read_form(request)
    try:
        await create_user(
            email=form.text("email"),
            password=form.get("password", ""),
            role=form.text("role"),
            name=form.text("name"),
            language=form.text("language") or "en",
            actor=actor,
        )
    except (ValidationError, Conflict) as exc:
        if isinstance(exc, Conflict):
            exc = ValidationError(exc.message, {"email": exc.message})
        form.pop("password", None)  # never echo a password back into the page
        return await _users_page(request, form, _errors(request, exc, USER_INPUTS), 422)
    return redirect("/settings/users", "user_created")


ROUTES = [fields_page, field_create, users_page, user_create]
