"""The identity a request carries once the middleware has recognised it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crmcore.auth.sessions import WebSessionInfo
from crmcore.services.actor import Actor
from crmcore.services.roles import expand_permissions
from crmcore.services.tokens import TokenInfo
from crmcore.services.users import UserAccess


@dataclass(frozen=True)
class Identity:
    """Who sent a request: the user's public fields, the Actor services run as, and how
    they proved it (``method`` is ``"session"`` or ``"token"``)."""

    user: dict[str, Any]
    actor: Actor
    method: str
    session: WebSessionInfo | None = None
    token: TokenInfo | None = None


def actor_for_user(access: UserAccess, scopes: tuple[str, ...] = ()) -> Actor:
    """The Actor for a user loaded by ``load_user_for_request``.

    The role's patterns are expanded against the registered permissions; a token limited to
    ``scopes`` keeps only the permissions both grant.
    """
    user = access.user
    permissions = expand_permissions(access.role_permissions)
    if scopes and "*" not in (scoped := expand_permissions(scopes)):
        permissions = scoped if "*" in permissions else permissions & scoped
    return Actor(
        user_id=user["id"],
        label=user["email"],
        permissions=permissions,
        record_scope=access.record_scope,
        language=user["language"],
        timezone=user["timezone"],
    )


def request_identity(request: Any) -> Identity | None:
    """The identity the middleware found for this request (None when anonymous)."""
    return request.scope.get("user")

