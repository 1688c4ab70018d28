"""Write transactions and the after-commit queue of plugin events.

``write_transaction()`` opens one database transaction (IMMEDIATE on SQLite, so concurrent
read-then-write requests queue instead of failing with "database is locked"). Hook calls
queued with ``after_commit`` run only once the outermost transaction has committed, and
never if it rolled back.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from crmcore.db.runtime import current_database

_pending: contextvars.ContextVar[list[Callable[[], Awaitable[Any]]] | None] = (
    contextvars.ContextVar("crm_after_commit", default=None)
)


@contextlib.asynccontextmanager
async def write_transaction() -> AsyncIterator[Any]:
    """A transaction for writes; nested calls join the outer one."""
    outer = _pending.get()
    if outer is not None:
        yield current_database().engine.current_transaction.get()
        return
    queue: list[Callable[[], Awaitable[Any]]] = []
    token = _pending.set(queue)
    try:
        async with current_database().engine.transaction() as txn:
            yield txn
    finally:
        _pending.reset(token)
    for callback in queue:
        await callback()


def after_commit(callback: Callable[[], Awaitable[Any]]) -> None:
    """Run ``callback`` after the current write transaction commits (now, if none is open)."""
    queue = _pending.get()
    if queue is None:
        raise RuntimeError("after_commit() called outside write_transaction()")
    queue.append(callback)
