"""API tokens: shown once, stored hashed, revocable, expiring, scoped."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from auth_support import browser, make_user, sign_in, token_client

from crmcore.errors import ValidationError
from crmcore.services.tokens import create_token, parse_expiry, revoke_token
from crmcore.tables import ApiToken
from crmcore.testing.plugin import make_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_database_holds_no_usable_token(crm_app):
    user = await make_user("agent")
    token = await create_token(user_id=user["id"], name="script")
    rows = await ApiToken.select()
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0].values())
    secret_part = token[len("crm_") :]
    assert secret_part not in stored
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert rows[0]["prefix"] == token[:12]
    # Presenting what the database holds does not authenticate.
    async with await make_client(crm_app) as client:
        for candidate in (rows[0]["token_hash"], rows[0]["prefix"], "crm_" + rows[0]["token_hash"]):
            response = await client.get("/api/v1/me", headers=bearer(candidate))
            assert response.status_code == 401
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200


async def test_revoked_token_gets_401(crm_app):
    user = await make_user("agent")
    token = await create_token(user_id=user["id"])
    async with await make_client(crm_app) as client:
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
        [row] = await ApiToken.select(ApiToken.id)
        await revoke_token(row["id"])
        response = await client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


async def test_expired_token_gets_401(crm_app):
    user = await make_user("agent")
    token = await create_token(
        user_id=user["id"], expires_at=datetime.now(UTC) + timedelta(hours=1)
    )
    async with await make_client(crm_app) as client:
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
        await ApiToken.update(
            {ApiToken.expires_at: datetime.now(UTC) - timedelta(seconds=1)}, force=True
        )
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401


async def test_token_of_a_disabled_user_gets_401(crm_app):
    from crmcore.services.users import update_user

    user = await make_user("agent")
    token = await create_token(user_id=user["id"])
    await update_user(user["id"], active=False)
    async with await make_client(crm_app) as client:
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401


async def test_last_used_is_recorded_at_most_once_a_minute(crm_app):
    user = await make_user("agent")
    token = await create_token(user_id=user["id"])
    async with await make_client(crm_app) as client:
        await client.get("/api/v1/me", headers=bearer(token))
        [first] = await ApiToken.select(ApiToken.last_used_at)
        assert first["last_used_at"] is not None
        await client.get("/api/v1/me", headers=bearer(token))
        [second] = await ApiToken.select(ApiToken.last_used_at)
        assert second["last_used_at"] == first["last_used_at"]
        earlier = datetime.now(UTC) - timedelta(minutes=2)
        await ApiToken.update({ApiToken.last_used_at: earlier}, force=True)
        await client.get("/api/v1/me", headers=bearer(token))
        [third] = await ApiToken.select(ApiToken.last_used_at)
    assert third["last_used_at"] > earlier + timedelta(minutes=1)


async def test_scoped_token_only_has_the_permissions_role_and_scope_share(crm_app, crm_user):
    token = await create_token(user_id=crm_user["id"], scopes=["contacts.read"])
    async with await make_client(crm_app) as client:
        me = await client.get("/api/v1/me", headers=bearer(token))
        assert me.json()["permissions"] == ["contacts.read"]
        users = await client.get("/api/v1/users", headers=bearer(token))
        assert users.status_code == 403
        assert users.json()["permission"] == "users.manage"
        broader = await client.post("/api/v1/tokens", json={"name": "more"}, headers=bearer(token))
        assert broader.status_code == 403


async def test_unknown_scope_is_refused_with_its_name(crm_user):
    with pytest.raises(ValidationError) as error:
        await create_token(user_id=crm_user["id"], scopes=["contacts.fly"])
    assert "contacts.fly" in error.value.message


async def test_api_creates_lists_and_revokes_own_tokens(crm_app):
    viewer = await make_user("viewer")
    async with await token_client(crm_app, viewer) as client:
        created = await client.post("/api/v1/tokens", json={"name": "report", "expires": "30d"})
        assert created.status_code == 201, created.text
        token = created.json()["token"]
        info = created.json()["info"]
        assert info["name"] == "report"
        assert info["expires_at"] is not None
        listed = await client.get("/api/v1/tokens")
        assert token not in listed.text
        assert {t["id"] for t in listed.json()} >= {info["id"]}
        revoked = await client.delete(f"/api/v1/tokens/{info['id']}")
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
    async with await make_client(crm_app) as client:
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401


async def test_users_cannot_revoke_each_others_tokens(crm_app):
    ana = await make_user("agent", "ana@example.com")
    bob = await make_user("agent", "bob@example.com")
    await create_token(user_id=bob["id"], name="bob's")
    [bobs] = await ApiToken.select(ApiToken.id).where(ApiToken.name == "bob's")
    async with await token_client(crm_app, ana) as client:
        response = await client.delete(f"/api/v1/tokens/{bobs['id']}")
        assert response.status_code == 404
        assert "bob's" not in (await client.get("/api/v1/tokens")).text


async def test_session_user_creates_a_token_with_the_csrf_header(crm_app):
    await make_user("agent", "ana@example.com")
    async with await browser(crm_app) as client:
        csrf = await sign_in(client, "ana@example.com")
        response = await client.post(
            "/api/v1/tokens", json={"name": "cli"}, headers={"X-CSRF-Token": csrf}
        )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("text", "delta"),
    [("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("2w", timedelta(weeks=2))],
)
def test_expiry_durations(text, delta):
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert parse_expiry(text, now) == now + delta


def test_expiry_dates_and_bad_values():
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert parse_expiry("2030-02-01", now) == datetime(2030, 2, 1, tzinfo=UTC)
    for bad in ("yesterday", "2020-01-01", "0d"):
        with pytest.raises(ValidationError):
            parse_expiry(bad, now)
