"""Helpers for the authentication tests: users of each role and signed-in browser clients."""

from __future__ import annotations

from typing import Any

import httpx

from crmcore.services.users import create_user
from crmcore.testing.plugin import make_client

PASSWORD = "a long enough password"


async def make_user(role: str, email: str | None = None, **fields: Any) -> dict[str, Any]:
    return await create_user(
        email=email or f"{role}@example.com", password=PASSWORD, role=role, **fields
    )


async def browser(app: Any, base_url: str = "http://testserver") -> httpx.AsyncClient:
    """An anonymous client that keeps cookies, like a browser."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Post the login form; return the session's CSRF token (read from /api/v1/me)."""
    response = await client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 303, response.text
    me = await client.get("/api/v1/me")
    assert me.status_code == 200, me.text
    return me.json()["csrf_token"]


async def token_client(app: Any, user: dict[str, Any]) -> httpx.AsyncClient:
    return await make_client(app, user)
