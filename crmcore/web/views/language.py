"""Which language a page is shown in, and the ``?lang=`` switch that remembers it.

The language of a request is, first match wins:

1. ``?lang=fa`` / ``?lang=en`` on the URL (any page, core or plugin);
2. the signed-in user's stored language;
3. the ``crm_lang`` cookie (so the sign-in page keeps the choice made before signing in);
4. the browser's ``Accept-Language``;
5. the instance default (``language`` in crm.toml).

:class:`LanguageSwitchMiddleware` makes a ``?lang=`` choice stick: it stores it on the user
through the users service and in the cookie.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from crmcore.web.i18n import SUPPORTED_LANGUAGES

__all__ = [
    "LANGUAGE_CHOICES",
    "LANG_COOKIE",
    "LanguageSwitchMiddleware",
    "request_language",
    "request_timezone",
]

log = logging.getLogger("crmcore.web.language")

LANG_COOKIE = "crm_lang"
_ONE_YEAR = 365 * 24 * 3600

# Each language named in itself, as language pickers do.
LANGUAGE_CHOICES: tuple[tuple[str, str], ...] = (("en", "English"), ("fa", "فارسی"))


def _supported(code: str | None) -> str | None:
    if not code:
        return None
    base = code.strip().replace("-", "_").partition("_")[0].lower()
    return base if base in SUPPORTED_LANGUAGES else None


def _accept_language(header: str) -> str | None:
    """The best supported language of an ``Accept-Language`` header, by quality."""
    ranked = []
    for position, part in enumerate(header.split(",")):
        code, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if _supported(code) and quality > 0:
            ranked.append((-quality, position, _supported(code)))
    return min(ranked)[2] if ranked else None


def query_language(scope: Scope) -> str | None:
    """The supported language asked for with ``?lang=``, if any."""
    from urllib.parse import parse_qs

    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang")
    return _supported(values[-1]) if values else None


def request_language(request: Any) -> str:
    """The language this request is answered in (cached on the request)."""
    from crmcore.web.views.session import request_user

    state = request.scope.setdefault("state", {})
    cached = state.get("crm_lang")
    if cached:
        return cached
    user = request_user(request)
    settings = request.app.state.settings
    lang = (
        query_language(request.scope)
        or (_supported(_field(user, "language")) if user is not None else None)
        or _supported(request.cookies.get(LANG_COOKIE))
        or _accept_language(request.headers.get("accept-language", ""))
        or _supported(settings.default_language)
        or "en"
    )
    state["crm_lang"] = lang
    return lang


def request_timezone(request: Any) -> str:
    """The signed-in user's timezone (IANA name), UTC for visitors."""
    from crmcore.web.views.session import request_user

    user = request_user(request)
    return (_field(user, "timezone") if user is not None else None) or "UTC"


def _field(record: Any, name: str) -> Any:
    if record is None:
        return None
    if isinstance(record, dict):
        return record.get(name)
    return getattr(record, name, None)


class LanguageSwitchMiddleware(ASGIMiddleware):
    """Remember a ``?lang=`` choice: on the user's record (when signed in) and in a cookie.

    Runs after authentication, so the user is known. The response is not changed apart from
    the cookie; the page itself already renders in the new language (see
    :func:`request_language`).
    """

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        lang = query_language(scope)
        if lang is None:
            await next_app(scope, receive, send)
            return
        await _store_user_language(scope, lang)
        cookie = Cookie(
            key=LANG_COOKIE, value=lang, max_age=_ONE_YEAR, path="/", samesite="lax"
        ).to_header(header="")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"set-cookie", cookie.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await next_app(scope, receive, send_with_cookie)


async def _store_user_language(scope: Scope, lang: str) -> None:
    from crmcore.web.views.session import scope_user, set_user_language

    user = scope_user(scope)
    if user is None or user.get("language") == lang:
        return
    try:
        await set_user_language(scope, lang)
    except Exception:
        # The page still shows in the chosen language; only remembering it failed.
        log.exception("could not store language %r for user %r", lang, user.get("id"))
