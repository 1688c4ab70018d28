"""Companies: the service and the API, and what a company change does to its contacts."""

from __future__ import annotations

from typing import Any

import pytest

from crmcore.errors import NotFound, ValidationError
from crmcore.services.actor import SYSTEM
from crmcore.services.audit import list_audit
from crmcore.services.companies import (
    create_company,
    delete_company,
    get_company,
    get_or_create_company,
    list_companies,
    update_company,
)
from crmcore.services.contacts import create_contact, get_contact, list_contacts

pytestmark = pytest.mark.anyio


async def test_create_normalises_the_domain_and_keeps_tags_and_custom(crm_db: Any) -> None:
    company = await create_company(
        {"name": "Pars Trading", "domain": "https://www.Pars-Trading.ir/about", "tags": ["b2b"]},
        SYSTEM,
    )
    assert company["domain"] == "pars-trading.ir"
    assert company["tags"] == ["b2b"]
    assert company["custom"] == {}
    assert await get_company(company["id"], SYSTEM) == company
    with pytest.raises(ValidationError) as caught:
        await create_company({"name": "X", "domain": "not a domain"}, SYSTEM)
    assert "domain" in caught.value.errors
    with pytest.raises(ValidationError):
        await create_company({"industry": "tea"}, SYSTEM)


async def test_get_or_create_finds_by_domain_then_by_name(crm_db: Any) -> None:
    made = await get_or_create_company("Kish Air", "kishair.ir", SYSTEM)
    assert (await get_or_create_company("Other name", "www.kishair.ir", SYSTEM))["id"] == made["id"]
    assert (await get_or_create_company("KISH AIR", None, SYSTEM))["id"] == made["id"]
    assert (await get_or_create_company("Mahan", None, SYSTEM))["id"] != made["id"]
    page = await list_companies(SYSTEM)
    assert [c["name"] for c in page.items] == ["Mahan", "Kish Air"]


async def test_renaming_a_company_updates_its_contacts_search(crm_db: Any) -> None:
    contact = await create_contact({"first_name": "Reza", "company": "Kish Air"}, SYSTEM)
    await update_company(contact["company_id"], {"name": "Qeshm Air"}, SYSTEM)
    assert [c["id"] for c in (await list_contacts(SYSTEM, q="qeshm")).items] == [contact["id"]]
    assert (await list_contacts(SYSTEM, q="kish")).items == []
    assert (await get_contact(contact["id"], SYSTEM))["company_name"] == "Qeshm Air"
    audit = await list_audit(SYSTEM, table="company", record_id=contact["company_id"])
    assert audit[0]["changes"] == {"name": ["Kish Air", "Qeshm Air"]}


async def test_deleting_a_company_keeps_its_contacts(crm_db: Any) -> None:
    contact = await create_contact({"first_name": "Reza", "company": "Kish Air"}, SYSTEM)
    await delete_company(contact["company_id"], SYSTEM)
    kept = await get_contact(contact["id"], SYSTEM)
    assert kept["company_id"] is None and kept["company_name"] is None
    assert (await list_contacts(SYSTEM, q="kish")).items == []
    with pytest.raises(NotFound):
        await get_company(contact["company_id"], SYSTEM)


async def test_list_companies_searches_and_pages(crm_db: Any) -> None:
    for name in ("Alborz Tea", "Caspian Caviar", "Alvand Carpets", "Zagros Saffron"):
        await create_company({"name": name}, SYSTEM)
    assert [c["name"] for c in (await list_companies(SYSTEM, q="al")).items] == [
        "Alvand Carpets",
        "Alborz Tea",
    ]
    first = await list_companies(SYSTEM, limit=3)
    second = await list_companies(SYSTEM, cursor=first.next, limit=3)
    assert [c["name"] for c in first.items + second.items] == [
        "Zagros Saffron",
        "Alvand Carpets",
        "Caspian Caviar",
        "Alborz Tea",
    ]
    assert second.next is None
    assert (await list_companies(SYSTEM, q="50%_off")).items == []


async def test_companies_over_http(crm_client: Any) -> None:
    created = await crm_client.post("/api/v1/companies", json={"name": "Pars", "city": "Tehran"})
    assert created.status_code == 201, created.text
    url = f"/api/v1/companies/{created.json()['id']}"
    patched = await crm_client.patch(url, json={"industry": "Trading"})
    assert patched.json()["industry"] == "Trading"
    assert patched.json()["city"] == "Tehran"
    listed = await crm_client.get("/api/v1/companies", params={"q": "par"})
    assert [c["id"] for c in listed.json()["items"]] == [created.json()["id"]]
    contact = await crm_client.post(
        "/api/v1/contacts", json={"first_name": "A", "company_id": created.json()["id"]}
    )
    assert contact.json()["company_name"] == "Pars"
    missing = await crm_client.post("/api/v1/contacts", json={"first_name": "A", "company_id": 999})
    assert missing.status_code == 422
    assert (await crm_client.delete(url)).status_code == 204
    assert (await crm_client.get(url)).status_code == 404
