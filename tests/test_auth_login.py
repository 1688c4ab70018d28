"""Signing in through the login form: sessions, cookies, redirects, throttling, CSRF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from auth_support import PASSWORD, browser, make_user, sign_in

from crmcore.auth.sessions import COOKIE_NAME, hash_key
from crmcore.tables import LoginAttempt, WebSession


async def test_login_sets_a_session_cookie_that_is_httponly_and_samesite(crm_app):
    await make_user("agent", "ana@example.com")
    async with await browser(crm_app) as client:
        response = await client.post(
            "/login", data={"email": "ana@example.com", "password": PASSWORD, "next": "/tasks"}
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/tasks"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE_NAME}=")
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
        assert "Secure" not in cookie  # plain http in this test
        me = await client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["user"]["email"] == "ana@example.com"
    assert me.json()["auth"] == "session"


async def test_cookie_is_secure_over_https(crm_app):
    await make_user("agent", "ana@example.com")
    async with await browser(crm_app, base_url="https://crm.example.com") as client:
        response = await client.post(
            "/login", data={"email": "ana@example.com", "password": PASSWORD}
        )
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


async def test_database_holds_only_the_hash_of_the_session_key(crm_app):
    await make_user("agent", "ana@example.com")
    async with await browser(crm_app) as client:
        await sign_in(client, "ana@example.com")
        key = client.cookies[COOKIE_NAME]
    rows = await WebSession.select(WebSession.key_hash)
    assert [row["key_hash"] for row in rows] == [hash_key(key)]
    assert key not in rows[0]["key_hash"]


async def test_next_only_redirects_within_the_site(crm_app):
    await make_user("agent", "ana@example.com")
    cases = {
        "/contacts?stage=lead": "/contacts?stage=lead",
        "https://evil.example/": "/",
        "//evil.example/path": "/",
        "/\\evil.example": "/",
        "javascript:alert(1)": "/",
        "": "/",
    }
    for target, expected in cases.items():
        async with await browser(crm_app) as client:
            response = await client.post(
                "/login", data={"email": "ana@example.com", "password": PASSWORD, "next": target}
            )
        assert response.status_code == 303
        assert response.headers["location"] == expected, target


async def test_wrong_password_and_unknown_email_are_refused_alike(crm_app):
    await make_user("agent", "ana@example.com")
    async with await browser(crm_app) as client:
        wrong = await client.post(
            "/login", data={"email": "ana@example.com", "password": "nope-nope"}
        )
        unknown = await client.post(
            "/login", data={"email": "bob@example.com", "password": "nope-nope"}
        )
    assert wrong.status_code == unknown.status_code == 401
    assert COOKIE_NAME not in wrong.headers.get("set-cookie", "")
    assert await WebSession.count() == 0


async def test_disabled_user_cannot_sign_in(crm_app):
    from crmcore.services.users import update_user

    user = await make_user("agent", "ana@example.com")
    await update_user(user["id"], active=False)
    async with await browser(crm_app) as client:
        response = await client.post(
            "/login", data={"email": "ana@example.com", "password": PASSWORD}
        )
    assert response.status_code == 401


async def test_sixth_wrong_password_in_fifteen_minutes_gets_429_with_retry_after(crm_app):
    await make_user("agent", "ana@example.com")
    async with await browser(crm_app) as client:
        for _ in range(5):
            response = await client.post(
                "/login", data={"email": "ana@example.com", "password": "wrong password"}
            )
            assert response.status_code == 401
        sixth = await client.post(
            "/login", data={"email": "ana@example.com", "password": "wrong password"}
        )
        assert sixth.status_code == 429
        retry_after = int(sixth.headers["retry-after"])
        assert 0 < retry_after <= 15 * 60
        # Even the right password waits: the account is throttled, not the guess.
        right = await client.post("/login", data={"email": "ana@example.com", "password": PASSWORD})
        assert right.status_code == 429
    assert await LoginAttempt.count().where(LoginAttempt.email == "ana@example.com") == 5


async def test_throttle_also_counts_failures_per_ip_address(crm_app):
    await make_user("agent", "ana@example.com")
    async with await browser(crm_app) as client:
        for n in range(5):
            await client.post(
                "/login", data={"email": f"guess{n}@example.com", "password": "x" * 9}
            )
        response = await client.post(
            "/login", data={"email": "ana@example.com", "password": PASSWORD}
        )
    assert response.status_code == 429
    assert "retry-after" in response.headers


async def test_failures_older_than_fifteen_minutes_no_longer_count(crm_app):
    await make_user("agent", "ana@example.com")
    long_ago = datetime.now(UTC) - timedelta(minutes=16)
    for _ in range(5):
        await LoginAttempt.insert(
            LoginAttempt(email="ana@example.com", ip="127.0.0.1", at=long_ago, success=False)
        )
    async with await browser(crm_app) as client:
        await sign_in(client, "ana@example.com")


async def test_logout_needs_the_csrf_token_and_ends_the_session(crm_app):
    await make_user("agent", "ana@example.com")
    async with await browser(crm_app) as client:
        csrf = await sign_in(client, "ana@example.com")
        forged = await client.post("/logout", data={})
        assert forged.status_code == 403
        assert (await client.get("/api/v1/me")).status_code == 200
        response = await client.post("/logout", data={"csrf_token": csrf})
        assert response.status_code == 303
        assert response.headers["location"] == "/login"
        client.cookies.clear()
    assert await WebSession.count() == 0


async def test_form_post_without_a_valid_csrf_token_is_rejected(crm_app):
    await make_user("agent", "ana@example.com")
    async with await browser(crm_app) as client:
        csrf = await sign_in(client, "ana@example.com")
        missing = await client.post("/api/v1/tokens", json={"name": "x"})
        wrong = await client.post(
            "/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "not-the-token"}
        )
        right = await client.post(
            "/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf}
        )
    assert missing.status_code == 403
    assert wrong.status_code == 403
    assert right.status_code == 201, right.text


async def test_anonymous_page_request_redirects_to_login_and_api_gets_401(crm_anon_client):
    page = await crm_anon_client.get("/plugins?x=1")
    assert page.status_code == 302
    assert page.headers["location"] == "/login?next=/plugins%3Fx%3D1"
    api = await crm_anon_client.get("/api/v1/me")
    assert api.status_code == 401
    assert api.json()["status_code"] == 401
    assert api.headers["www-authenticate"].startswith("Bearer")


async def test_disabling_a_user_ends_their_session(crm_app):
    from crmcore.services.users import update_user

    user = await make_user("agent", "ana@example.com")
    async with await browser(crm_app) as client:
        await sign_in(client, "ana@example.com")
        await update_user(user["id"], active=False)
        assert (await client.get("/api/v1/me")).status_code == 401


async def test_login_page_renders_the_form(crm_anon_client):
    response = await crm_anon_client.get("/login?next=/contacts")
    assert response.status_code == 200, response.text
    # Other tools sign in by posting these two fields to /login: keep the form's shape.
    assert '<form method="post" action="/login"' in response.text
    assert 'name="email"' in response.text
    assert 'name="password"' in response.text
    assert 'value="/contacts"' in response.text


async def test_expired_session_no_longer_authenticates(crm_app):
    await make_user("agent", "ana@example.com")
    async with await browser(crm_app) as client:
        await sign_in(client, "ana@example.com")
        await WebSession.update(
            {WebSession.expires_at: datetime.now(UTC) - timedelta(seconds=1)}, force=True
        )
        assert (await client.get("/api/v1/me")).status_code == 401
    assert await WebSession.count() == 0


async def test_housekeeping_job_purges_expired_sessions_and_old_attempts(crm_app):
    from crmcore.builtins.auth import purge_expired
    from crmcore.jobs.registry import registry_for

    assert registry_for(crm_app.state.pm).get("auth.purge_expired").func is purge_expired
    user = await make_user("agent", "ana@example.com")
    now = datetime.now(UTC)
    await WebSession.insert(
        WebSession(key_hash="old", user=user["id"], csrf_token="t", expires_at=now - timedelta(1)),
        WebSession(key_hash="new", user=user["id"], csrf_token="t", expires_at=now + timedelta(1)),
    )
    await LoginAttempt.insert(
        LoginAttempt(email="a@example.com", ip="1.2.3.4", at=now - timedelta(days=31)),
        LoginAttempt(email="a@example.com", ip="1.2.3.4", at=now - timedelta(days=1)),
    )
    assert await purge_expired({}, None) == {"sessions": 1, "attempts": 1}
    assert [r["key_hash"] for r in await WebSession.select(WebSession.key_hash)] == ["new"]
    assert await LoginAttempt.count() == 1
