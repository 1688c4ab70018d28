"""Full-text search over contacts, on SQLite FTS5 and PostgreSQL tsvector alike."""

from __future__ import annotations

from typing import Any

import pytest

from crmcore.services.actor import SYSTEM
from crmcore.services.companies import update_company
from crmcore.services.contacts import (
    create_contact,
    delete_contact,
    list_contacts,
    refresh_search_text,
    update_contact,
)
from crmcore.services.search import contact_search_text, parse_query
from crmcore.services.tags import add_tags, update_tag
from crmcore.tables import Interaction

pytestmark = pytest.mark.anyio


async def found(q: str) -> list[str]:
    page = await list_contacts(SYSTEM, q=q, limit=100)
    return sorted(c["name"] for c in page.items)


@pytest.fixture
async def people(crm_db: Any) -> dict[str, dict[str, Any]]:
    return {
        "mohammad": await create_contact(
            {
                "first_name": "محمد",
                "last_name": "رضایی",
                "email": "m.rezaei@example.com",
                "phone": "09121234567",
                "company": "شرکت پارس",
                "tags": ["مشتری ویژه"],
            },
            SYSTEM,
        ),
        "mahmoud": await create_contact(
            {"first_name": "محمود", "last_name": "كريمي", "phone": "+98 935 111 2233"}, SYSTEM
        ),
        "ali": await create_contact(
            {
                "first_name": "Ali",
                "last_name": "Alavi",
                "email": "ali.alavi@example.org",
                "company": "Kish Air",
                "city": "Shiraz",
            },
            SYSTEM,
        ),
        "jose": await create_contact(
            {"first_name": "José", "last_name": "Núñez", "email": "jose@example.es"}, SYSTEM
        ),
    }


async def test_a_persian_name_fragment_finds_the_full_name(people: Any) -> None:
    assert await found("محم") == ["محمد رضایی", "محمود كريمي"]
    assert await found("محمد") == ["محمد رضایی"]
    assert await found("محمد رضا") == ["محمد رضایی"]


async def test_arabic_letter_variants_match_their_persian_spelling(people: Any) -> None:
    # Stored with Arabic ك and ي, searched with Persian ک and ی, and the other way round.
    assert await found("کریمی") == ["محمود كريمي"]
    assert await found("رضايي") == ["محمد رضایی"]


async def test_an_email_finds_its_contact_exactly(people: Any) -> None:
    assert await found("m.rezaei@example.com") == ["محمد رضایی"]
    assert await found("ALI.ALAVI@EXAMPLE.ORG") == ["Ali Alavi"]
    assert await found("nobody@example.com") == []


@pytest.mark.parametrize(
    "typed",
    ["09121234567", "+98 912 123 4567", "+989121234567", "0098 912 123 45 67", "9121234567"],
)
async def test_a_phone_in_local_or_international_format_finds_the_contact(
    people: Any, typed: str
) -> None:
    assert await found(typed) == ["محمد رضایی"]


async def test_the_start_of_a_phone_number_finds_it(people: Any) -> None:
    assert await found("0912123") == ["محمد رضایی"]
    assert await found("۰۹۳۵") == ["محمود كريمي"]


async def test_company_tags_city_and_accents_are_searchable(people: Any) -> None:
    assert await found("پارس") == ["محمد رضایی"]
    assert await found("ویژه") == ["محمد رضایی"]
    assert await found("kish") == ["Ali Alavi"]
    assert await found("shiraz") == ["Ali Alavi"]
    assert await found("nunez") == ["José Núñez"]
    assert await found("Núñ") == ["José Núñez"]


async def test_search_follows_every_write(people: Any) -> None:
    ali = people["ali"]
    await update_contact(
        ali["id"], {"last_name": "Hosseini", "email": "ali@hosseini.example"}, SYSTEM
    )
    assert await found("alavi") == []
    assert await found("hosseini") == ["Ali Hosseini"]
    await update_company(ali["company_id"], {"name": "Qeshm Air"}, SYSTEM)
    assert await found("kish") == []
    assert await found("qeshm") == ["Ali Hosseini"]
    await add_tags([ali["id"]], ["golfer"], SYSTEM)
    assert await found("golf") == ["Ali Hosseini"]
    tags = await list_contacts(SYSTEM, tag="golfer")
    assert [c["id"] for c in tags.items] == [ali["id"]]
    from crmcore.services.tags import list_tags

    golfer = next(t for t in await list_tags() if t["name"] == "golfer")
    await update_tag(golfer["id"], {"name": "sailor"}, SYSTEM)
    assert await found("golf") == []
    assert await found("sailor") == ["Ali Hosseini"]
    await delete_contact(ali["id"], SYSTEM)
    assert await found("hosseini") == []


async def test_notes_become_searchable_when_the_contact_is_refreshed(people: Any) -> None:
    contact = people["jose"]
    await Interaction.insert(
        Interaction(contact=contact["id"], channel="note", subject="", body="Prefers WhatsApp")
    )
    await refresh_search_text([contact["id"]])
    assert await found("whatsapp") == ["José Núñez"]


async def test_search_combines_with_other_filters(people: Any) -> None:
    page = await list_contacts(SYSTEM, q="محم", company="شرکت پارس")
    assert [c["name"] for c in page.items] == ["محمد رضایی"]
    assert (await list_contacts(SYSTEM, q="   ")).items  # blank search lists everyone
    assert (await list_contacts(SYSTEM, q="!!!")).items == []


def test_search_text_and_queries_cut_words_the_same_way() -> None:
    text = contact_search_text(
        first_name="زهرا\u200cسادات", last_name="مُحَمَّدي", emails=["Z.S@Example.com"]
    )
    assert text == "زهرا سادات محمدی z s example com"
    terms = parse_query("زهرا‌سا", "IR")
    assert [t.words for t in terms] == [("زهرا",), ("سا",)]
    assert parse_query("+98 912 123 4567", "IR")[0].words == ("989121234567",)


async def test_search_results_page_with_the_cursor(crm_db: Any) -> None:
    from crmcore.services.contacts_bulk import bulk_insert_contacts

    ids = await bulk_insert_contacts(
        [{"first_name": "آرش", "last_name": f"N{n}", "stage": "customer"} for n in range(7)]
        + [{"first_name": "Other", "last_name": f"N{n}"} for n in range(3)],
        SYSTEM,
    )
    seen: list[int] = []
    cursor = None
    while True:
        page = await list_contacts(SYSTEM, q="آر", stage="customer", cursor=cursor, limit=3)
        seen.extend(c["id"] for c in page.items)
        if page.next is None:
            break
        cursor = page.next
    assert seen == sorted(ids[:7], reverse=True)


async def test_the_visible_fields_recheck_decides_like_the_index(people: Any) -> None:
    from crmcore.services.search import text_matches
    from crmcore.services.visible_search import contact_text

    everyone = (await list_contacts(SYSTEM, limit=100)).items
    queries = [
        "محم",
        "محمد رضا",
        "ali@",
        "m.rezaei@example.com",
        "rezaei@example",
        "09121234567",
        "+98 912 123 4567",
        "0912",
        "kish air",
        "air kish",
        "núñez",
        "shiraz ali",
        "nobody",
    ]
    for q in queries:
        by_index = {c["id"] for c in (await list_contacts(SYSTEM, q=q, limit=100)).items}
        terms = parse_query(q, "IR")
        by_text = {c["id"] for c in everyone if text_matches(terms, contact_text(c))}
        assert by_text == by_index, q
