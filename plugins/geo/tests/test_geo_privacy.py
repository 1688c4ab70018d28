"""Privacy export and erasure, merges, and the plugin standing alone without marketing."""

from __future__ import annotations

import pytest
from crm_geo.checkins import record_checkin
from crm_geo.consent import has_location_consent, set_location_consent
from crm_geo.geofences import create_geofence
from crm_geo.locations import location_of
from crm_geo.tables import Checkin, FencePresence, Location, LocationConsent

from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact, delete_contact
from crmcore.services.transaction import write_transaction

pytestmark = pytest.mark.crm_plugins("geo")


async def tracked_contact(name: str, lat: float, lon: float) -> dict:
    contact = await create_contact({"first_name": name, "city": "Tehran"}, SYSTEM)
    await set_location_consent(contact["id"], True, "app", SYSTEM)
    await record_checkin(contact["id"], lat, lon, 10, SYSTEM)
    return contact


def test_geo_loads_without_marketing(crm_pm):
    assert crm_pm.is_enabled("geo") and not crm_pm.is_enabled("marketing")
    assert hasattr(crm_pm.hook, "geo_geocoder")
    events = dict(crm_pm.call_in_order("event_types"))["geo"]
    assert {"geo.geofence_entered", "geo.geofence_exited"} <= set(events)


async def test_export_and_erase_cover_every_geo_row(crm_pm, crm_db):
    await create_geofence(
        {"name": "Zone", "center_lat": 35.7, "center_lon": 51.4, "radius_km": 5}, SYSTEM
    )
    contact = await tracked_contact("Parisa", 35.7, 51.4)
    exported = dict(await crm_pm.acall("export_contact_data", contact_id=contact["id"]))["geo"]
    assert exported["location"]["label"] == "Tehran, IR"
    assert [c["place"] for c in exported["checkins"]] == ["Tehran"]
    assert exported["geofence_presence"][0]["geofence_name"] == "Zone"
    assert [s["granted"] for s in exported["location_consent"]] == [True]

    async with write_transaction():
        await crm_pm.acall("erase_contact_data", contact_id=contact["id"])
    for table in (Checkin, FencePresence, LocationConsent, Location):
        assert await table.count().where(table.contact == contact["id"]) == 0


async def test_merge_keeps_the_survivors_location_and_moves_history(crm_pm, crm_db):
    await create_geofence(
        {"name": "Zone", "center_lat": 35.7, "center_lon": 51.4, "radius_km": 5}, SYSTEM
    )
    survivor = await tracked_contact("Keep", 35.7, 51.4)
    merged = await tracked_contact("Gone", 35.71, 51.41)
    kept_location = await location_of(contact_id=survivor["id"])
    async with write_transaction():
        await crm_pm.acall("contact_merged", survivor_id=survivor["id"], merged_id=merged["id"])
    assert await Checkin.count().where(Checkin.contact == survivor["id"]) == 2
    assert await FencePresence.count().where(FencePresence.contact == survivor["id"]) == 1
    assert (await location_of(contact_id=survivor["id"]))["id"] == kept_location["id"]
    assert await has_location_consent(survivor["id"])
    assert await Location.count().where(Location.contact == merged["id"]) == 0


async def test_deleting_a_contact_removes_it_from_the_spatial_index(crm_db):
    contact = await create_contact({"first_name": "Temp", "city": "Berlin"}, SYSTEM)
    from crm_geo.queries import within_radius

    assert [h.id for h in await within_radius(SYSTEM, 52.52, 13.405, 20)] == [contact["id"]]
    await delete_contact(contact["id"], SYSTEM)
    assert await within_radius(SYSTEM, 52.52, 13.405, 20) == []


async def test_core_merge_and_erasure_doors_carry_geo_data(crm_db):
    from crmcore.services.merge import merge_contacts
    from crmcore.services.privacy import erase_contact, export_contact

    survivor = await tracked_contact("Ana", 35.7, 51.4)
    merged = await tracked_contact("Anna", 35.7, 51.4)
    await merge_contacts(survivor["id"], merged["id"], SYSTEM)
    assert await Checkin.count().where(Checkin.contact == survivor["id"]) == 2

    document = await export_contact(survivor["id"], SYSTEM)
    assert len(document["plugins"]["geo"]["checkins"]) == 2
    await erase_contact(survivor["id"], SYSTEM)
    for table in (Checkin, LocationConsent, Location):
        assert await table.count() == 0
