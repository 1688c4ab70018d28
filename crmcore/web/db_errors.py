"""Database outages answered with 503 and ``Retry-After`` instead of a 500 and a stack trace.

When PostgreSQL restarts, is refusing connections or drops a pooled connection, every
request in flight fails with a driver error. Those are not bugs in the request: the client
should retry shortly, and a load balancer should know the instance is temporarily unable to
serve. The pool reconnects by itself on the next request, so the app recovers without a
restart once the server is back.

Only errors that mean "cannot reach the database" become 503; any other error of the same
Python class (a non-connection ``OSError``, a ``55000`` state error about something else)
keeps its ordinary 500 answer and is logged as Litestar would.

Text PostgreSQL refuses to store (a NUL character) and integers beyond a column's range
(ids of 2**40 in a URL) are answered 400: the request is wrong, not the server.
"""

from __future__ import annotations

import errno
import logging
from typing import Any

import asyncpg
from litestar import Request, Response

__all__ = ["RETRY_AFTER_SECONDS", "db_error_handlers", "is_database_unavailable"]

logger = logging.getLogger("crmcore.web.db_errors")

RETRY_AFTER_SECONDS = 5

# SQLSTATEs that mean the server cannot take our connection right now.
_UNAVAILABLE_STATES = {
    "57P01",  # admin_shutdown (backend terminated, server stopping)
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now (starting up, recovering)
    "53300",  # too_many_connections
    "3D000",  # invalid_catalog_name (the database is gone or renamed)
}
_CONNECTION_ERRNOS = {
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE,
    errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT,
}  # fmt: skip


def is_database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached (rather than a query bug)."""
    if isinstance(exc, asyncpg.PostgresConnectionError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        if state in _UNAVAILABLE_STATES or state.startswith("08"):
            return True
        # ALTER DATABASE … ALLOW_CONNECTIONS false, maintenance windows.
        return state == "55000" and "accepting connections" in str(exc)
    if isinstance(exc, asyncpg.InterfaceError):
        # The pool or connection closed under us (a terminated backend).
        text = str(exc)
        return "closed" in text or "closing" in text or "connection" in text.lower()
    if isinstance(exc, asyncpg.exceptions._base.InternalClientError):
        # A query sent on a connection whose backend was just terminated: the driver is
        # still consuming the server's FATAL message ("another operation (2) …").
        return "cannot switch to state" in str(exc)
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, OSError):
        return exc.errno in _CONNECTION_ERRNOS
    return False


def database_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if is_database_unavailable(exc):
        logger.warning("database unavailable on %s %s: %r", request.method, request.url.path, exc)
        return Response(
            {"status_code": 503, "detail": "The database is unavailable; retry shortly."},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response({"status_code": 500, "detail": "Internal Server Error"}, status_code=500)


def unstorable_text_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Text PostgreSQL cannot store (a NUL character, bytes invalid in UTF-8) is the
    client's input problem: 400, not a server error. SQLite stores such text as given."""
    return Response(
        {"status_code": 400, "detail": f"The text cannot be stored: {exc}"}, status_code=400
    )


_RANGE_MESSAGES = ("out of int32 range", "out of int16 range", "out of int64 range",
                   "too large to convert to SQLite INTEGER")  # fmt: skip


def number_out_of_range_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A number too large for the id or integer column it was compared with (an id of
    2**40 in a path on PostgreSQL, whose ids are 32-bit): no such row can exist, so the
    request is wrong. Other overflows stay server errors."""
    if any(text in str(exc) for text in _RANGE_MESSAGES):
        return Response(
            {"status_code": 400, "detail": "A number in the request is out of range."},
            status_code=400,
        )
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response({"status_code": 500, "detail": "Internal Server Error"}, status_code=500)


def db_error_handlers() -> dict[type[Exception], Any]:
    """Exception handlers for the app: driver and socket errors that may mean an outage."""
    return {
        asyncpg.PostgresConnectionError: database_error_handler,
        asyncpg.exceptions.OperatorInterventionError: database_error_handler,
        asyncpg.TooManyConnectionsError: database_error_handler,
        asyncpg.InvalidCatalogNameError: database_error_handler,
        asyncpg.ObjectNotInPrerequisiteStateError: database_error_handler,
        asyncpg.InterfaceError: database_error_handler,
        asyncpg.exceptions._base.InternalClientError: database_error_handler,
        OSError: database_error_handler,
        asyncpg.CharacterNotInRepertoireError: unstorable_text_handler,
        asyncpg.UntranslatableCharacterError: unstorable_text_handler,
        OverflowError: number_out_of_range_handler,
        # asyncpg wraps the OverflowError of an argument it cannot encode in the class 22
        # (data exception) error; other data exceptions stay 500s in the handler.
        asyncpg.DataError: number_out_of_range_handler,
    }
