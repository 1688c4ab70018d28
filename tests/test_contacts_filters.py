"""Contact filters: core filters, nested trees, interaction-based filters, plugin filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from filter_support import name_starts_filter

from crmcore.errors import ValidationError
from crmcore.hookspecs import hookimpl
from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact, list_contacts
from crmcore.services.filters import ContactFilter, compile_filter_tree, registered_filters
from crmcore.services.interactions import log_interaction

pytestmark = pytest.mark.anyio


async def ids(tree: dict[str, Any]) -> set[str]:
    page = await list_contacts(SYSTEM, filters=tree, limit=500)
    return {c["first_name"] for c in page.items}


@pytest.fixture
async def crowd(crm_db: Any) -> dict[str, dict[str, Any]]:
    people = {
        "buyer": await create_contact(
            {"first_name": "buyer", "stage": "customer", "city": "Tehran", "country": "IR",
             "email": "b@example.com", "tags": ["vip"], "source": "Fair"},
            SYSTEM,
        ),
        "caller": await create_contact(
            {"first_name": "caller", "stage": "prospect", "city": "tehran", "phone": "09121112233",
             "company": "Pars"},
            SYSTEM,
        ),
        "quiet": await create_contact(
            {"first_name": "quiet", "stage": "lead", "city": "Shiraz", "country": "IR"}, SYSTEM
        ),
    }  # fmt: skip
    now = datetime.now(UTC)
    await log_interaction(
        {"contact_id": people["buyer"]["id"], "channel": "purchase", "value": "100",
         "currency": "IRR", "occurred_at": now - timedelta(days=3)},
        SYSTEM,
    )  # fmt: skip
    await log_interaction(
        {"contact_id": people["caller"]["id"], "channel": "phone",
         "occurred_at": now - timedelta(days=40)},
        SYSTEM,
    )  # fmt: skip
    return people


async def test_core_filters(crowd: Any) -> None:
    assert await ids({"filter": "stage", "value": "customer"}) == {"buyer"}
    assert await ids({"filter": "tag", "value": "VIP"}) == {"buyer"}
    assert await ids({"filter": "city", "value": "TEHRAN"}) == {"buyer", "caller"}
    assert await ids({"filter": "country", "value": "ir"}) == {"buyer", "quiet"}
    assert await ids({"filter": "source", "value": "fair"}) == {"buyer"}
    assert await ids({"filter": "company", "value": "pars"}) == {"caller"}
    assert await ids({"filter": "has_email"}) == {"buyer"}
    assert await ids({"filter": "has_phone"}) == {"caller"}
    assert await ids({"filter": "owner", "value": "none"}) == {"buyer", "caller", "quiet"}
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert await ids({"filter": "created_before", "value": tomorrow}) == {
        "buyer",
        "caller",
        "quiet",
    }
    assert await ids({"filter": "created_after", "value": tomorrow}) == set()


async def test_interaction_filters(crowd: Any) -> None:
    assert await ids({"filter": "purchased_within_days", "days": 7}) == {"buyer"}
    assert await ids({"filter": "purchased_within_days", "days": "1"}) == set()
    assert await ids({"filter": "interacted_within_days", "days": 60}) == {"buyer", "caller"}
    assert await ids({"filter": "interacted_within_days", "days": 60, "channel": "phone"}) == {
        "caller"
    }
    assert await ids({"filter": "no_interaction_within_days", "days": 30}) == {"caller", "quiet"}


async def test_nested_trees(crowd: Any) -> None:
    tree = {
        "and": [
            {"filter": "city", "value": "tehran"},
            {"or": [{"filter": "tag", "value": "vip"}, {"filter": "stage", "value": "lead"}]},
        ]
    }
    assert await ids(tree) == {"buyer"}
    assert await ids({"not": tree}) == {"caller", "quiet"}
    assert await ids({"and": []}) == {"buyer", "caller", "quiet"}
    assert await ids({"or": []}) == set()


@pytest.mark.parametrize(
    ("tree", "fragment"),
    [
        ({"filter": "unknown"}, "no contact filter 'unknown'"),
        ({"filter": "stage"}, "needs a value for 'value'"),
        ({"filter": "stage", "value": "vip"}, "stage must be one of"),
        ({"filter": "interacted_within_days", "days": "soon"}, "whole number"),
        ({"filter": "interacted_within_days", "days": 5, "channel": "fax"}, "channel must be"),
        ({"filter": "custom_equals", "key": "Bad Key", "value": "x"}, "not a custom field key"),
        ({"and": {"filter": "stage"}}, "takes a list"),
        ({"nand": []}, "each node needs"),
    ],
)
async def test_bad_trees_are_refused_with_a_message(
    crm_db: Any, tree: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        compile_filter_tree(tree, crm_db.pm, "sqlite")
    assert fragment in caught.value.errors["filters"]


class NamePrefixPlugin:
    """A plugin filter, as geo's "within 10 km of" would be."""

    @hookimpl
    def register_contact_filters(self) -> list[ContactFilter]:
        return [
            name_starts_filter(),
            ContactFilter("stage", "Clash", {}, lambda params, engine: ("1 = 1", [])),
        ]


async def test_plugins_add_filters_but_cannot_replace_core_ones(
    crowd: Any, crm_pm: Any, register_test_plugin: Any, caplog: pytest.LogCaptureFixture
) -> None:
    register_test_plugin(NamePrefixPlugin(), "namefilter")
    available = registered_filters(crm_pm)
    assert available["stage"].label == "Lifecycle stage is"
    assert "namefilter" in caplog.text
    tree = {"and": [{"filter": "test.name_starts", "prefix": "ca"}, {"filter": "has_phone"}]}
    assert await ids(tree) == {"caller"}
