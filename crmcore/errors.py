"""Errors the services raise, meant for people; the web layer maps them to HTTP statuses."""

from __future__ import annotations


class CRMError(Exception):
    """Base class: ``message`` is what the user reads."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(CRMError):
    """Input was rejected. ``errors`` maps field names to messages (``""`` for the record)."""

    status_code = 422

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}

    @classmethod
    def for_field(cls, field: str, message: str) -> ValidationError:
        return cls(f"{field}: {message}", {field: message})


class NotFound(CRMError):
    status_code = 404


class Conflict(CRMError):
    """The write clashes with stored data (a duplicate external_id, a stale version…)."""

    status_code = 409


class PermissionDenied(CRMError):
    status_code = 403
