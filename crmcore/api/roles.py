"""REST API for roles and the known permissions (``/api/v1/roles``, ``/api/v1/permissions``).

Reading and changing roles needs ``users.manage``: who may do what is security data.
"""

from __future__ import annotations

import msgspec
from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from crmcore.auth.guards import requires
from crmcore.permissions import known_permissions
from crmcore.services.actor import Actor
from crmcore.services.roles import create_role, get_role, list_roles, update_role

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class RoleOut(msgspec.Struct):
    id: int
    name: str
    description: str
    permissions: list[str]
    record_scope: str
    builtin: bool


class RoleIn(msgspec.Struct, forbid_unknown_fields=True):
    """``permissions``: names or patterns (``contacts.*``, ``*.read``, ``*``)."""

    name: str
    permissions: list[str]
    record_scope: str = "all"
    description: str = ""


class RolePatch(msgspec.Struct, forbid_unknown_fields=True):
    permissions: list[str] | Unset = UNSET
    record_scope: str | Unset = UNSET
    description: str | Unset = UNSET


class PermissionOut(msgspec.Struct):
    name: str
    description: str
    restricts: list[list[str]]


class RolesController(Controller):
    path = "/roles"
    tags = ["users"]
    guards = [requires("users.manage")]

    @get("/")
    async def index(self) -> list[RoleOut]:
        return [RoleOut(**role) for role in await list_roles()]

    @post("/")
    async def create(self, data: JSONBody[RoleIn], actor: NamedDependency[Actor]) -> RoleOut:
        return RoleOut(**await create_role(**msgspec.structs.asdict(data), actor=actor))

    @get("/{name:str}")
    async def show(self, name: FromPath[str]) -> RoleOut:
        return RoleOut(**await get_role(name))

    @patch("/{name:str}")
    async def update(
        self, name: FromPath[str], data: JSONBody[RolePatch], actor: NamedDependency[Actor]
    ) -> RoleOut:
        values = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not UNSET}
        return RoleOut(**await update_role(name, **values, actor=actor))


@get("/permissions", tags=["users"], guards=[requires("users.manage")])
async def list_permissions() -> list[PermissionOut]:
    """Every permission the core and the enabled plugins register."""
    return [
        PermissionOut(
            name=p.name, description=p.description, restricts=[list(pair) for pair in p.restricts]
        )
        for p in sorted(known_permissions().values(), key=lambda p: p.name)
    ]
