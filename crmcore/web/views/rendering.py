"""Small helpers every page handler uses: render, redirect with a notice, read a form.

Notices after a redirect ("Saved") travel in a short-lived cookie holding a *key* from
:data:`NOTICES`, never the text itself, so nothing a visitor controls is ever shown as a notice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from crmcore.web.templating import extra_template_vars, translator_for

__all__ = [
    "NOTICES",
    "FormValues",
    "Notice",
    "is_htmx",
    "read_form",
    "redirect",
    "render",
    "render_template",
]

NOTICE_COOKIE = "crm_notice"

# Key -> (kind, English text). The text is a msgid of the core catalog.
NOTICES: dict[str, tuple[str, str]] = {
    "saved": ("success", "Saved"),
    "created": ("success", "Created"),
    "logged": ("success", "Interaction logged"),
    "task_created": ("success", "Task created"),
    "task_done": ("success", "Task completed"),
    "tags_added": ("success", "Tags added"),
    "field_added": ("success", "Field added"),
    "user_created": ("success", "User created"),
    "nothing_selected": ("warning", "Select at least one contact first."),
}


@dataclass(frozen=True)
class Notice:
    kind: str
    text: str


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    """Whether htmx sent the request (it then wants a fragment, not a whole page)."""
    return request.headers.get("hx-request") == "true"


def _pending_notice(request: Request[Any, Any, Any]) -> list[Notice]:
    key = request.cookies.get(NOTICE_COOKIE, "")
    if key not in NOTICES:
        return []
    kind, text = NOTICES[key]
    return [Notice(kind, translator_for(request).gettext(text))]


def render_template(
    request: Request[Any, Any, Any],
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Template:
    """A page (or an htmx fragment) response; shows and then clears a pending notice.

    Synchronous, for exception handlers; handlers use :func:`render`, which also awaits the
    plugins' ``extra_template_vars``.
    """
    values = dict(context or {})
    notices = _pending_notice(request)
    values.setdefault("flash_messages", notices)
    cookies = [Cookie(key=NOTICE_COOKIE, value="", max_age=0, path="/")] if notices else []
    return Template(
        template_name=template, context=values, status_code=status_code, cookies=cookies
    )


async def render(
    request: Request[Any, Any, Any],
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Template:
    """Render a core page with the plugins' ``extra_template_vars`` (the page's own values
    win over a plugin's of the same name)."""
    extra = await extra_template_vars(request, template)
    return render_template(request, template, {**extra, **(context or {})}, status_code=status_code)


def redirect(url: str, notice: str | None = None) -> Response[Any]:
    """See-other redirect after a successful form post, optionally with a notice key."""
    cookies = []
    if notice is not None:
        if notice not in NOTICES:
            raise ValueError(f"unknown notice {notice!r}; add it to NOTICES")
        cookies.append(Cookie(key=NOTICE_COOKIE, value=notice, max_age=60, path="/", httponly=True))
    return Redirect(path=url, status_code=HTTP_303_SEE_OTHER, cookies=cookies)


class FormValues(dict[str, str]):
    """A submitted form as ``name -> value`` (last value wins) that also keeps every value of
    repeated fields (checkbox lists) in :meth:`getall`. Templates read it like a dict, so a
    form re-rendered after an error shows exactly what the user typed."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        self._all: dict[str, list[str]] = {}
        for key, value in pairs:
            self[key] = value
            self._all.setdefault(key, []).append(value)

    def getall(self, key: str) -> list[str]:
        return list(self._all.get(key, []))

    def text(self, key: str) -> str:
        """The trimmed value of ``key`` ("" when absent)."""
        return (self.get(key) or "").strip()


async def read_form(request: Request[Any, Any, Any]) -> FormValues:
    """The url-encoded or multipart form of a POST, uploaded files left out."""
    form = await request.form()
    return FormValues([(k, v) for k, v in form.multi_items() if isinstance(v, str)])
