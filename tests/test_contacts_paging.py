"""Keyset pagination over many contacts, and the bulk path that loads them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from crmcore.errors import ValidationError
from crmcore.services.actor import SYSTEM
from crmcore.services.audit import list_audit
from crmcore.services.contacts import create_contact, get_contact, list_contacts
from crmcore.services.contacts_bulk import bulk_insert_contacts
from crmcore.tables import Contact, ContactPoint, StageChange

pytestmark = pytest.mark.anyio


def generated(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "first_name": f"Person{n}",
            "last_name": "Bulk",
            "email": f"person{n}@bulk.example",
            "phone": f"0912{n:07d}",
            "stage": ("lead", "prospect", "customer")[n % 3],
        }
        for n in range(start, start + count)
    ]


async def test_paging_through_10000_contacts_sees_each_once_while_others_are_added(
    crm_db: Any,
) -> None:
    existing = set(await bulk_insert_contacts(generated(10_000), SYSTEM))
    assert len(existing) == 10_000
    added: list[int] = []
    paging_done = asyncio.Event()

    async def keep_adding() -> None:
        n = 0
        while not paging_done.is_set():
            contact = await create_contact({"first_name": f"Late{n}"}, SYSTEM)
            added.append(contact["id"])
            n += 1
            await asyncio.sleep(0)

    async def page_through() -> list[int]:
        seen: list[int] = []
        cursor = None
        try:
            while True:
                page = await list_contacts(SYSTEM, cursor=cursor, limit=100)
                seen.extend(c["id"] for c in page.items)
                if page.next is None:
                    return seen
                cursor = page.next
                await asyncio.sleep(0)
        finally:
            paging_done.set()

    seen, _ = await asyncio.gather(page_through(), keep_adding())
    assert added, "no contact was inserted while paging"
    assert len(seen) == len(set(seen)), "a contact appeared twice"
    assert existing <= set(seen), "a pre-existing contact was skipped"
    assert seen == sorted(seen, reverse=True)


async def test_bulk_insert_applies_the_same_rules_as_create(crm_db: Any) -> None:
    ids = await bulk_insert_contacts(
        [
            {
                "first_name": "Sima",
                "emails": ["Sima@Example.COM"],
                "phone": "0912 765 4321",
                "company": "Pars Trading",
                "tags": ["vip"],
            },
            {"first_name": "Omid", "company": "pars trading", "stage": "customer"},
        ],
        SYSTEM,
    )
    sima = await get_contact(ids[0], SYSTEM)
    omid = await get_contact(ids[1], SYSTEM)
    assert sima["emails"] == ["sima@example.com"]
    assert sima["phone"] == "+989127654321"
    assert sima["tags"] == ["vip"]
    assert sima["company_id"] == omid["company_id"]
    assert omid["stage"] == "customer"
    assert await StageChange.count() == 2
    assert (await list_contacts(SYSTEM, q="09127654321")).items[0]["id"] == ids[0]
    audit = await list_audit(SYSTEM, table="contact", record_id=ids[0])
    assert audit[0]["changes"]["emails"] == [None, ["sima@example.com"]]


async def test_bulk_insert_names_the_refused_row_and_stores_nothing(crm_db: Any) -> None:
    rows = generated(3)
    rows[1]["email"] = "broken@"
    with pytest.raises(ValidationError, match=r"^row 2: email: "):
        await bulk_insert_contacts(rows, SYSTEM)
    assert await Contact.count() == 0
    assert await ContactPoint.count() == 0


async def test_a_cursor_from_elsewhere_is_refused(crm_db: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        await list_contacts(SYSTEM, cursor="not-a-cursor")
    assert "cursor" in caught.value.errors
    with pytest.raises(ValidationError):
        await list_contacts(SYSTEM, limit=0)
