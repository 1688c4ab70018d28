"""Piccolo engines built from a database URL, with the SQLite engine made fit for a server.

Piccolo's stock SQLite engine opens a new connection (and a new thread) for every query and
starts transactions ``DEFERRED``, which deadlocks read-then-write transactions under
concurrency ("database is locked"). Ours keeps one long-lived connection for autocommit
statements, opens transactions ``IMMEDIATE`` with a busy timeout, and turns WAL on once.
It overrides one private Piccolo method, so the Piccolo version is pinned in pyproject.toml
and tests/test_database.py exercises the behaviour.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any
from urllib.parse import unquote, urlparse

import aiosqlite
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType, dict_factory

BUSY_TIMEOUT_S = 30.0


class ServerSQLiteEngine(SQLiteEngine):
    """SQLite engine with a shared autocommit connection and immediate write transactions."""

    __slots__ = ("_shared", "_shared_lock", "_shared_loop")

    def __init__(self, path: str) -> None:
        super().__init__(path=path, timeout=BUSY_TIMEOUT_S)
        self._shared: aiosqlite.Connection | None = None
        self._shared_lock: asyncio.Lock | None = None
        self._shared_loop: asyncio.AbstractEventLoop | None = None

    async def get_connection(self) -> aiosqlite.Connection:
        connection = await aiosqlite.connect(**self.connection_kwargs)
        connection.row_factory = dict_factory  # type: ignore[assignment]
        await connection.execute("PRAGMA foreign_keys = 1")
        await connection.execute("PRAGMA synchronous = NORMAL")
        await connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        return connection

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._shared_lock is None or self._shared_loop is not loop:
            self._shared_lock, self._shared_loop = asyncio.Lock(), loop
        return self._shared_lock

    async def _shared_connection(self) -> aiosqlite.Connection:
        if self._shared is None:
            self._shared = await self.get_connection()
            await self._shared.execute("PRAGMA journal_mode = WAL")
        return self._shared

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> list[dict[str, Any]]:
        async with self._lock():
            connection = await self._shared_connection()
            async with connection.execute(query, args or []) as cursor:
                return await cursor.fetchall()

    def transaction(
        self,
        transaction_type: TransactionType = TransactionType.immediate,
        allow_nested: bool = True,
    ) -> Any:
        """Transactions default to IMMEDIATE: every transaction here may write."""
        return super().transaction(transaction_type=transaction_type, allow_nested=allow_nested)

    async def close(self) -> None:
        """Close the shared connection; an open one keeps the process from exiting."""
        if self._shared is not None:
            shared, self._shared = self._shared, None
            await shared.close()


def sqlite_path(url: str) -> str:
    """``sqlite:///relative.db`` → ``relative.db``; ``sqlite:////abs/x.db`` → ``/abs/x.db``."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"{url!r} is not a sqlite:/// URL")
    return url[len("sqlite:///") :]


def postgres_config(url: str) -> dict[str, Any]:
    parts = urlparse(url)
    config: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "database": parts.path.lstrip("/") or "postgres",
        "user": unquote(parts.username) if parts.username else "postgres",
    }
    if parts.password:
        config["password"] = unquote(parts.password)
    return config


def engine_from_url(url: str) -> Engine:
    """Build the Piccolo engine for a ``sqlite:///`` or ``postgresql://`` URL."""
    if url.startswith("sqlite:"):
        return ServerSQLiteEngine(path=sqlite_path(url))
    if url.startswith(("postgres://", "postgresql://")):
        return PostgresEngine(config=postgres_config(url), extensions=())
    raise ValueError(f"unsupported database URL {url!r}")


def is_sqlite(engine: Engine) -> bool:
    return engine.engine_type == "sqlite"


def sqlite_library_version() -> str:
    return sqlite3.sqlite_version
