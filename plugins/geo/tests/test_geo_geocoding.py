"""Offline geocoding of place names and of contacts' addresses, one by one and in bulk."""

from __future__ import annotations

import json

import pytest
from crm_geo.bulk import get_run, run_geocode, start_geocode_run
from crm_geo.geocoding import geocode_text, reverse_geocode
from crm_geo.locations import location_of
from crm_geo.spatial import haversine_km
from crm_geo.tables import Location

from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact, update_contact

pytestmark = pytest.mark.crm_plugins("geo")

CENTRES = {
    "Tehran": (35.6892, 51.3890),
    "تهران": (35.6892, 51.3890),
    "Shiraz": (29.5918, 52.5837),
    "Berlin": (52.5200, 13.4050),
}


async def test_city_names_geocode_within_10_km_offline():
    for city, centre in CENTRES.items():
        place = await geocode_text(city)
        assert place is not None, city
        assert haversine_km(place.lat, place.lon, *centre) < 10.0, city


@pytest.fixture
def no_network(monkeypatch):
    """Every attempt to open a network connection or resolve a name fails, as on a server
    without internet access."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network access is blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


async def test_gazetteer_loads_and_geocodes_with_the_network_blocked(no_network):
    from crm_geo.gazetteer import Gazetteer, OfflineGeocoder

    geocoder = OfflineGeocoder(Gazetteer())  # built from scratch, not the shared copy
    for city, centre in CENTRES.items():
        place = await geocoder.geocode(city)
        assert place is not None, city
        assert haversine_km(place.lat, place.lon, *centre) < 10.0, city


async def test_reverse_geocoding_names_the_town_and_nothing_at_sea():
    assert (await reverse_geocode(29.61, 52.54)).name == "Shiraz"
    assert await reverse_geocode(-40.0, -130.0) is None


async def test_a_contact_is_geocoded_when_its_address_changes(crm_db):
    contact = await create_contact({"first_name": "Ali", "city": "تهران", "country": "IR"}, SYSTEM)
    location = await location_of(contact_id=contact["id"])
    assert location["source"] == "geocoded" and location["label"] == "Tehran, IR"
    assert location["precision_m"] == 10_000

    await update_contact(contact["id"], {"city": "Shiraz"}, SYSTEM)
    moved = await location_of(contact_id=contact["id"])
    assert moved["id"] == location["id"]
    assert haversine_km(moved["lat"], moved["lon"], *CENTRES["Shiraz"]) < 10.0

    await update_contact(contact["id"], {"city": "Nowhereville", "country": "IR"}, SYSTEM)
    assert await location_of(contact_id=contact["id"]) is None


async def test_bulk_geocoding_fills_missing_locations_with_progress(crm_db):
    cities = ["Berlin", "Shiraz", "Tehran", "Atlantis-under-the-sea", ""]
    for index in range(30):
        await create_contact({"first_name": f"C{index}"}, SYSTEM)
    ids = []
    for index, city in enumerate(cities * 4):
        contact = await create_contact({"first_name": f"B{index}"}, SYSTEM)
        ids.append((contact["id"], city))
    # Addresses written behind the plugin's back (an import, a restore): nothing geocoded.
    from crmcore.tables import Contact

    for contact_id, city in ids:
        await Contact.update({Contact.city: city}).where(Contact.id == contact_id)
    seen = []
    run = await start_geocode_run(SYSTEM, background=False)
    done = await run_geocode(run["id"], lambda state: seen.append(state["processed"]))
    assert done["status"] == "done"
    assert done["total"] == 16 and done["processed"] == 16
    assert done["geocoded"] == 12 and done["not_found"] == 4
    assert seen[0] == 0 and seen[-1] == 16
    assert await Location.count() == 12
    assert (await get_run(run["id"], SYSTEM))["percent"] == 100.0

    again = await start_geocode_run(SYSTEM, background=False)
    assert (await run_geocode(again["id"]))["total"] == 4  # only the unknown places remain


def test_cli_geocode_and_near(crm_run, crm_cli):
    result = crm_cli("geo", "geocode", "تهران", "--json")
    assert result.exit_code == 0, result.output
    place = json.loads(result.output)
    assert set(place) >= {"lat", "lon", "name"} and place["name"] == "Tehran"

    near = crm_run(create_contact({"first_name": "Near", "city": "Tehran"}, SYSTEM))
    crm_run(create_contact({"first_name": "Far", "city": "Berlin"}, SYSTEM))
    result = crm_cli("geo", "near", "--lat", "35.7", "--lon", "51.4", "--km", "25", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert [hit["id"] for hit in hits] == [near["id"]]
    assert hits[0]["distance_km"] < 25

    result = crm_cli("geo", "consent", str(near["id"]), "--grant")
    assert result.exit_code == 0, result.output
    result = crm_cli("geo", "consent", "999999", "--revoke")
    assert result.exit_code == 1 and "contact 999999 does not exist" in result.output

    result = crm_cli("geo", "geocode-all", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.index("{") :])["status"] == "done"


async def test_companies_are_geocoded_when_saved(crm_pm, crm_db):
    from crmcore.services.companies import create_company

    company = await create_company({"name": "Pars Trading", "city": "Shiraz"}, SYSTEM)
    location = await location_of(company_id=company["id"])
    assert location["label"] == "Shiraz, IR" and location["contact_id"] is None

    # The hook itself: an address change moves the company; other changes leave it be.
    from crmcore.tables import Company

    await Company.update({Company.city: "Berlin"}).where(Company.id == company["id"])
    await crm_pm.fire(
        "company_saved", company=company, created=False, changes={"name": ("a", "b")}, actor=SYSTEM
    )
    assert (await location_of(company_id=company["id"]))["label"] == "Shiraz, IR"
    await crm_pm.fire(
        "company_saved",
        company=company,
        created=False,
        changes={"city": ("Shiraz", "Berlin")},
        actor=SYSTEM,
    )
    assert (await location_of(company_id=company["id"]))["label"] == "Berlin, DE"
