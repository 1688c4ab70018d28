"""Who is looking at a page: the bridge from ``crmcore.auth`` to templates and views.

The authentication middleware puts an ``Identity`` (user fields, Actor, session) in
``scope["user"]``; these helpers read it without failing on public pages such as the
sign-in form, where nobody is signed in yet.
"""

from __future__ import annotations

from typing import Any

from litestar.di import NamedDependency

from crmcore.auth.csrf import FIELD_NAME, csrf_token
from crmcore.services.actor import Actor

__all__ = [
    "CSRF_FIELD",
    "CurrentActor",
    "csrf_token_for",
    "request_actor",
    "request_user",
    "scope_user",
    "set_user_language",
]

CSRF_FIELD = FIELD_NAME

# Handlers declare ``actor: CurrentActor`` to receive the app-wide ``actor`` dependency.
CurrentActor = NamedDependency[Actor]


def scope_user(scope: Any) -> dict[str, Any] | None:
    """The signed-in user's public fields from an ASGI scope, or None."""
    identity = scope.get("user")
    return None if identity is None else identity.user


def request_user(request: Any) -> dict[str, Any] | None:
    return scope_user(request.scope)


def request_actor(request: Any) -> Actor | None:
    identity = request.scope.get("user")
    return None if identity is None else identity.actor


def csrf_token_for(request: Any) -> str:
    """The session's CSRF token ("" for API-token requests and visitors)."""
    return csrf_token(request)


async def set_user_language(scope: Any, lang: str) -> None:
    """Remember the language the signed-in user picked; the audit log shows it as their own
    change."""
    from crmcore.services.users import update_user

    identity = scope.get("user")
    if identity is None or identity.user.get("language") == lang:
        return
    await update_user(identity.user["id"], language=lang, actor=identity.actor)
