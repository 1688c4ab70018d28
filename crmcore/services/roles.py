"""Roles: named sets of permissions with a record scope.

A role's permissions are permission names or patterns: ``*`` (everything), ``contacts.*``
(every permission of one area) and ``*.read`` (one action in every area, plugins included).
Patterns are stored as written and expanded against the permissions registered at the time
a user acts, so a built-in role like ``viewer`` (``*.read``) covers the read permission of a
plugin installed later. Permissions that carry field restrictions are only granted by name
or by ``*``; ``*.read`` does not reach ``hr.view_compensation``.

The built-in roles are seeded by a data migration of ``crm_core`` and cannot be edited.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from crmcore.errors import Conflict, NotFound, ValidationError
from crmcore.permissions import Permission, known_permissions
from crmcore.services.actor import SYSTEM, Actor
from crmcore.services.audit import diff, record_audit
from crmcore.services.outbox import emit_event
from crmcore.services.transaction import write_transaction
from crmcore.tables import Role

RECORD_SCOPES = ("all", "own")
BUILTIN_ROLES = ("admin", "manager", "agent", "viewer")
ROLE_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
PERMISSION_RE = re.compile(r"^(\*|[a-z][a-z0-9_]*)\.(\*|[a-z][a-z0-9_]*)$")

ROLE_FIELDS = ("name", "description", "permissions", "record_scope")


def _matches(pattern: str, name: str) -> bool:
    if pattern == "*" or pattern == name:
        return True
    area, _, action = pattern.partition(".")
    p_area, _, p_action = name.partition(".")
    return (area == "*" or area == p_area) and (action == "*" or action == p_action)


def expand_permissions(
    patterns: Iterable[str], known: dict[str, Permission] | None = None
) -> frozenset[str]:
    """The concrete permission names ``patterns`` grant (``*`` stays ``*``)."""
    known = known_permissions() if known is None else known
    granted: set[str] = set()
    for pattern in patterns:
        if pattern == "*":
            granted.add("*")
        elif "*" in pattern:
            granted.update(
                name
                for name, permission in known.items()
                if _matches(pattern, name) and not permission.restricts
            )
        else:
            granted.add(pattern)
    return frozenset(granted)


def validate_permissions(patterns: Iterable[str]) -> list[str]:
    """Check every name or pattern against the registered permissions; return them cleaned.

    Raises ValidationError naming each unknown permission and where to look for valid ones.
    """
    known = known_permissions()
    cleaned: list[str] = []
    problems: list[str] = []
    for raw in patterns:
        pattern = raw.strip()
        if not pattern:
            continue
        if pattern != "*" and not PERMISSION_RE.match(pattern):
            problems.append(
                f"{pattern!r} is not a permission name (area.action, e.g. contacts.read)"
            )
        elif pattern != "*" and not any(_matches(pattern, name) for name in known):
            problems.append(f"unknown permission {pattern!r}")
        elif pattern not in cleaned:
            cleaned.append(pattern)
    if problems:
        raise ValidationError(
            "; ".join(problems) + " (`crm roles permissions` lists the known ones)",
            {"permissions": "; ".join(problems)},
        )
    return cleaned


def role_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "permissions": list(row["permissions"] or []),
        "record_scope": row["record_scope"],
        "builtin": bool(row["builtin"]),
    }


async def list_roles() -> list[dict[str, Any]]:
    rows = await Role.select().order_by(Role.id).output(load_json=True)
    return [role_dict(row) for row in rows]


async def get_role(name: str) -> dict[str, Any]:
    row = await Role.select().where(Role.name == name).output(load_json=True).first()
    if row is None:
        names = ", ".join(r["name"] for r in await Role.select(Role.name).order_by(Role.id))
        raise NotFound(f"no role named {name!r} (roles: {names})")
    return role_dict(row)


def _check_scope(record_scope: str) -> None:
    if record_scope not in RECORD_SCOPES:
        raise ValidationError.for_field(
            "record_scope", f"must be one of {', '.join(RECORD_SCOPES)}, not {record_scope!r}"
        )


async def create_role(
    *,
    name: str,
    permissions: Iterable[str],
    record_scope: str = "all",
    description: str = "",
    actor: Actor = SYSTEM,
) -> dict[str, Any]:
    """Create a custom role; permission names are checked against the registered ones."""
    name = name.strip().lower()
    if not ROLE_NAME_RE.match(name):
        raise ValidationError.for_field(
            "name", "use 1-64 lower-case letters, digits, '-' or '_', starting with a letter"
        )
    _check_scope(record_scope)
    cleaned = validate_permissions(permissions)
    if not cleaned:
        raise ValidationError.for_field("permissions", "give the role at least one permission")
    async with write_transaction():
        if await Role.exists().where(Role.name == name):
            raise Conflict(f"a role named {name!r} already exists")
        rows = await Role.insert(
            Role(
                name=name,
                description=description,
                permissions=cleaned,
                record_scope=record_scope,
                builtin=False,
            )
        )
        role = {
            "id": rows[0]["id"],
            "name": name,
            "description": description,
            "permissions": cleaned,
            "record_scope": record_scope,
            "builtin": False,
        }
        fields = {k: role[k] for k in ROLE_FIELDS}
        await record_audit(
            table="role",
            record_id=role["id"],
            action="create",
            changes=diff(None, fields),
            actor=actor,
        )
        await emit_event("role.created", {"id": role["id"], "name": name})
    return role


async def update_role(
    name: str,
    *,
    permissions: Iterable[str] | None = None,
    record_scope: str | None = None,
    description: str | None = None,
    actor: Actor = SYSTEM,
) -> dict[str, Any]:
    """Change a custom role; built-in roles are fixed (create a custom role instead)."""
    async with write_transaction():
        before = await get_role(name)
        if before["builtin"]:
            raise ValidationError(
                f"{name!r} is a built-in role and cannot be changed; create a custom role instead"
            )
        values: dict[str, Any] = {}
        if permissions is not None:
            values["permissions"] = validate_permissions(permissions)
            if not values["permissions"]:
                raise ValidationError.for_field(
                    "permissions", "give the role at least one permission"
                )
        if record_scope is not None:
            _check_scope(record_scope)
            values["record_scope"] = record_scope
        if description is not None:
            values["description"] = description
        after = {**before, **values}
        changes = diff({k: before[k] for k in ROLE_FIELDS}, {k: after[k] for k in ROLE_FIELDS})
        if changes:
            await Role.update(values).where(Role.id == before["id"])
            await record_audit(
                table="role", record_id=before["id"], action="update", changes=changes, actor=actor
            )
            await emit_event("role.updated", {"id": before["id"], "name": name})
    return after
