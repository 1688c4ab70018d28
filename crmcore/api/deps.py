"""Dependencies API handlers share: who is acting.

``provide_actor`` is installed app-wide under the name ``actor``, so any handler (core or
plugin) may declare ``actor: Actor`` and receive the Actor of the authenticated user: their
role's permissions (token scopes applied), record scope, language and time zone.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from crmcore.auth.errors import LoginRequired
from crmcore.services.actor import Actor


def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    identity = request.scope.get("user")
    if identity is None:
        raise LoginRequired("log in first")
    return identity.actor
