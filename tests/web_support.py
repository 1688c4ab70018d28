"""Shared fixtures and helpers of the web page tests: a browser-like client with a session.

Imported by ``tests/test_web_*.py`` (``from web_support import signed_in_client`` brings
the ``web_client`` fixture); the client signs in through the real login form, so
pages see a cookie session with its CSRF token exactly as a browser's requests do.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from crmcore.testing.pages import visible_texts
from crmcore.testing.plugin import ADMIN_EMAIL, ADMIN_PASSWORD

__all__ = ["WebClient", "signed_in_client", "visible_texts"]

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
