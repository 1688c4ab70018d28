"""``crm demo`` with geo enabled: the demo's contacts get locations from their addresses, so
the map and ``crm geo near`` have something to show on a fresh instance."""

from __future__ import annotations

import asyncio
import json

import pytest

pytestmark = pytest.mark.crm_plugins("geo")


@pytest.fixture
def empty_instance(crm_run) -> None:
    """A migrated, empty instance for commands run through ``crm_cli`` (the first
    ``crm_run`` call prepares it)."""
    crm_run(asyncio.sleep(0))


def test_demo_contacts_are_found_near_tehran(crm_cli, empty_instance):
    made = crm_cli("demo", "--contacts", "60", "--seed", "7", "--json")
    assert made.exit_code == 0, made.output
    near = crm_cli("geo", "near", "--city", "Tehran", "--km", "30", "--json")
    assert near.exit_code == 0, near.output
    hits = json.loads(near.output)
    assert hits, "no demo contact near Tehran"
    assert all(hit["distance_km"] <= 30 for hit in hits)
    # Every demo contact has a city, so every one is located (US cities included).
    everywhere = crm_cli("geo", "near", "--lat", "0", "--lon", "0", "--km", "20015", "--json")
    assert len(json.loads(everywhere.output)) == 60
