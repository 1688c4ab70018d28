"""Segments use plugin filters when the plugin is enabled, and work without it."""

from __future__ import annotations

import pytest
from crm_marketing import segments
from helpers import many_contacts

from crmcore.errors import ValidationError
from crmcore.services.actor import SYSTEM


@pytest.mark.crm_plugins("marketing", "geo")
async def test_segment_within_km_counts_nearby_contacts(crm_db):
    from crm_geo.locations import save_location

    ids = await many_contacts(3)
    await save_location(SYSTEM, lat=35.70, lon=51.40, source="manual", contact_id=ids[0])
    await save_location(SYSTEM, lat=35.72, lon=51.42, source="manual", contact_id=ids[1])
    await save_location(SYSTEM, lat=29.60, lon=52.53, source="manual", contact_id=ids[2])
    tree = {"and": [{"filter": "has_email"},
                    {"filter": "geo.within_km", "lat": 35.70, "lon": 51.40, "km": 10}]}  # fmt: skip
    segment = await segments.create_segment("tehran", tree, SYSTEM)
    assert await segments.count_segment(segment) == 2
    members = await segments.segment_members(segment)
    assert [m["id"] for m in members] == ids[:2]


@pytest.mark.crm_plugins("marketing")
async def test_without_geo_the_geo_filter_is_refused_and_others_work(crm_db):
    await many_contacts(4)
    with pytest.raises(ValidationError):
        await segments.create_segment(
            "near", {"filter": "geo.within_km", "lat": 1, "lon": 1, "km": 1}, SYSTEM
        )
    segment = await segments.create_segment("all", {"filter": "has_email"}, SYSTEM)
    assert await segments.count_segment(segment) == 4
