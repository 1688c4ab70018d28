"""Who may reach which route.

``login_guard`` is installed on the whole app, so every route of the core and of every
plugin requires an authenticated user unless its handler declares ``opt={"public": True}``.
For state-changing methods it also checks the CSRF token of session-authenticated requests
and refuses read-only roles (viewer): a write route that declares no permission of its own
still answers 403 to a role that holds nothing but read permissions.

Handlers declare what they need with ``guards=[requires("contacts.write")]``; a role
without it gets 403 with the missing permission named. Routes where users act on their own
account (logout, profile, own API tokens) declare ``opt={"self_service": True}`` and stay
open to read-only roles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from crmcore.auth.csrf import UNSAFE_METHODS, check_csrf
from crmcore.auth.errors import LoginRequired, MissingPermission
from crmcore.auth.identity import Identity
from crmcore.services.actor import Actor

READ_ACTIONS = ("read", "export", "search")
WRITE_ACCESS = "write access"

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Any]


def identity_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity | None:
    return connection.scope.get("user")  # type: ignore[return-value]


def is_public(handler: BaseRouteHandler) -> bool:
    return bool(handler.opt.get("public"))


def is_read_permission(name: str) -> bool:
    """Read-like permissions: ``*.read``, ``*.export``, ``*.search`` and ``*.view_*``."""
    action = name.partition(".")[2]
    return action in READ_ACTIONS or action.startswith("view")


def is_read_only(actor: Actor) -> bool:
    """True when the actor holds nothing but read-like permissions (the viewer role)."""
    if actor.is_system or "*" in actor.permissions:
        return False
    return all(is_read_permission(name) for name in actor.permissions)


def declared_permissions(handler: BaseRouteHandler) -> tuple[str, ...]:
    """Permissions the route's ``requires()`` guards ask for, from any layer."""
    names: list[str] = []
    for guard in handler.resolve_guards():
        # Litestar wraps synchronous guards (AsyncCallable); the marker is on the function.
        target = getattr(guard, "func", guard)
        names.extend(getattr(target, "crm_permissions", getattr(guard, "crm_permissions", ())))
    return tuple(names)


async def login_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The app-wide guard: login, CSRF for cookie sessions, no writes for read-only roles."""
    if is_public(handler):
        return
    identity = identity_of(connection)
    if identity is None:
        if connection.scope.get("auth") == "invalid_token":
            raise LoginRequired("the API token is invalid, revoked or expired")
        raise LoginRequired("log in first (session cookie or Authorization: Bearer <token>)")
    if connection.scope.get("method") not in UNSAFE_METHODS:
        return
    if identity.session is not None:
        await check_csrf(connection, identity.session.csrf_token)
    if handler.opt.get("self_service"):
        return
    declared = declared_permissions(handler)
    if declared and all(identity.actor.can(name) for name in declared):
        return
    if is_read_only(identity.actor):
        raise MissingPermission(
            declared[0] if declared else WRITE_ACCESS,
            "your role is read-only: it cannot change anything here",
        )


def requires(*permissions: str) -> Guard:
    """A guard that lets through only actors holding every one of ``permissions``."""
    if not permissions:
        raise ValueError("requires() needs at least one permission name")

    def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        identity = identity_of(connection)
        if identity is None:
            raise LoginRequired("log in first")
        for name in permissions:
            if not identity.actor.can(name):
                raise MissingPermission(name)

    guard.crm_permissions = permissions  # type: ignore[attr-defined]
    guard.__name__ = f"requires({', '.join(permissions)})"
    return guard
