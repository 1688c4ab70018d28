"""Authentication errors and how the app answers them (401 JSON or a redirect to login)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.response import Redirect

from crmcore.errors import CRMError, PermissionDenied

API_PREFIX = "/api/"


class LoginRequired(CRMError):
    """No valid credentials came with a request for a protected route."""

    status_code = 401


class MissingPermission(PermissionDenied):
    """The actor's role lacks ``permission`` (403; the body names it)."""

    def __init__(self, permission: str, message: str | None = None) -> None:
        super().__init__(message or f"this needs the permission {permission!r}")
        self.permission = permission


def wants_html(request: Request[Any, Any, Any]) -> bool:
    """Page routes answer a browser; everything under /api/ answers programs."""
    return not request.url.path.startswith(API_PREFIX) and "authorization" not in request.headers


def login_url(request: Request[Any, Any, Any]) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return "/login?next=" + quote(target, safe="/")


def login_required_handler(request: Request[Any, Any, Any], exc: LoginRequired) -> Response[Any]:
    """Browsers asking for a page go to the login form; programs get 401 JSON."""
    if wants_html(request) and request.method in ("GET", "HEAD"):
        if request.headers.get("hx-request"):
            # htmx would swap the login page into a fragment; ask it to navigate instead.
            return Response(
                {"status_code": 401, "detail": exc.message},
                status_code=401,
                headers={"HX-Redirect": login_url(request)},
            )
        return Redirect(path=login_url(request), status_code=302)
    return Response(
        {"status_code": 401, "detail": exc.message},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="crm"'},
    )


def missing_permission_handler(
    request: Request[Any, Any, Any], exc: MissingPermission
) -> Response[Any]:
    return Response(
        {"status_code": 403, "detail": exc.message, "permission": exc.permission},
        status_code=403,
    )
