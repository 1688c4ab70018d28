"""The audit log: one row per change with before/after and actor; append-only; scrubbable
only through the erasure path."""

from __future__ import annotations

import pytest
from auth_support import make_user, token_client

from crmcore.db.runtime import current_database
from crmcore.services.actor import Actor
from crmcore.services.audit import record_audit
from crmcore.services.audit_admin import ERASED, scrub_audit_for
from crmcore.services.contacts import create_contact, update_contact
from crmcore.tables import AuditLog, User


async def test_updating_a_contacts_email_records_one_row_with_old_new_and_actor(crm_app):
    agent = await make_user("agent", "ana@example.com")
    async with await token_client(crm_app, agent) as client:
        created = await client.post(
            "/api/v1/contacts", json={"first_name": "Sara", "email": "sara@old.example"}
        )
        assert created.status_code == 201, created.text
        contact_id = created.json()["id"]
        before = await AuditLog.count()
        changed = await client.patch(
            f"/api/v1/contacts/{contact_id}", json={"email": "sara@new.example"}
        )
        assert changed.status_code == 200, changed.text
    assert await AuditLog.count() == before + 1
    rows = (
        await AuditLog.select()
        .where(
            (AuditLog.table_name == "contact")
            & (AuditLog.record_id == contact_id)
            & (AuditLog.action == "update")
        )
        .output(load_json=True)
    )
    assert len(rows) == 1
    # The contacts service audits the contact's addresses as the list "emails".
    old_value, new_value = rows[0]["changes"]["emails"]
    assert old_value == ["sara@old.example"]
    assert new_value == ["sara@new.example"]
    assert rows[0]["actor"] == agent["id"]
    assert rows[0]["actor_label"] == "ana@example.com"


async def test_audit_api_filters_by_table_and_record_and_needs_audit_read(crm_app, crm_client):
    admin = Actor(user_id=None, label="system", permissions=frozenset({"*"}), is_system=True)
    first = await create_contact({"first_name": "One", "email": "one@example.com"}, admin)
    second = await create_contact({"first_name": "Two", "email": "two@example.com"}, admin)
    await update_contact(first["id"], {"last_name": "Changed"}, admin)

    response = await crm_client.get(f"/api/v1/audit?table=contact&record={first['id']}")
    assert response.status_code == 200
    entries = response.json()
    assert [e["action"] for e in entries] == ["update", "create"]  # newest first
    assert all(e["record_id"] == first["id"] for e in entries)
    assert entries[0]["changes"]["last_name"] == ["", "Changed"]
    assert second["id"] not in {e["record_id"] for e in entries}

    agent = await make_user("agent")
    async with await token_client(crm_app, agent) as client:
        refused = await client.get("/api/v1/audit")
    assert refused.status_code == 403
    assert refused.json()["permission"] == "audit.read"


async def test_no_route_changes_or_deletes_audit_rows(crm_app):
    for route in crm_app.routes:
        if "audit" in route.path:
            assert set(getattr(route, "methods", set())) <= {"GET", "HEAD", "OPTIONS"}, route.path


async def _one_audit_row() -> int:
    await record_audit(
        table="contact",
        record_id=7,
        action="update",
        changes={"email": ["a@example.com", "b@example.com"]},
        actor=Actor(user_id=None, label="system"),
    )
    [row] = await AuditLog.select(AuditLog.id).where(AuditLog.record_id == 7)
    return row["id"]


async def test_database_refuses_to_update_or_delete_audit_rows(crm_db):
    row_id = await _one_audit_row()
    with pytest.raises(Exception, match="append-only"):
        await AuditLog.update({AuditLog.changes: {}}).where(AuditLog.id == row_id)
    with pytest.raises(Exception, match="append-only"):
        await AuditLog.update({AuditLog.actor_label: "someone else"}).where(AuditLog.id == row_id)
    with pytest.raises(Exception, match="append-only"):
        await AuditLog.delete().where(AuditLog.id == row_id)
    [row] = await AuditLog.select().where(AuditLog.id == row_id).output(load_json=True)
    assert row["changes"] == {"email": ["a@example.com", "b@example.com"]}


async def test_deleting_a_user_keeps_their_audit_rows_with_the_label(crm_db):
    user = await make_user("agent", "gone@example.com")
    actor = Actor(user_id=user["id"], label="gone@example.com")
    await record_audit(table="contact", record_id=3, action="create", changes={}, actor=actor)
    await User.delete().where(User.id == user["id"])
    [row] = await AuditLog.select().where(AuditLog.record_id == 3)
    assert row["actor"] is None
    assert row["actor_label"] == "gone@example.com"
    with pytest.raises(Exception, match="append-only"):
        await AuditLog.update({AuditLog.actor: user["id"]}).where(AuditLog.id == row["id"])


async def _sqlite_triggers() -> list[tuple[str, str]]:
    rows = await AuditLog.raw(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log' "
        "ORDER BY name"
    )
    return [(row["name"], row["sql"]) for row in rows]


async def test_scrub_erases_values_of_one_record_and_protection_stays(crm_db):
    triggers_before = await _sqlite_triggers() if current_database().is_sqlite else None
    row_id = await _one_audit_row()
    await record_audit(
        table="contact",
        record_id=8,
        action="update",
        changes={"email": ["keep@example.com", "kept@example.com"]},
        actor=Actor(user_id=None, label="system"),
    )
    assert await scrub_audit_for("contact", 7) == 1

    [scrubbed] = await AuditLog.select().where(AuditLog.id == row_id).output(load_json=True)
    assert scrubbed["changes"] == {"email": [ERASED, ERASED]}
    assert scrubbed["action"] == "update"
    [kept] = await AuditLog.select().where(AuditLog.record_id == 8).output(load_json=True)
    assert kept["changes"] == {"email": ["keep@example.com", "kept@example.com"]}
    with pytest.raises(Exception, match="append-only"):
        await AuditLog.update({AuditLog.changes: {}}).where(AuditLog.id == row_id)
    if triggers_before is not None:
        assert await _sqlite_triggers() == triggers_before
    assert await scrub_audit_for("contact", 999) == 0
