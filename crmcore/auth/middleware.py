"""Recognise who sent each request, and install authentication on the app.

The middleware only identifies: it puts an :class:`Identity` (or None) in
``scope["user"]`` and how it was established in ``scope["auth"]`` (``"token"``,
``"session"``, ``"invalid_token"`` or None). Deciding whether a route may answer is the
guards' job (``crmcore.auth.guards``), so public routes still know who is logged in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from crmcore.auth.errors import (
    LoginRequired,
    MissingPermission,
    login_required_handler,
    missing_permission_handler,
)
from crmcore.auth.guards import login_guard
from crmcore.auth.identity import Identity, actor_for_user
from crmcore.auth.sessions import COOKIE_NAME, load_session
from crmcore.services.tokens import authenticate_token
from crmcore.services.users import load_user_for_request

if TYPE_CHECKING:
    from crmcore.plugins import CRMPluginManager
    from crmcore.settings import Settings
    from crmcore.web.security import SecurityConfig


async def identify(
    connection: ASGIConnection[Any, Any, Any, Any],
) -> tuple[Identity | None, str | None]:
    """Identity from ``Authorization: Bearer`` first, else from the session cookie."""
    authorization = connection.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer":
        token = await authenticate_token(credentials.strip())
        access = await load_user_for_request(token.user_id) if token else None
        if token is None or access is None:
            return None, "invalid_token"
        actor = actor_for_user(access, token.scopes)
        return Identity(user=access.user, actor=actor, method="token", token=token), "token"
    key = connection.cookies.get(COOKIE_NAME)
    if key:
        session = await load_session(key)
        access = await load_user_for_request(session.user_id) if session else None
        if session is not None and access is not None:
            identity = Identity(
                user=access.user, actor=actor_for_user(access), method="session", session=session
            )
            return identity, "session"
    return None, None


class AuthenticationMiddleware(ASGIMiddleware):
    """Sets ``scope["user"]`` and ``scope["auth"]`` for every HTTP request."""

    scopes = (ScopeType.HTTP,)

    @staticmethod
    def should_bypass_for_scope(scope: Scope) -> bool:  # type: ignore[override]
        # Static files are public and plentiful: no database lookups for them.
        return scope["path"].startswith("/static/")

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        identity, method = await identify(ASGIConnection(scope))
        scope["user"] = identity
        scope["auth"] = method
        await next_app(scope, receive, send)


def install_auth(config: SecurityConfig, settings: Settings, pm: CRMPluginManager) -> None:
    """Add the identifying middleware, the app-wide login guard, the ``actor`` dependency and
    the answers to authentication errors to the app's security configuration."""
    from crmcore.api.deps import provide_actor

    config.middleware.append(AuthenticationMiddleware())
    config.guards.append(login_guard)
    config.exception_handlers[LoginRequired] = login_required_handler
    config.exception_handlers[MissingPermission] = missing_permission_handler
    config.dependencies["actor"] = Provide(provide_actor, sync_to_thread=False)
