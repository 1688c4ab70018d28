"""Custom fields: definitions, validation on every write, the API, and filtering by them."""

from __future__ import annotations

from typing import Any

import pytest

from crmcore.errors import Conflict, PermissionDenied, ValidationError
from crmcore.services.actor import SYSTEM, Actor
from crmcore.services.contacts import create_contact, get_contact, list_contacts, update_contact
from crmcore.services.custom_fields import (
    define_field,
    delete_field,
    list_fields,
    update_field,
    validate_custom,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fields(crm_db: Any) -> list[dict[str, Any]]:
    return [
        await define_field("contact", "employees", "Employees", "number", actor=SYSTEM),
        await define_field("contact", "renewal", "Renewal date", "date", actor=SYSTEM),
        await define_field("contact", "newsletter", "Newsletter", "bool", actor=SYSTEM),
        await define_field(
            "contact", "segment", "Segment", "choice", True, ["SMB", "Enterprise"], actor=SYSTEM
        ),
        await define_field(
            "contact",
            "interests",
            "Interests",
            "multi_choice",
            False,
            ["Tea", "Saffron", "Carpets"],
            actor=SYSTEM,
        ),  # fmt: skip
        await define_field("contact", "notes", "Notes", "text", actor=SYSTEM),
    ]


async def test_values_are_converted_to_their_stored_form(fields: Any) -> None:
    cleaned = await validate_custom(
        "contact",
        {
            "employees": "1,200",
            "renewal": "2025-03-21",
            "newsletter": "yes",
            "segment": "enterprise",
            "interests": "saffron, Tea",
            "notes": "  met at the fair ",
        },
        partial=False,
    )
    assert cleaned == {
        "employees": 1200,
        "renewal": "2025-03-21",
        "newsletter": True,
        "segment": "Enterprise",
        "interests": ["Saffron", "Tea"],
        "notes": "met at the fair",
    }


@pytest.mark.parametrize(
    ("values", "field", "fragment"),
    [
        ({"segment": "SMB", "employees": "many"}, "custom.employees", "is not a number"),
        ({"segment": "SMB", "renewal": "21/03/2025"}, "custom.renewal", "YYYY-MM-DD"),
        ({"segment": "SMB", "newsletter": "maybe"}, "custom.newsletter", "true or false"),
        ({"segment": "Startup"}, "custom.segment", "is not one of: SMB, Enterprise"),
        ({"segment": "SMB", "interests": ["Oil"]}, "custom.interests", "is not one of"),
        ({"segment": "SMB", "shoe_size": 44}, "custom.shoe_size", "no contact custom field"),
        ({}, "custom.segment", "Segment is required"),
    ],
)
async def test_invalid_values_are_refused_with_the_field_named(
    fields: Any, values: dict[str, Any], field: str, fragment: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        await create_contact({"first_name": "A", "custom": values}, SYSTEM)
    assert fragment in caught.value.errors[field]
    assert field in caught.value.message


async def test_updates_change_only_the_keys_given(fields: Any) -> None:
    contact = await create_contact(
        {"first_name": "A", "custom": {"segment": "SMB", "employees": 12}}, SYSTEM
    )
    updated = await update_contact(
        contact["id"], {"custom": {"employees": None, "newsletter": False}}, SYSTEM
    )
    assert updated["custom"] == {"segment": "SMB", "newsletter": False}
    untouched = await update_contact(contact["id"], {"title": "CEO"}, SYSTEM)
    assert untouched["custom"] == updated["custom"]
    with pytest.raises(ValidationError, match="Segment is required"):
        await update_contact(contact["id"], {"custom": {"segment": ""}}, SYSTEM)


async def test_filters_match_custom_values_of_every_type(fields: Any) -> None:
    rich = await create_contact(
        {
            "first_name": "Rich",
            "custom": {"segment": "Enterprise", "employees": 500, "newsletter": True,
                       "interests": ["Carpets", "Tea"], "notes": "Wants a Tabriz carpet"},
        },
        SYSTEM,
    )  # fmt: skip
    small = await create_contact(
        {"first_name": "Small", "custom": {"segment": "SMB", "employees": 5}}, SYSTEM
    )

    async def ids(tree: dict[str, Any]) -> list[int]:
        return sorted(c["id"] for c in (await list_contacts(SYSTEM, filters=tree)).items)

    assert await ids({"filter": "custom_equals", "key": "segment", "value": "SMB"}) == [small["id"]]
    assert await ids({"filter": "custom_equals", "key": "employees", "value": "500.0"}) == [
        rich["id"]
    ]
    assert await ids({"filter": "custom_equals", "key": "newsletter", "value": "True"}) == [
        rich["id"]
    ]
    assert await ids({"filter": "custom_equals", "key": "interests", "value": "Tea"}) == [
        rich["id"]
    ]
    assert await ids({"filter": "custom_contains", "key": "notes", "value": "TABRIZ"}) == [
        rich["id"]
    ]
    assert await ids({"filter": "custom_contains", "key": "interests", "value": "carpets"}) == [
        rich["id"]
    ]
    assert await ids({"not": {"filter": "custom_contains", "key": "notes", "value": "x"}}) == [
        rich["id"],
        small["id"],
    ]


async def test_definitions_are_unique_and_managed_by_admins(fields: Any) -> None:
    with pytest.raises(Conflict):
        await define_field("contact", "segment", "Again", "text", actor=SYSTEM)
    with pytest.raises(ValidationError):
        await define_field("contact", "Bad Key", "x", "text", actor=SYSTEM)
    with pytest.raises(ValidationError):
        await define_field("contact", "kind", "Kind", "choice", actor=SYSTEM)
    agent = Actor(user_id=None, label="agent", permissions=frozenset({"contacts.write"}))
    with pytest.raises(PermissionDenied):
        await define_field("contact", "x", "X", "text", actor=agent)
    assert [f["key"] for f in await list_fields("contact")][:2] == ["employees", "renewal"]
    segment = fields[3]
    changed = await update_field(segment["id"], {"choices": ["SMB", "Enterprise", "Gov"]}, SYSTEM)
    assert changed["choices"] == ["SMB", "Enterprise", "Gov"]


async def test_deleting_a_definition_removes_its_values(fields: Any) -> None:
    contact = await create_contact(
        {"first_name": "A", "custom": {"segment": "SMB", "notes": "gone soon"}}, SYSTEM
    )
    await delete_field(fields[5]["id"], SYSTEM)
    assert (await get_contact(contact["id"], SYSTEM))["custom"] == {"segment": "SMB"}


async def test_custom_fields_over_http(crm_client: Any) -> None:
    created = await crm_client.post(
        "/api/v1/custom-fields",
        json={"entity": "contact", "key": "vat_id", "label": "VAT id", "field_type": "text"},
    )
    assert created.status_code == 201, created.text
    field = created.json()
    listed = await crm_client.get("/api/v1/custom-fields", params={"entity": "contact"})
    assert [f["key"] for f in listed.json()] == ["vat_id"]
    contact = await crm_client.post(
        "/api/v1/contacts", json={"first_name": "A", "custom": {"vat_id": "IR123"}}
    )
    assert contact.json()["custom"] == {"vat_id": "IR123"}
    refused = await crm_client.post(
        "/api/v1/contacts", json={"first_name": "A", "custom": {"vat": "IR123"}}
    )
    assert refused.status_code == 422
    assert "custom.vat" in refused.json()["errors"]
    patched = await crm_client.patch(
        f"/api/v1/custom-fields/{field['id']}", json={"required": True}
    )
    assert patched.json()["required"] is True
    duplicate = await crm_client.post(
        "/api/v1/custom-fields",
        json={"entity": "contact", "key": "vat_id", "field_type": "number"},
    )
    assert duplicate.status_code == 409
    assert (await crm_client.delete(f"/api/v1/custom-fields/{field['id']}")).status_code == 204
