"""Record scope: which records an actor may see or change.

A role with ``record_scope = "own"`` (the built-in ``agent``) sees only records it owns or is
assigned; ``"all"`` sees every record. Services apply this in their queries; these helpers
keep the rule identical for core and plugin tables. A record outside the scope is answered
as not found, so its existence does not leak.
"""

from __future__ import annotations

from typing import Any

from piccolo.columns import Column

from crmcore.errors import NotFound
from crmcore.services.actor import Actor


def sees_record(actor: Actor, *people: int | None) -> bool:
    """Whether ``actor`` may see a record whose owner/assignees are ``people``."""
    return actor.sees_all_records or (actor.user_id is not None and actor.user_id in people)


def ensure_sees_record(actor: Actor, what: str, *people: int | None) -> None:
    """Raise NotFound (``what``, e.g. "contact 12") unless ``actor`` may see the record."""
    if not sees_record(actor, *people):
        raise NotFound(f"no {what}")


def scope_condition(actor: Actor, *columns: Column) -> Any | None:
    """A Piccolo ``where`` condition limiting a query to the actor's records, or None when
    the actor sees all of them: ``query.where(cond)`` if ``cond is not None``.

    ``columns`` are the owner/assignee foreign keys; a row matches when any equals the user.
    """
    if not columns:
        raise ValueError("scope_condition() needs the owner/assignee column(s)")
    if actor.sees_all_records:
        return None
    # An actor without a user owns nothing; -1 matches no row (NULL would match unowned ones).
    user_id = actor.user_id if actor.user_id is not None else -1
    condition = columns[0] == user_id
    for column in columns[1:]:
        condition = condition | (column == user_id)
    return condition
