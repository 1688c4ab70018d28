"""The geo REST API, the map page and the contact panel, over real HTTP."""

from __future__ import annotations

import pytest
from crm_geo.consent import set_location_consent

from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact

pytestmark = pytest.mark.crm_plugins("geo")

API = "/api/v1/geo"


async def test_api_requires_login(crm_anon_client):
    response = await crm_anon_client.get(f"{API}/near", params={"lat": 1, "lon": 1, "km": 1})
    assert response.status_code == 401


async def test_locations_crud_and_radius_queries(crm_client):
    tehran = await create_contact({"first_name": "Tehran", "last_name": "Office"}, SYSTEM)
    karaj = await create_contact({"first_name": "Karaj", "last_name": "Shop"}, SYSTEM)
    created = await crm_client.post(
        f"{API}/locations", json={"contact_id": tehran["id"], "lat": 35.70, "lon": 51.40}
    )
    assert created.status_code == 201, created.text
    location = created.json()
    assert location["source"] == "manual"
    duplicate = await crm_client.post(
        f"{API}/locations", json={"contact_id": tehran["id"], "lat": 1, "lon": 1}
    )
    assert duplicate.status_code == 409
    bad = await crm_client.post(
        f"{API}/locations", json={"contact_id": karaj["id"], "lat": 95, "lon": 1}
    )
    assert bad.status_code == 422 and "lat" in bad.json()["errors"]
    missing = await crm_client.post(
        f"{API}/locations", json={"contact_id": 999999, "lat": 1, "lon": 1}
    )
    assert missing.status_code == 404
    await crm_client.post(
        f"{API}/locations",
        json={
            "contact_id": karaj["id"],
            "lat": 35.83,
            "lon": 50.99,
            "source": "gps",
            "precision_m": 15,
        },
    )

    near = await crm_client.get(f"{API}/near", params={"lat": 35.70, "lon": 51.40, "km": 10})
    assert near.status_code == 200, near.text
    assert [(hit["id"], hit["name"]) for hit in near.json()["items"]] == [
        (tehran["id"], "Tehran Office")
    ]
    wider = await crm_client.get(f"{API}/near", params={"contact_id": tehran["id"], "km": 50})
    assert [hit["id"] for hit in wider.json()["items"]] == [karaj["id"]]  # itself left out
    by_city = await crm_client.get(f"{API}/near", params={"city": "کرج", "km": 15})
    assert by_city.status_code == 200, by_city.text
    assert [hit["id"] for hit in by_city.json()["items"]] == [karaj["id"]]
    unknown = await crm_client.get(f"{API}/near", params={"city": "Zzyzx-nowhere", "km": 5})
    assert unknown.status_code == 422

    nearest = await crm_client.get(f"{API}/nearest", params={"lat": 35.8, "lon": 51.0, "n": 2})
    assert [hit["id"] for hit in nearest.json()["items"]] == [karaj["id"], tehran["id"]]
    box = await crm_client.get(
        f"{API}/bbox", params={"min_lat": 35.6, "min_lon": 51.3, "max_lat": 35.8, "max_lon": 51.5}
    )
    assert [hit["id"] for hit in box.json()["items"]] == [tehran["id"]]
    polygon = [[35.6, 51.3], [35.8, 51.3], [35.8, 51.5], [35.6, 51.5]]
    within = await crm_client.post(f"{API}/within", json={"polygon": polygon})
    assert within.status_code == 200, within.text
    assert [hit["id"] for hit in within.json()["items"]] == [tehran["id"]]

    moved = await crm_client.patch(f"{API}/locations/{location['id']}", json={"lat": 35.84})
    assert moved.status_code == 200 and moved.json()["lat"] == 35.84
    listed = await crm_client.get(f"{API}/locations", params={"contact_id": tehran["id"]})
    assert [item["id"] for item in listed.json()["items"]] == [location["id"]]
    deleted = await crm_client.delete(f"{API}/locations/{location['id']}")
    assert deleted.status_code == 204
    assert (await crm_client.get(f"{API}/locations/{location['id']}")).status_code == 404


async def test_geofences_checkins_and_consent_over_http(crm_client):
    contact = await create_contact({"first_name": "Nazanin"}, SYSTEM)
    fence = await crm_client.post(
        f"{API}/geofences",
        json={"name": "Mall", "center_lat": 35.75, "center_lon": 51.41, "radius_km": 1.0},
    )
    assert fence.status_code == 201, fence.text
    fence_id = fence.json()["id"]
    invalid = await crm_client.post(f"{API}/geofences", json={"name": "", "kind": "polygon"})
    assert invalid.status_code == 422
    assert {"name", "polygon"} <= set(invalid.json()["errors"])

    checkin = {"contact_id": contact["id"], "lat": 35.751, "lon": 51.411, "accuracy_m": 12}
    refused = await crm_client.post(f"{API}/checkins", json=checkin)
    assert refused.status_code == 200
    assert refused.json()["recorded"] is False
    assert refused.json()["reason"] == "no_location_consent"

    consent = await crm_client.put(
        f"{API}/consents/{contact['id']}", json={"granted": True, "source": "app"}
    )
    assert consent.status_code == 200 and consent.json()["granted"] is True
    recorded = await crm_client.post(f"{API}/checkins", json=checkin)
    assert recorded.json()["recorded"] is True
    assert recorded.json()["entered"] == [fence_id]
    history = await crm_client.get(f"{API}/checkins", params={"contact_id": contact["id"]})
    assert [c["place"] for c in history.json()] == ["Tehran"]

    inside = await crm_client.get(
        "/api/v1/contacts",
        params={"filters": f'{{"filter": "geo.inside_area", "geofence_id": {fence_id}}}'},
    )
    assert [c["id"] for c in inside.json()["items"]] == [contact["id"]]
    shrunk = await crm_client.patch(
        f"{API}/geofences/{fence_id}",
        json={"kind": "polygon", "polygon": [[35.0, 50.0], [35.1, 50.0], [35.1, 50.1]]},
    )
    assert shrunk.status_code == 200, shrunk.text
    outside = await crm_client.get(
        "/api/v1/contacts",
        params={"filters": f'{{"filter": "geo.inside_area", "geofence_id": {fence_id}}}'},
    )
    assert outside.json()["items"] == []
    filters = await crm_client.get("/api/v1/contacts/filters")
    names = {f["name"] for f in filters.json()}
    assert {"geo.within_km", "geo.inside_area"} <= names


async def test_prospecting_lists_owner_and_last_interaction(crm_client, crm_user):
    from crmcore.services.interactions import log_interaction

    contact = await create_contact(
        {"first_name": "Lead", "city": "Tehran", "owner_id": crm_user["id"]}, SYSTEM
    )
    await log_interaction(
        {"contact_id": contact["id"], "channel": "phone", "subject": "Intro call"}, SYSTEM
    )
    response = await crm_client.get(f"{API}/near-me", params={"lat": 35.69, "lon": 51.39, "km": 20})
    assert response.status_code == 200, response.text
    (item,) = response.json()
    assert item["id"] == contact["id"] and item["kind"] == "contact"
    assert item["owner_id"] == crm_user["id"] and item["owner_name"] == "Admin"
    assert item["last_interaction_at"] is not None


async def test_geocode_endpoint_and_bulk_run(crm_client):
    response = await crm_client.get(f"{API}/geocode", params={"q": "شیراز"})
    assert response.status_code == 200 and response.json()["name"] == "Shiraz"
    assert (await crm_client.get(f"{API}/geocode", params={"q": "Qwxyz"})).status_code == 404
    from crmcore.jobs.embedded import EmbeddedRunner
    from crmcore.jobs.registry import registry_for
    from crmcore.services.records import plugin_manager
    from crmcore.tables import Contact

    contact = await create_contact({"first_name": "Imported"}, SYSTEM)
    await Contact.update({Contact.city: "Isfahan"}).where(Contact.id == contact["id"])
    run = await crm_client.post(f"{API}/geocode-runs")
    assert run.status_code == 202 and run.json()["status"] == "queued"
    run_url = f"{API}/geocode-runs/{run.json()['id']}"
    assert (await crm_client.get(run_url)).json()["job_id"]

    runner = EmbeddedRunner(registry_for(plugin_manager()), schedule=False)
    assert await runner.run_until_idle() == 1
    finished = (await crm_client.get(run_url)).json()
    assert (finished["status"], finished["geocoded"], finished["percent"]) == ("done", 1, 100.0)
    location = await crm_client.get(f"{API}/locations", params={"contact_id": contact["id"]})
    assert location.json()["items"][0]["label"] == "Isfahan, IR"


async def test_map_page_and_contact_panel(crm_client):
    contact = await create_contact({"first_name": "Dariush", "city": "Shiraz"}, SYSTEM)
    neighbour = await create_contact(
        {"first_name": "Kourosh", "city": "Shiraz", "stage": "customer"}, SYSTEM
    )
    await set_location_consent(contact["id"], True, "form", SYSTEM)
    page = await crm_client.get("/geo/map")
    assert page.status_code == 200, page.text
    assert "/static/geo/world-land.svg" in page.text
    assert 'href="/geo/map"' in page.text  # the menu link
    assert f'href="/contacts/{contact["id"]}"' in page.text
    assert "Shiraz" in page.text  # customers per city
    base = await crm_client.get("/static/geo/world-land.svg")
    assert base.status_code == 200 and base.text.startswith("<svg")

    panel = await crm_client.get(f"/contacts/{contact['id']}")
    assert panel.status_code == 200, panel.text
    assert "Shiraz, IR" in panel.text
    assert f'href="/contacts/{neighbour["id"]}"' in panel.text
    assert "granted" in panel.text
