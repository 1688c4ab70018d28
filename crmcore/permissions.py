"""Permissions and field-level access.

Permissions are strings registered by the core and by plugins (``register_permissions``).
A permission can restrict fields: readers without it never receive those fields' values,
whichever door they read through (API, pages, exports, search, audit entries).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmcore.plugins import CRMPluginManager
    from crmcore.services.actor import Actor

MASK = "***"


@dataclass(frozen=True)
class Permission:
    name: str
    description: str = ""
    # (table name, field name) pairs only holders of this permission may read.
    restricts: tuple[tuple[str, str], ...] = field(default_factory=tuple)


CORE_PERMISSIONS: tuple[Permission, ...] = (
    Permission("contacts.read", "See contacts, companies and their interactions"),
    Permission("contacts.write", "Create, edit and delete contacts and companies"),
    Permission("contacts.delete", "Delete contacts and companies"),
    Permission("contacts.export", "Export contacts"),
    Permission("contacts.import", "Import contacts"),
    Permission("contacts.merge", "Merge duplicate contacts"),
    Permission("interactions.write", "Log interactions and manage tasks"),
    Permission("settings.manage", "Manage custom fields, tags and settings"),
    Permission("users.manage", "Manage users, roles and API tokens"),
    Permission("audit.read", "Read the audit log"),
    Permission("privacy.manage", "Export and erase a person's data"),
    Permission("automation.manage", "Manage webhooks and automation rules"),
    Permission("jobs.manage", "See and retry background jobs"),
)

_restricted: dict[tuple[str, str], str] = {}
_known: dict[str, Permission] = {p.name: p for p in CORE_PERMISSIONS}


def load_permissions(pm: CRMPluginManager) -> dict[str, Permission]:
    """Collect every registered permission and the fields each restricts."""
    _known.clear()
    _restricted.clear()
    for permission in CORE_PERMISSIONS:
        _known[permission.name] = permission
    for _plugin, result in pm.call_in_order("register_permissions"):
        for permission in result or ():
            _known[permission.name] = permission
    for permission in _known.values():
        for table, column in permission.restricts:
            _restricted[(table, column)] = permission.name
    return dict(_known)


def known_permissions() -> dict[str, Permission]:
    return dict(_known)


def restricted_fields(table: str) -> dict[str, str]:
    """``{field: permission}`` for the restricted fields of ``table``."""
    return {col: perm for (tbl, col), perm in _restricted.items() if tbl == table}


def hidden_fields(table: str, reader: Actor) -> set[str]:
    return {col for col, perm in restricted_fields(table).items() if not reader.can(perm)}


def withheld_fields(reader: Actor) -> list[str]:
    """``table.field`` for every restricted field ``reader`` may not read, sorted."""
    return sorted(f"{t}.{c}" for (t, c), perm in _restricted.items() if not reader.can(perm))


def redact(table: str, row: dict[str, Any], reader: Actor) -> dict[str, Any]:
    """Drop the fields of ``row`` that ``reader`` may not see."""
    hidden = hidden_fields(table, reader)
    if not hidden:
        return row
    return {k: v for k, v in row.items() if k not in hidden}


def redact_many(table: str, rows: Iterable[dict[str, Any]], reader: Actor) -> list[dict[str, Any]]:
    return [redact(table, row, reader) for row in rows]


def mask_changes(table: str, changes: dict[str, Any], reader: Actor) -> dict[str, Any]:
    """Audit before/after values of restricted fields become ``***`` for such readers."""
    hidden = hidden_fields(table, reader)
    return {k: ([MASK, MASK] if k in hidden else v) for k, v in changes.items()}
