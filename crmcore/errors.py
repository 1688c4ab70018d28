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


class FilterNotAllowed(PermissionDenied):
    """A filter compares a field its reader may not read (403).

    Answering it would tell them the field's value one probe at a time ("whose city is
    Yazd?"), so the request is refused rather than the filter dropped: a list that quietly
    ignored it would look like an answer. ``filter`` is the filter as the request named it
    (a query parameter, or a name in a filter tree), ``field`` the hidden ``table.field``,
    ``permission`` what reading it needs; ``errors`` maps the filter to the message, as a
    ValidationError's does.
    """

    def __init__(self, filter_name: str, field: str, permission: str) -> None:
        problem = (
            f"it compares {field}, which your role may not read (that needs the permission "
            f"{permission!r}); remove this filter or ask an administrator for the permission."
        )
        super().__init__(f"filter {filter_name!r}: {problem}")
        self.filter = filter_name
        self.field = field
        self.permission = permission
        self.errors = {filter_name: problem}
