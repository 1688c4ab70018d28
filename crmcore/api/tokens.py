"""REST API for the signed-in user's own API tokens (``/api/v1/tokens``).

Open to every role (a viewer may want a read-only token for reports): a token never grants
more than its user's role. A request made with a scoped token can only create tokens within
the same scopes, so a narrow token cannot mint a broad one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from crmcore.auth.identity import request_identity
from crmcore.errors import PermissionDenied
from crmcore.services.actor import Actor
from crmcore.services.tokens import create_token, list_tokens, parse_expiry, revoke_token


class TokenOut(msgspec.Struct):
    """A token's description; its secret is never shown after creation."""

    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    """``expires``: a duration (``30d``, ``12h``) or an ISO date; none = no expiry."""

    name: str = ""
    scopes: list[str] = msgspec.field(default_factory=list)
    expires: str | None = None


class TokenCreated(msgspec.Struct):
    """``token`` is shown only in this answer: store it now."""

    token: str
    info: TokenOut


def token_out(row: dict[str, Any]) -> TokenOut:
    fields = set(TokenOut.__struct_fields__)
    return TokenOut(**{k: v for k, v in row.items() if k in fields})


class TokensController(Controller):
    path = "/tokens"
    tags = ["users"]
    opt = {"self_service": True}

    @get("/")
    async def index(self, actor: NamedDependency[Actor]) -> list[TokenOut]:
        return [token_out(row) for row in await list_tokens(actor.user_id)]

    @post("/")
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[TokenIn],
        actor: NamedDependency[Actor],
    ) -> TokenCreated:
        assert actor.user_id is not None
        identity = request_identity(request)
        current = identity.token if identity is not None else None
        if current is not None and current.scopes:
            if not data.scopes or not set(data.scopes) <= set(current.scopes):
                raise PermissionDenied(
                    "a scoped token can only create tokens within its own scopes: "
                    + ", ".join(current.scopes)
                )
        expires_at = parse_expiry(data.expires) if data.expires else None
        token = await create_token(
            user_id=actor.user_id,
            name=data.name,
            scopes=data.scopes,
            expires_at=expires_at,
            actor=actor,
        )
        rows = await list_tokens(actor.user_id)
        return TokenCreated(token=token, info=token_out(rows[0]))

    @delete("/{token_id:int}", status_code=200)
    async def revoke(self, token_id: FromPath[int], actor: NamedDependency[Actor]) -> TokenOut:
        return token_out(await revoke_token(token_id, owner_id=actor.user_id, actor=actor))
