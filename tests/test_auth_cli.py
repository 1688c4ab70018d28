"""``crm users|tokens|roles|audit`` as an administrator runs them (real subprocesses)."""

from __future__ import annotations

import asyncio
import json
import re

from crmcore.db.runtime import open_database
from crmcore.services.tokens import authenticate_token
from crmcore.services.users import get_user


def ok(result):
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_init_creates_the_first_admin_without_prompting(run_crm):
    ok(run_crm("init", "--admin-email", "Root@Example.com", "--admin-password", "first admin pw"))
    users = json.loads(ok(run_crm("users", "list", "--json")))
    assert [(u["email"], u["role"], u["active"]) for u in users] == [
        ("root@example.com", "admin", True)
    ]


def test_users_create_set_role_set_password_and_disable(run_crm):
    ok(run_crm("init"))
    created = ok(
        run_crm(
            "users",
            "create",
            "--email",
            "sara@example.com",
            "--password",
            "secret pass 1",
            "--role",
            "agent",
            "--name",
            "Sara",
            "--language",
            "fa",
        )
    )
    assert "sara@example.com" in created
    ok(run_crm("users", "set-role", "sara@example.com", "manager"))
    ok(run_crm("users", "set-password", "sara@example.com", "--password", "secret pass 2"))
    ok(run_crm("users", "disable", "sara@example.com"))
    [user] = json.loads(ok(run_crm("users", "list", "--json")))
    assert user["role"] == "manager"
    assert user["language"] == "fa"
    assert user["active"] is False
    assert "password" not in json.dumps(user)
    plain = ok(run_crm("users", "list"))
    assert "sara@example.com" in plain and "disabled" in plain


def test_users_create_refuses_bad_input_with_a_clear_message(run_crm):
    ok(run_crm("init"))
    no_password = run_crm("users", "create", "--email", "a@example.com", "--role", "agent")
    assert no_password.returncode != 0
    assert "--password" in no_password.stderr
    bad_role = run_crm(
        "users", "create", "--email", "a@example.com", "--password", "long enough", "--role", "boss"
    )
    assert bad_role.returncode != 0
    assert "boss" in bad_role.stderr and "viewer" in bad_role.stderr
    short = run_crm("users", "create", "--email", "a@example.com", "--password", "short")
    assert short.returncode != 0
    assert "at least 8" in short.stderr


def test_tokens_create_prints_only_the_token_and_revoke_works(run_crm):
    ok(run_crm("init", "--admin-email", "root@example.com", "--admin-password", "first admin pw"))
    created = run_crm(
        "tokens", "create", "--user", "root@example.com", "--name", "backup", "--expires", "30d"
    )
    token = ok(created)
    assert re.fullmatch(r"crm_[A-Za-z0-9_-]{43}\n", token)
    listed = ok(run_crm("tokens", "list", "--json"))
    assert token.strip() not in listed
    [row] = json.loads(listed)
    assert row["name"] == "backup" and row["prefix"] == token[:12]
    assert row["expires_at"] is not None
    ok(run_crm("tokens", "revoke", str(row["id"])))
    [row] = json.loads(ok(run_crm("tokens", "list", "--json")))
    assert row["revoked_at"] is not None


async def _token_owner(database_url: str, token: str) -> dict | None:
    """The user the token authenticates as, read from the instance's database."""
    database = await open_database(database_url, pool=False)
    try:
        info = await authenticate_token(token)
        return None if info is None else await get_user(info.user_id)
    finally:
        await database.close()


def test_scripted_admin_gets_a_token_that_signs_them_in(run_crm, crm_fresh_settings):
    # The exact commands deploy scripts run: no prompt (stdin is not a terminal), and the
    # token alone on stdout so that `TOKEN=$(crm tokens create --user E)` works.
    ok(run_crm("init"))
    ok(
        run_crm(
            "users",
            "create",
            "--email",
            "ops@example.com",
            "--password",
            "ops pass 123",
            "--role",
            "admin",
        )
    )
    created = run_crm("tokens", "create", "--user", "ops@example.com")
    token = ok(created)
    assert re.fullmatch(r"crm_[A-Za-z0-9_-]{43}\n", token)
    owner = asyncio.run(_token_owner(crm_fresh_settings.database_url, token.strip()))
    assert owner is not None, "the printed token does not authenticate"
    assert (owner["email"], owner["role"]) == ("ops@example.com", "admin")


def test_roles_create_list_and_unknown_permission(run_crm):
    ok(run_crm("init"))
    ok(
        run_crm(
            "roles",
            "create",
            "support",
            "--permission",
            "contacts.read",
            "--permission",
            "interactions.write",
            "--scope",
            "own",
        )
    )
    roles = {r["name"]: r for r in json.loads(ok(run_crm("roles", "list", "--json")))}
    assert set(roles) == {"admin", "manager", "agent", "viewer", "support"}
    assert roles["support"]["permissions"] == ["contacts.read", "interactions.write"]
    assert roles["support"]["record_scope"] == "own"
    bad = run_crm("roles", "create", "pilot", "--permission", "contacts.fly")
    assert bad.returncode != 0
    assert "contacts.fly" in bad.stderr
    assert "audit.read" in ok(run_crm("roles", "permissions"))


def test_audit_show_lists_changes_with_who_did_them(run_crm):
    ok(run_crm("init", "--admin-email", "root@example.com", "--admin-password", "first admin pw"))
    ok(run_crm("users", "set-role", "root@example.com", "manager"))
    entries = json.loads(ok(run_crm("audit", "show", "--table", "crm_user", "--json")))
    assert [e["action"] for e in entries] == ["update", "create"]
    assert entries[0]["changes"]["role"] == ["admin", "manager"]
    assert entries[0]["actor_label"].startswith("cli:")
    text = ok(run_crm("audit", "show", "--record", str(entries[0]["record_id"])))
    assert "role" in text and "manager" in text
