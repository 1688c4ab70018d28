"""Who is acting: a user with permissions and a record scope, or the system itself."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    """The identity a service call runs as.

    ``record_scope`` is ``"all"`` or ``"own"`` (only records the user owns or is assigned).
    The system actor (jobs, imports run by an admin from the CLI) has every permission.
    """

    user_id: int | None
    label: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    record_scope: str = "all"
    is_system: bool = False
    language: str = "en"
    timezone: str = "UTC"

    def can(self, permission: str) -> bool:
        return self.is_system or "*" in self.permissions or permission in self.permissions

    @property
    def sees_all_records(self) -> bool:
        return self.is_system or self.record_scope == "all"


SYSTEM = Actor(user_id=None, label="system", permissions=frozenset({"*"}), is_system=True)
