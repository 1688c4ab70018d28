"""The login form's handling, and logout.

The page itself is the template ``core/login.html`` (context: ``error``, ``email``,
``next``). Posting it is exempt from CSRF (there is no session yet) but throttled; success
starts a fresh session and redirects to ``next`` if that is a path on this site.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from crmcore.auth.identity import request_identity
from crmcore.auth.sessions import COOKIE_NAME, cookie_settings, create_session, end_session
from crmcore.auth.throttle import check_throttle, record_attempt
from crmcore.services.users import authenticate

DEFAULT_NEXT = "/"
LOGIN_TEMPLATE = "core/login.html"


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirects).

    Refuses absolute URLs, scheme-relative ``//host`` and ``/\\host`` (browsers treat the
    backslash as a slash), and anything with control characters.
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return DEFAULT_NEXT
    if any(ord(ch) < 32 or ch == "\\" for ch in target):
        return DEFAULT_NEXT
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return DEFAULT_NEXT
    return target


def client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else ""


def is_https(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"


def _login_page(
    *, error: str = "", email: str = "", next_url: str = "", status_code: int = 200, **extra: Any
) -> Template:
    return Template(
        template_name=LOGIN_TEMPLATE,
        context={"error": error, "email": email, "next": next_url},
        status_code=status_code,
        **extra,
    )


def _next_field(raw: str | None) -> str:
    """What the form's hidden ``next`` field keeps: a safe target, or nothing."""
    return safe_next(raw) if raw else ""


@get("/login", opt={"public": True}, name="login", include_in_schema=False, sync_to_thread=False)
def login_page(request: Request[Any, Any, Any]) -> Template | Redirect:
    """The sign-in form; someone already signed in goes straight on."""
    raw_next = request.query_params.get("next")
    identity = request_identity(request)
    if identity is not None and identity.session is not None:
        return Redirect(path=safe_next(raw_next), status_code=302)
    return _login_page(next_url=_next_field(raw_next))


@post("/login", opt={"public": True}, include_in_schema=False)
async def login_submit(request: Request[Any, Any, Any]) -> Template | Redirect | Response[Any]:
    """Check the password, throttled per account and per address; start a session."""
    form = await request.form()
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    raw_next = str(form.get("next") or "")
    next_url = safe_next(raw_next)
    ip = client_ip(request)
    throttled = await check_throttle(email, ip)
    if throttled is not None:
        minutes = max(1, round(throttled.retry_after / 60))
        return _login_page(
            error=f"Too many failed sign-in attempts. Try again in about {minutes} minute(s).",
            email=email,
            next_url=_next_field(raw_next),
            status_code=429,
            headers={"Retry-After": str(throttled.retry_after)},
        )
    user = await authenticate(email, password) if email and password else None
    await record_attempt(email, ip, success=user is not None)
    if user is None:
        return _login_page(
            error="Wrong email or password.",
            email=email,
            next_url=_next_field(raw_next),
            status_code=401,
        )
    previous = request.cookies.get(COOKIE_NAME)
    if previous:
        await end_session(previous)
    key, _csrf = await create_session(
        user["id"], ip=ip, user_agent=request.headers.get("user-agent", "")
    )
    cookie = Cookie(value=key, **cookie_settings(secure=is_https(request)))
    return Redirect(path=next_url, status_code=303, cookies=[cookie])


@post("/logout", opt={"self_service": True}, include_in_schema=False)
async def logout(request: Request[Any, Any, Any]) -> Redirect:
    """End this browser's session (CSRF-checked like every form post)."""
    key = request.cookies.get(COOKIE_NAME)
    if key:
        await end_session(key)
    expired = Cookie(
        value="", expires=0, **{**cookie_settings(secure=is_https(request)), "max_age": 0}
    )
    return Redirect(path="/login", status_code=303, cookies=[expired])
