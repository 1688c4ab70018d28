"""The contacts REST API against the real app, and the same rules through every door."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from crmcore.errors import ValidationError
from crmcore.hookspecs import hookimpl
from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact
from crmcore.tables import AuditLog, Contact

pytestmark = pytest.mark.anyio

INVALID = [
    ("email", "maryam@"),
    ("email", "maryam at example.com"),
    ("phone", "0912 12"),
    ("phone", "not a number"),
]


@pytest.mark.parametrize(("field", "value"), INVALID)
def test_invalid_email_or_phone_gets_the_same_message_from_service_api_and_cli(
    crm_settings: Any,
    crm_pm: Any,
    _crm_template_dir: Path,
    crm_cli: Any,
    field: str,
    value: str,
) -> None:
    from crmcore.app import create_app
    from crmcore.services.users import create_user
    from crmcore.testing.databases import open_test_database
    from crmcore.testing.plugin import make_client, run_sync

    async def through_service_and_api() -> tuple[str, Any]:
        db = await open_test_database(crm_settings.database_url, crm_pm, _crm_template_dir)
        try:
            with pytest.raises(ValidationError) as caught:
                await create_contact({"first_name": "Maryam", field: value}, SYSTEM)
            app = create_app(crm_settings, crm_pm, manage_database=False)
            async with app.lifespan():
                user = await create_user(email="admin@example.com", password="x" * 12, role="admin")
                async with await make_client(app, user) as client:
                    response = await client.post(
                        "/api/v1/contacts", json={"first_name": "Maryam", field: value}
                    )
            return caught.value.message, response
        finally:
            await db.close()

    message, response = run_sync(through_service_and_api())
    assert message.startswith(f"{field}: ")
    assert response.status_code == 422
    assert response.json()["detail"] == message
    assert response.json()["errors"] == {field: message.removeprefix(f"{field}: ")}

    result = crm_cli("contacts", "add", "--first-name", "Maryam", f"--{field}", value)
    assert result.exit_code == 2
    assert message in result.output
    listed = crm_cli("contacts", "list", "--json")
    assert listed.exit_code == 0
    assert json.loads(listed.output) == []


async def test_contact_crud_over_http(crm_client: Any) -> None:
    created = await crm_client.post(
        "/api/v1/contacts",
        json={
            "first_name": "Maryam",
            "last_name": "Karimi",
            "emails": ["Maryam@Example.com"],
            "phone": "09121234567",
            "company": "Pars Trading",
            "tags": ["vip"],
        },
    )
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["email"] == "maryam@example.com"
    assert contact["phones"] == ["+989121234567"]
    assert contact["custom"] == {}
    url = f"/api/v1/contacts/{contact['id']}"

    shown = await crm_client.get(url)
    assert shown.json() == contact

    patched = await crm_client.patch(url, json={"stage": "customer", "title": "Buyer"})
    assert patched.status_code == 200
    assert patched.json()["stage"] == "customer"
    assert patched.json()["emails"] == ["maryam@example.com"]

    stages = await crm_client.get(f"{url}/stages")
    assert [s["to_stage"] for s in stages.json()] == ["lead", "customer"]

    listed = await crm_client.get("/api/v1/contacts", params={"q": "karimi"})
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()["items"]] == [contact["id"]]
    assert listed.json()["next"] is None

    assert (await crm_client.delete(url)).status_code == 204
    assert (await crm_client.get(url)).status_code == 404
    assert (await crm_client.patch(url, json={"title": "x"})).status_code == 404


async def test_list_filters_and_cursor_over_http(crm_client: Any) -> None:
    ids = []
    for n in range(5):
        response = await crm_client.post(
            "/api/v1/contacts",
            json={"first_name": f"P{n}", "stage": "customer" if n % 2 else "lead", "tags": ["t"]},
        )
        ids.append(response.json()["id"])
    first = (await crm_client.get("/api/v1/contacts", params={"limit": 2})).json()
    assert [c["id"] for c in first["items"]] == ids[::-1][:2]
    second = (
        await crm_client.get("/api/v1/contacts", params={"limit": 2, "cursor": first["next"]})
    ).json()
    assert [c["id"] for c in second["items"]] == ids[::-1][2:4]
    customers = (await crm_client.get("/api/v1/contacts", params={"stage": "customer"})).json()
    assert sorted(c["id"] for c in customers["items"]) == [ids[1], ids[3]]
    tree = {"and": [{"filter": "tag", "value": "t"}, {"not": {"filter": "stage", "value": "lead"}}]}
    filtered = await crm_client.get("/api/v1/contacts", params={"filters": json.dumps(tree)})
    assert sorted(c["id"] for c in filtered.json()["items"]) == [ids[1], ids[3]]
    mine = (await crm_client.get("/api/v1/contacts", params={"owner": "me"})).json()
    assert len(mine["items"]) == 5
    await crm_client.patch(f"/api/v1/contacts/{ids[0]}", json={"title": "Changed"})
    changed_at = (await crm_client.get(f"/api/v1/contacts/{ids[0]}")).json()["updated_at"]
    since = await crm_client.get("/api/v1/contacts", params={"updated_since": changed_at})
    assert [c["id"] for c in since.json()["items"]] == [ids[0]]
    bad = await crm_client.get("/api/v1/contacts", params={"cursor": "garbage"})
    assert bad.status_code == 422
    assert "cursor" in bad.json()["errors"]
    unknown = await crm_client.get("/api/v1/contacts", params={"filters": '{"filter": "nope"}'})
    assert unknown.status_code == 422
    assert "nope" in unknown.json()["detail"]
    names = {f["name"] for f in (await crm_client.get("/api/v1/contacts/filters")).json()}
    assert {"stage", "tag", "interacted_within_days", "custom_equals"} <= names


async def test_unknown_fields_and_wrong_types_are_refused(crm_client: Any) -> None:
    unknown = await crm_client.post("/api/v1/contacts", json={"first_name": "A", "nick": "x"})
    assert unknown.status_code == 400
    wrong = await crm_client.post("/api/v1/contacts", json={"first_name": "A", "stage": "vip"})
    assert wrong.status_code == 400
    assert await Contact.count() == 0


class Vetoing:
    @hookimpl
    async def validate_contact(self, data: dict[str, Any], existing: Any) -> None:
        if data["last_name"].lower() == "spam":
            raise ValidationError.for_field("last_name", "looks like spam; not stored")


async def test_a_plugin_veto_answers_422_with_its_message_and_stores_nothing(
    crm_client: Any, register_test_plugin: Any
) -> None:
    register_test_plugin(Vetoing(), "vetoing")
    response = await crm_client.post(
        "/api/v1/contacts", json={"first_name": "A", "last_name": "Spam"}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "last_name: looks like spam; not stored"
    assert response.json()["errors"] == {"last_name": "looks like spam; not stored"}
    assert await Contact.count() == 0
    assert await AuditLog.count().where(AuditLog.table_name == "contact") == 0


class Crashing:
    @hookimpl
    async def contact_saved(self, contact: Any, created: bool, changes: Any, actor: Any) -> None:
        raise ConnectionError("newsletter service unreachable")


async def test_a_crashing_after_commit_hook_keeps_the_write_over_http(
    crm_client: Any, register_test_plugin: Any
) -> None:
    register_test_plugin(Crashing(), "crashing")
    response = await crm_client.post("/api/v1/contacts", json={"first_name": "Kept"})
    assert response.status_code == 201
    assert await Contact.count() == 1


async def test_eight_concurrent_writers_never_hit_database_is_locked(
    crm_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def writer(n: int) -> list[int]:
        statuses = []
        for i in range(6):
            created = await crm_client.post(
                "/api/v1/contacts",
                json={"first_name": f"W{n}-{i}", "email": f"w{n}.{i}@example.com", "tags": ["c"]},
            )
            statuses.append(created.status_code)
            if created.status_code == 201:
                updated = await crm_client.patch(
                    f"/api/v1/contacts/{created.json()['id']}", json={"stage": "prospect"}
                )
                statuses.append(updated.status_code)
        return statuses

    results = await asyncio.gather(*(writer(n) for n in range(8)))
    statuses = [status for result in results for status in result]
    assert statuses.count(201) == 48, statuses
    assert statuses.count(200) == 48, statuses
    assert await Contact.count() == 48
    assert "database is locked" not in caplog.text


async def test_openapi_schema_shows_custom_fields_as_an_object(crm_client: Any) -> None:
    schema = (await crm_client.get("/schema/openapi.json")).json()
    for struct in ("ContactOut", "ContactIn", "CompanyOut"):
        custom = schema["components"]["schemas"][struct]["properties"]["custom"]
        # Optional fields are a oneOf of one schema (absent when the reader may not see it).
        assert [s["type"] for s in custom.get("oneOf", [custom])] == ["object"]
        assert "/api/v1/custom-fields" in custom["description"]
    paths = schema["paths"]
    for path in ("/api/v1/contacts", "/api/v1/companies", "/api/v1/tags", "/api/v1/custom-fields"):
        assert path in paths, sorted(paths)


async def test_anonymous_requests_are_refused(crm_anon_client: Any) -> None:
    assert (await crm_anon_client.get("/api/v1/contacts")).status_code == 401
