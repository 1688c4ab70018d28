"""Duplicate detection: shared emails and phones, similar names within one company."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rapidfuzz import fuzz

from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact
from crmcore.services.duplicates import find_duplicate_pairs, find_duplicates_for, similar_names
from crmcore.services.imports import get_import, run_import

pytestmark = pytest.mark.anyio


async def add(**data: Any) -> int:
    return (await create_contact(data, SYSTEM))["id"]


async def test_shared_email_or_phone_make_a_pair_scoring_100(crm_db: Any) -> None:
    a = await add(first_name="Ali", email="ali@example.com")
    b = await add(first_name="A.", last_name="R", emails=["other@example.com", "ALI@example.com"])
    c = await add(first_name="Sara", phone="0912 123 4567")
    d = await add(first_name="Someone", phone="+989121234567")
    await add(first_name="Alone", email="alone@example.com", phone="09350000000")
    pairs = await find_duplicate_pairs()
    assert [(p.contact_id, p.other_id, p.score) for p in pairs] == [(a, b, 100), (c, d, 100)]
    assert pairs[0].reasons == ["same email ali@example.com"]
    assert pairs[1].reasons == ["same phone +989121234567"]
    assert all(p.exact for p in pairs)


async def test_similar_names_match_only_within_one_company(crm_db: Any) -> None:
    a = await add(first_name="Ali", last_name="Rezaei", company="Pars")
    b = await add(first_name="Rezaei", last_name="Ali", company="pars")
    c = await add(first_name="علی", last_name="رضایی", company="Pars")
    d = await add(first_name="رضايي", last_name="علي", company="Pars")  # Arabic letters
    await add(first_name="Ali", last_name="Rezaei", company="Other Co")
    await add(first_name="Sara", last_name="Ahmadi", company="Pars")
    pairs = await find_duplicate_pairs()
    assert {(p.contact_id, p.other_id) for p in pairs} == {(a, b), (c, d)}
    assert all(p.score == 100 and not p.exact for p in pairs)
    assert pairs[0].reasons == ["similar names at Pars"]


def test_name_similarity_threshold() -> None:
    names = ["mohammad rezaei", "mohamad rezaei", "rezaei mohammad", "mohammad rezaie", "ali"]
    people = list(enumerate(names))
    found = {(a, b): s for a, b, s in similar_names(people)}
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            score = fuzz.token_sort_ratio(names[a], names[b])
            assert ((a, b) in found) == (score >= 90), (names[a], names[b], score)
    assert found[(0, 2)] == 100 and {(0, 1), (0, 3)} <= set(found)
    assert {(a, b) for a, b, _s in similar_names(people, min_score=100)} == {(0, 2)}


async def test_candidates_for_a_new_contact(crm_db: Any) -> None:
    a = await add(first_name="Ali", last_name="Rezaei", email="ali@example.com", company="Pars")
    b = await add(first_name="Sara", phone="09121234567", company="Pars")
    company = (await create_contact({"first_name": "x", "company": "Pars"}, SYSTEM))["company_id"]
    found = await find_duplicates_for(
        {
            "first_name": "Rezaei",
            "last_name": "Ali",
            "emails": ["other@example.com"],
            "phones": ["+989121234567"],
            "company_id": company,
        }
    )
    assert [(f["contact_id"], f["score"]) for f in found] == [(a, 100), (b, 100)]
    assert found[0]["reasons"] == ["similar name at the same company"]
    assert found[1]["reasons"] == ["same phone +989121234567"]
    assert await find_duplicates_for({"email": "ali@example.com"}, exclude_id=a) == []


async def test_duplicates_api_lists_pairs_with_contacts(crm_client: Any) -> None:
    a = await add(first_name="Ali", email="ali@example.com", company="Pars")
    b = await add(first_name="Ali", last_name="2", email="ali@example.com")
    response = await crm_client.get("/api/v1/contacts/duplicates")
    assert response.status_code == 200, response.text
    [pair] = response.json()["items"]
    assert (pair["contact"]["id"], pair["other"]["id"], pair["score"]) == (a, b, 100)
    assert pair["contact"]["company_name"] == "Pars"
    assert pair["other"]["name"] == "Ali 2"
    assert (await crm_client.get("/api/v1/contacts/duplicates?min_score=10")).status_code == 422


async def test_an_import_records_rows_that_look_like_existing_contacts(
    crm_db: Any, tmp_path: Path
) -> None:
    existing = await add(first_name="Ali", email="ali@example.com")
    path = tmp_path / "dup.csv"
    path.write_text(
        "first_name,email,phone\n"
        "Ali,ali@example.com,\n"
        "Sara,sara@example.com,09121234567\n"
        "Sara,sara2@example.com,09121234567\n"
    )
    result = await run_import(path, actor=SYSTEM)
    assert (result.created, result.duplicates) == (3, 2)
    record = await get_import(result.import_id, SYSTEM)
    assert record["duplicates"] == [
        {"row": 2, "contact_id": existing, "reason": "same email ali@example.com"},
        {"row": 4, "other_row": 3, "reason": "same phone +989121234567"},
    ]


def test_cli_dedupe_lists_then_merges_shared_addresses(crm_cli: Any, tmp_path: Path) -> None:
    assert crm_cli("db", "migrate").exit_code == 0
    marker = f"dedupe{tmp_path.name.replace('_', '')[-8:]}"
    source = tmp_path / "people.csv"
    source.write_text(
        "first_name,email,phone\n"
        f"One,{marker}@example.com,\n"
        f"Two,{marker}@example.com,09121112233\n"
        f"Three,{marker}-3@example.com,09121112233\n"
    )
    assert crm_cli("contacts", "import", str(source)).exit_code == 0
    listed = crm_cli("contacts", "dedupe", "--dry-run", "--json")
    assert listed.exit_code == 0, listed.output
    ours = [p for p in json.loads(listed.output) if any(marker in r for r in p["reasons"])]
    assert len(ours) == 1  # One/Two share the email; Two/Three the phone (another reason)
    merged = crm_cli("contacts", "dedupe", "--yes", "--json")
    assert merged.exit_code == 0, merged.output
    survivors = {m["survivor_id"] for m in json.loads(merged.output)["merged"]}
    found = json.loads(crm_cli("contacts", "search", marker, "--json").output)
    assert len(found) == 1 and found[0]["id"] in survivors
    assert sorted(found[0]["emails"]) == [f"{marker}-3@example.com", f"{marker}@example.com"]
