"""REST API for users (``/api/v1/users``, needs ``users.manage``) and for the signed-in
user's own account (``/api/v1/me``).

Fields a plugin restricts on ``crm_user`` are left out of every answer for readers without
the permission (they are absent, not null).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from crmcore.auth.guards import requires
from crmcore.auth.identity import request_identity
from crmcore.auth.passwords import verify_password_async
from crmcore.errors import ValidationError
from crmcore.permissions import redact
from crmcore.services.actor import Actor
from crmcore.services.users import (
    create_user,
    get_user,
    list_users,
    set_password,
    update_user,
)
from crmcore.tables import User

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class UserOut(msgspec.Struct, omit_defaults=True):
    """A user's public fields; a field restricted from the reader is absent."""

    id: int
    email: str | Unset = UNSET
    name: str | Unset = UNSET
    active: bool | Unset = UNSET
    language: str | Unset = UNSET
    timezone: str | Unset = UNSET
    role: str | None | Unset = UNSET
    created_at: datetime | Unset = UNSET
    last_login_at: datetime | None | Unset = UNSET


class MeOut(msgspec.Struct):
    """The signed-in user, what they may do, and how this request was authenticated."""

    user: UserOut
    permissions: list[str]
    record_scope: str
    auth: str
    # For scripts in our own pages that call the API with the session cookie: they send it
    # back as X-CSRF-Token. Absent for token-authenticated requests, which need none.
    csrf_token: str | None = None


class UserIn(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str
    role: str = "viewer"
    name: str = ""
    language: str = "en"
    timezone: str = "UTC"


class UserPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Fields to change; absent fields stay as they are."""

    name: str | Unset = UNSET
    language: str | Unset = UNSET
    timezone: str | Unset = UNSET
    role: str | Unset = UNSET
    active: bool | Unset = UNSET


class ProfilePatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | Unset = UNSET
    language: str | Unset = UNSET
    timezone: str | Unset = UNSET


class PasswordIn(msgspec.Struct, forbid_unknown_fields=True):
    password: str


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: str
    new_password: str


def user_out(user: dict[str, Any], reader: Actor) -> UserOut:
    return UserOut(**redact("crm_user", user, reader))


def _set(data: msgspec.Struct) -> dict[str, Any]:
    return {k: v for k, v in msgspec.structs.asdict(data).items() if v is not UNSET}


class UsersController(Controller):
    path = "/users"
    tags = ["users"]
    guards = [requires("users.manage")]

    @get("/")
    async def index(self, actor: NamedDependency[Actor]) -> list[UserOut]:
        return [user_out(user, actor) for user in await list_users()]

    @post("/")
    async def create(self, data: JSONBody[UserIn], actor: NamedDependency[Actor]) -> UserOut:
        user = await create_user(**msgspec.structs.asdict(data), actor=actor)
        return user_out(user, actor)

    @get("/{user_id:int}")
    async def show(self, user_id: FromPath[int], actor: NamedDependency[Actor]) -> UserOut:
        return user_out(await get_user(user_id), actor)

    @patch("/{user_id:int}")
    async def update(
        self, user_id: FromPath[int], data: JSONBody[UserPatch], actor: NamedDependency[Actor]
    ) -> UserOut:
        return user_out(await update_user(user_id, **_set(data), actor=actor), actor)

    @post("/{user_id:int}/password", status_code=204)
    async def password(
        self, user_id: FromPath[int], data: JSONBody[PasswordIn], actor: NamedDependency[Actor]
    ) -> None:
        await set_password(user_id, data.password, actor=actor)


class MeController(Controller):
    """The signed-in user's own account; open to every role, read-only ones included."""

    path = "/me"
    tags = ["users"]

    @get("/")
    async def me(self, request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> MeOut:
        identity = request_identity(request)
        assert identity is not None  # the login guard let the request through
        return MeOut(
            user=user_out(identity.user, actor),
            permissions=sorted(actor.permissions),
            record_scope=actor.record_scope,
            auth=identity.method,
            csrf_token=identity.session.csrf_token if identity.session else None,
        )

    @patch("/", opt={"self_service": True})
    async def update_profile(
        self, data: JSONBody[ProfilePatch], actor: NamedDependency[Actor]
    ) -> UserOut:
        assert actor.user_id is not None
        return user_out(await update_user(actor.user_id, **_set(data), actor=actor), actor)

    @post("/password", status_code=204, opt={"self_service": True})
    async def change_password(
        self, data: JSONBody[PasswordChange], actor: NamedDependency[Actor]
    ) -> None:
        """Change one's own password; the current one must be given (a stolen session or
        token alone cannot lock the owner out)."""
        assert actor.user_id is not None
        row = await User.select(User.password_hash).where(User.id == actor.user_id).first()
        if row is None or not await verify_password_async(
            row["password_hash"], data.current_password
        ):
            raise ValidationError.for_field("current_password", "is not your current password")
        await set_password(actor.user_id, data.new_password, actor=actor)
