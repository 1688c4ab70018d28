"""Tags: bulk tagging, removal, renaming, and the tags API."""

from __future__ import annotations

from typing import Any

import pytest

from crmcore.errors import Conflict, NotFound, ValidationError
from crmcore.hookspecs import hookimpl
from crmcore.services.actor import SYSTEM
from crmcore.services.audit import list_audit
from crmcore.services.contacts import create_contact, get_contact
from crmcore.services.tags import (
    add_tags,
    create_tag,
    delete_tag,
    list_tags,
    remove_tag,
    update_tag,
)

pytestmark = pytest.mark.anyio


class TagListener:
    def __init__(self) -> None:
        self.changes: list[tuple[int, Any]] = []

    @hookimpl
    def contact_saved(self, contact: Any, created: bool, changes: Any, actor: Any) -> None:
        if not created:
            self.changes.append((contact["id"], changes))


async def test_bulk_tagging_adds_once_audits_and_tells_plugins(
    crm_db: Any, register_test_plugin: Any
) -> None:
    listener = TagListener()
    register_test_plugin(listener, "tag_listener")
    a = await create_contact({"first_name": "A", "tags": ["VIP"]}, SYSTEM)
    b = await create_contact({"first_name": "B"}, SYSTEM)
    changed = await add_tags([a["id"], b["id"]], ["vip", "Fair 2025"], SYSTEM)
    assert changed == 2
    assert (await get_contact(a["id"], SYSTEM))["tags"] == ["Fair 2025", "VIP"]
    assert (await get_contact(b["id"], SYSTEM))["tags"] == ["Fair 2025", "VIP"]
    assert await add_tags([a["id"], b["id"]], ["VIP"], SYSTEM) == 0
    audit = await list_audit(SYSTEM, table="contact", record_id=b["id"])
    assert audit[0]["changes"] == {"tags": [[], ["Fair 2025", "VIP"]]}
    assert listener.changes == [
        (a["id"], {"tags": (["VIP"], ["Fair 2025", "VIP"])}),
        (b["id"], {"tags": ([], ["Fair 2025", "VIP"])}),
    ]
    assert await remove_tag([a["id"], b["id"]], "fair 2025", SYSTEM) == 2
    counts = {t["name"]: t["contact_count"] for t in await list_tags()}
    assert counts == {"Fair 2025": 0, "VIP": 2}
    with pytest.raises(NotFound):
        await add_tags([a["id"], 999_999], ["x"], SYSTEM)
    with pytest.raises(ValidationError):
        await add_tags([a["id"]], ["  "], SYSTEM)


async def test_tag_names_are_unique_ignoring_case(crm_db: Any) -> None:
    vip = await create_tag("VIP", SYSTEM, color="#d4a017")
    with pytest.raises(Conflict):
        await create_tag("vip", SYSTEM)
    other = await create_tag("Lead magnet", SYSTEM)
    with pytest.raises(Conflict):
        await update_tag(other["id"], {"name": "Vip"}, SYSTEM)
    renamed = await update_tag(vip["id"], {"name": "Gold"}, SYSTEM)
    assert renamed["name"] == "Gold" and renamed["color"] == "#d4a017"
    await delete_tag(other["id"], SYSTEM)
    assert [t["name"] for t in await list_tags()] == ["Gold"]


async def test_tags_over_http(crm_client: Any) -> None:
    contacts = [
        (await crm_client.post("/api/v1/contacts", json={"first_name": f"T{n}"})).json()["id"]
        for n in range(3)
    ]
    created = await crm_client.post("/api/v1/tags", json={"name": "Nowruz"})
    assert created.status_code == 201
    applied = await crm_client.post(
        "/api/v1/tags/apply", json={"contact_ids": contacts, "tags": ["Nowruz", "Yalda"]}
    )
    assert applied.json() == {"changed": 3}
    listed = {t["name"]: t["contact_count"] for t in (await crm_client.get("/api/v1/tags")).json()}
    assert listed == {"Nowruz": 3, "Yalda": 3}
    removed = await crm_client.post(
        "/api/v1/tags/unapply", json={"contact_ids": contacts[:1], "tag": "yalda"}
    )
    assert removed.json() == {"changed": 1}
    tagged = await crm_client.get("/api/v1/contacts", params={"tag": "yalda"})
    assert sorted(c["id"] for c in tagged.json()["items"]) == sorted(contacts[1:])
    url = f"/api/v1/tags/{created.json()['id']}"
    assert (await crm_client.patch(url, json={"color": "green"})).json()["color"] == "green"
    duplicate = await crm_client.post("/api/v1/tags", json={"name": "NOWRUZ"})
    assert duplicate.status_code == 409
    assert (await crm_client.delete(url)).status_code == 204
    assert (await crm_client.get(url)).status_code == 404
