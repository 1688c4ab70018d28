"""Shared fixtures and helpers of the web page tests: a browser-like client with a session.

Imported by ``tests/test_web_*.py`` (``from web_support import signed_in_client`` brings
the ``web_client`` fixture); the client signs in through the real login form, so
pages see a cookie session with its CSRF token exactly as a browser's requests do.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from crmcore.testing.plugin import ADMIN_EMAIL, ADMIN_PASSWORD

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class WebClient(httpx.AsyncClient):
    """An httpx client that signs in with the login form and posts forms with the session's
    CSRF token."""

    csrf_token: str = ""

    async def sign_in(self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
        response = await self.post("/login", data={"email": email, "password": password})
        assert response.status_code == 303, response.text
        page = await self.get("/")
        found = CSRF_RE.search(page.text)
        assert found, "the signed-in page carries no CSRF token"
        self.csrf_token = found.group(1)

    async def submit(
        self, url: str, data: dict[str, Any] | list[tuple[str, str]]
    ) -> httpx.Response:
        """POST a form the way a browser does, CSRF token included."""
        pairs = list(data.items()) if isinstance(data, dict) else list(data)
        return await self.post(
            url,
            content=urlencode([*pairs, ("csrf_token", self.csrf_token)]),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )


@pytest.fixture(name="web_client")
async def signed_in_client(crm_app: Any, crm_user: Any) -> AsyncIterator[WebClient]:
    """A signed-in browser-like client of the real app (session cookie, CSRF token)."""
    async with WebClient(
        transport=httpx.ASGITransport(app=crm_app), base_url="http://testserver"
    ) as client:
        await client.sign_in()
        yield client


class _TextCollector(HTMLParser):
    """Visible text and user-facing attributes of a page, skipping scripts, styles and
    anything marked as being in another language (``lang="en"`` on a language picker)."""

    SKIP = {"script", "style"}
    ATTRIBUTES = ("placeholder", "aria-label", "title", "alt")
    VOID = {"input", "br", "img", "meta", "link", "hr", "source", "col", "area", "wbr"}

    def __init__(self, page_lang: str) -> None:
        super().__init__()
        self.page_lang = page_lang
        self.stack: list[tuple[str, bool]] = []
        self.texts: list[str] = []

    def _hidden(self) -> bool:
        return any(hidden for _tag, hidden in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        lang = values.get("lang")
        hidden = tag in self.SKIP or (lang is not None and lang != self.page_lang and tag != "html")
        if not hidden and not self._hidden():
            self.texts.extend(v for k in self.ATTRIBUTES if (v := values.get(k)))
            if (
                tag == "input"
                and values.get("type") in ("submit", "button")
                and values.get("value")
            ):
                self.texts.append(values["value"] or "")
        if tag not in self.VOID:
            self.stack.append((tag, hidden))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data: str) -> None:
        if data.strip() and not self._hidden():
            self.texts.append(data.strip())


def visible_texts(html: str, page_lang: str) -> list[str]:
    collector = _TextCollector(page_lang)
    collector.feed(html)
    return collector.texts
