"""Every route of the app, plugins included, refuses requests without credentials unless it
is on the explicit public list; a viewer is refused every write; an agent sees only the
records it owns."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from auth_support import browser, make_user, sign_in, token_client

from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact
from crmcore.testing.plugin import make_client

# Routes anyone may call. Adding one here is a security decision: say why next to it.
PUBLIC = {
    ("GET", "/healthz"),  # load balancer liveness check
    ("GET", "/login"),  # the sign-in form
    ("POST", "/login"),  # signing in (throttled)
    ("GET", "/api/v1/calendar/{filename:str}"),  # iCal feed; the secret is in the file name
    ("POST", "/api/v1/inbound/{source:str}"),  # inbound webhooks; verified by signature
    # marketing email links: open pixel, click redirect, one-click unsubscribe (HMAC-signed)
    ("GET", "/marketing/t/o/{send_id:int}/{signature:str}"),
    ("GET", "/marketing/t/c/{send_id:int}/{signature:str}"),
    ("GET", "/marketing/u/{send_id:int}/{signature:str}"),
    ("POST", "/marketing/u/{send_id:int}/{signature:str}"),
}
# Read-only trees: CSS, scripts and images; the OpenAPI description (public like the source
# code) and its viewer.
PUBLIC_TREES = ("/static", "/schema")
READ_METHODS = ("GET", "HEAD", "OPTIONS")

# Routes where users act on their own account; open to read-only roles.
SELF_SERVICE = {
    ("POST", "/logout"),
    ("PATCH", "/api/v1/me"),
    ("POST", "/api/v1/me/password"),
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{token_id:int}"),
    ("OPTIONS", "/api/v1/tokens"),
    ("OPTIONS", "/api/v1/tokens/{token_id:int}"),
    # hr: employees ask for their own leave and rate/acknowledge their own review; the
    # services refuse anyone else's record.
    ("POST", "/api/v1/hr/leave-requests"),
    ("POST", "/api/v1/hr/reviews/{review_id:int}/ratings"),
    ("POST", "/api/v1/hr/reviews/{review_id:int}/acknowledge"),
}

# Searches that take their query in a POST body (a polygon) but change nothing: a viewer
# holding the read permission they declare may run them.
QUERIES_BY_POST = {("POST", "/api/v1/geo/within")}

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# How a refused CSRF token reads: the API's JSON detail, the pages' error page.
CSRF_REFUSALS = ("missing its security token", "This form has expired")
PARAM = re.compile(r"\{[^}:]+:[^}]+\}")


def walk(app: Any) -> Iterator[tuple[str, str, Any]]:
    """(method, route path, handler) for every HTTP route of the app."""
    for route in app.routes:
        for method, (handler, _model) in getattr(route, "route_handler_map", {}).items():
            yield method, route.path, handler


def concrete(path: str) -> str:
    return PARAM.sub("1", path)


def in_public_tree(method: str, path: str) -> bool:
    return method in READ_METHODS and any(
        path == root or path.startswith(root + "/") for root in PUBLIC_TREES
    )


@pytest.mark.crm_plugins("*")
async def test_public_and_self_service_routes_are_exactly_the_listed_ones(crm_app):
    declared_public = {
        (m, p) for m, p, h in walk(crm_app) if h.opt.get("public") and not in_public_tree(m, p)
    }
    declared_self = {(m, p) for m, p, h in walk(crm_app) if h.opt.get("self_service")}
    assert declared_public == PUBLIC
    assert declared_self == SELF_SERVICE


@pytest.mark.crm_plugins("*")
async def test_no_route_answers_without_credentials_unless_public(crm_app):
    answered = []
    checked = 0
    async with await make_client(crm_app) as client:
        for method, path, handler in walk(crm_app):
            if handler.opt.get("public"):  # exactly the listed ones, see the test above
                continue
            checked += 1
            url = concrete(path)
            response = await client.request(method, url)
            if response.status_code == 302:
                location = response.headers["location"]
                if (
                    method == "GET"
                    and not path.startswith("/api/")
                    and location.startswith("/login?next=")
                ):
                    continue
            if response.status_code in (401, 403):
                continue
            answered.append(f"{method} {url} -> {response.status_code}")
    assert answered == []
    assert checked > 50  # the walk really covered the app


@pytest.mark.crm_plugins("*")
async def test_a_viewer_gets_403_on_every_write_route(crm_app):
    viewer = await make_user("viewer")
    allowed = []
    checked = 0
    async with await token_client(crm_app, viewer) as client:
        for method, path, handler in walk(crm_app):
            if method not in WRITE_METHODS or (method, path) in SELF_SERVICE | QUERIES_BY_POST:
                continue
            if handler.opt.get("public"):  # exactly the listed ones, see the test above
                continue
            checked += 1
            response = await client.request(method, concrete(path), json={})
            if response.status_code != 403:
                allowed.append(f"{method} {concrete(path)} -> {response.status_code}")
    assert allowed == []
    assert checked > 20


@pytest.mark.crm_plugins("*")
async def test_every_write_route_refuses_a_session_without_its_csrf_token(crm_app):
    admin = await make_user("admin")  # holds every permission: only the token is missing
    accepted = []
    checked = 0
    async with await browser(crm_app) as client:
        token = await sign_in(client, admin["email"])
        for method, path, handler in walk(crm_app):
            if method not in WRITE_METHODS or handler.opt.get("public"):
                continue
            checked += 1
            for headers in ({}, {"X-CSRF-Token": "not-" + token}):
                response = await client.request(
                    method, concrete(path), data={"csrf_token": "forged"}, headers=headers
                )
                explained = any(text in response.text for text in CSRF_REFUSALS)
                if response.status_code != 403 or not explained:
                    accepted.append(f"{method} {concrete(path)} -> {response.status_code}")
        assert (await client.get("/api/v1/me")).status_code == 200  # still signed in
    assert accepted == []
    assert checked > 20


async def test_an_agent_sees_only_the_contacts_it_owns(crm_app):
    ana = await make_user("agent", "ana@example.com")
    bob = await make_user("agent", "bob@example.com")
    manager = await make_user("manager", "boss@example.com")
    own = await create_contact({"first_name": "Own", "owner_id": ana["id"]}, SYSTEM)
    other = await create_contact({"first_name": "Other", "owner_id": bob["id"]}, SYSTEM)

    async with await token_client(crm_app, ana) as client:
        listed = await client.get("/api/v1/contacts")
        assert listed.status_code == 200, listed.text
        assert "Other" not in listed.text
        assert "Own" in listed.text
        assert (await client.get(f"/api/v1/contacts/{own['id']}")).status_code == 200
        assert (await client.get(f"/api/v1/contacts/{other['id']}")).status_code == 404
        patched = await client.patch(f"/api/v1/contacts/{other['id']}", json={"title": "x"})
        assert patched.status_code == 404
    async with await browser(crm_app) as page_client:
        await sign_in(page_client, "ana@example.com")
        for url in ("/", "/contacts", "/search?q=Other", f"/contacts/{own['id']}"):
            page = await page_client.get(url)
            assert page.status_code == 200, url
            assert f'href="/contacts/{other["id"]}"' not in page.text, url
        own_link = f'href="/contacts/{own["id"]}"'
        assert own_link in (await page_client.get("/contacts")).text
        assert own_link in (await page_client.get("/search?q=Own")).text
        assert (await page_client.get(f"/contacts/{other['id']}")).status_code == 404
    async with await token_client(crm_app, manager) as client:
        listed = await client.get("/api/v1/contacts")
    assert "Own" in listed.text and "Other" in listed.text
