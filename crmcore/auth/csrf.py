"""CSRF protection for requests authenticated by the session cookie.

Every session has its own random token (stored with the session). A state-changing request
(POST, PUT, PATCH, DELETE) that relies on the cookie must prove it came from one of our
pages by sending that token, as the form field ``csrf_token`` or the ``X-CSRF-Token`` header
(htmx and fetch calls). Requests authenticated by an API token carry no ambient cookie, so
they cannot be forged cross-site and need no CSRF token.
"""

from __future__ import annotations

import secrets
from typing import Any

from crmcore.errors import PermissionDenied

FIELD_NAME = "csrf_token"
HEADER_NAME = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CSRFError(PermissionDenied):
    """The request lacked the session's CSRF token (403)."""


def csrf_token(request: Any) -> str:
    """The CSRF token of the request's session ("" without a session), for templates."""
    identity = request.scope.get("user")
    if identity is None or identity.session is None:
        return ""
    return identity.session.csrf_token


async def submitted_token(request: Any) -> str:
    header = request.headers.get(HEADER_NAME)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(_FORM_TYPES):
        form = await request.form()
        value = form.get(FIELD_NAME)
        return value if isinstance(value, str) else ""
    return ""


async def check_csrf(request: Any, expected: str) -> None:
    """Raise CSRFError unless the request carries ``expected``."""
    sent = await submitted_token(request)
    if not sent or not expected or not secrets.compare_digest(sent, expected):
        raise CSRFError(
            "This form is missing its security token or it has expired. "
            "Reload the page and try again."
        )
