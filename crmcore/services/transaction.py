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
        async with _transaction(current_database().engine) as txn:
            yield txn
    finally:
        _pending.reset(token)
    for callback in queue:
        await callback()


@contextlib.asynccontextmanager
async def _transaction(engine: Any) -> AsyncIterator[Any]:
    """``engine.transaction()``, but a connection lost mid-transaction is given back.

    Piccolo's PostgreSQL transaction releases its pooled connection and resets the
    current-transaction variable only after a successful rollback or commit. When the
    server went away that rollback fails, so the connection would stay checked out (after
    ``max_size`` such failures every request waits on an empty pool) and the dead
    transaction would stay current. Here both are undone whatever the outcome.
    """
    txn = engine.transaction()
    pool = getattr(engine, "pool", None)
    if pool is None or getattr(txn, "_parent", None) is not None:
        async with txn as inner:
            yield inner
        return
    try:
        await txn.__aenter__()
    except BaseException:
        connection = getattr(txn, "connection", None)
        if connection is not None:  # BEGIN failed on an acquired connection
            with contextlib.suppress(Exception):
                await pool.release(connection)
        raise
    try:
        yield txn
    except BaseException as exc:
        await _finish(txn, pool, exc)
        raise
    await _finish(txn, pool, None)


async def _finish(txn: Any, pool: Any, exc: BaseException | None) -> None:
    try:
        await txn.__aexit__(type(exc) if exc else None, exc, None)
    except BaseException:
        with contextlib.suppress(Exception):
            await pool.release(txn.connection)
        with contextlib.suppress(ValueError, RuntimeError):
            txn.engine.current_transaction.reset(txn.context)
        if exc is None:
            raise  # the commit failed: the caller must not believe it was stored


def after_commit(callback: Callable[[], Awaitable[Any]]) -> None:
    """Run ``callback`` after the current write transaction commits (now, if none is open)."""
    queue = _pending.get()
    if queue is None:
        raise RuntimeError("after_commit() called outside write_transaction()")
    queue.append(callback)
