"""Check-ins, geofence events with cooldown, and location consent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from crm_geo.checkins import record_checkin
from crm_geo.consent import has_location_consent, set_location_consent
from crm_geo.geofences import create_geofence
from crm_geo.locations import location_of
from crm_geo.tables import Checkin, FencePresence

from crmcore.jobs.clock import frozen_clock
from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact
from crmcore.tables import OutboxEvent

pytestmark = pytest.mark.crm_plugins("geo")

# A 500 m circle around Tehran's Azadi Tower, and points inside and outside it.
AZADI = (35.6997, 51.3380)
INSIDE = (35.6999, 51.3385)
OUTSIDE = (35.7200, 51.4200)


async def events(name: str) -> list[dict]:
    rows = await OutboxEvent.select().where(OutboxEvent.event == name).order_by(OutboxEvent.id)
    return rows


async def consenting_contact(first_name: str = "Sara") -> dict:
    contact = await create_contact({"first_name": first_name}, SYSTEM)
    await set_location_consent(contact["id"], True, "mobile app", SYSTEM)
    return contact


async def azadi_fence() -> dict:
    return await create_geofence(
        {"name": "Azadi store", "center_lat": AZADI[0], "center_lon": AZADI[1], "radius_km": 0.5},
        SYSTEM,
    )


async def test_checkin_inside_fires_exactly_one_entered_within_the_cooldown(crm_db):
    contact = await consenting_contact()
    fence = await azadi_fence()
    start = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    with frozen_clock(start) as clock:
        first = await record_checkin(contact["id"], *INSIDE, 20, SYSTEM)
        assert first["recorded"] and first["entered"] == [fence["id"]]
        assert first["place"] == "Tehran"
        clock.advance(minutes=5)
        again = await record_checkin(contact["id"], *INSIDE, 20, SYSTEM)
        assert again["entered"] == []  # still inside: no new event
        clock.advance(minutes=5)
        left = await record_checkin(contact["id"], *OUTSIDE, 20, SYSTEM)
        assert left["exited"] == [fence["id"]]
        clock.advance(minutes=5)
        back = await record_checkin(contact["id"], *INSIDE, 20, SYSTEM)
        assert back["entered"] == []  # within the 60-minute cooldown
    entered = await events("geo.geofence_entered")
    assert len(entered) == 1
    payload = entered[0]["payload"]
    if isinstance(payload, str):
        import json

        payload = json.loads(payload)
    assert payload["contact_id"] == contact["id"]
    assert payload["geofence_id"] == fence["id"]
    assert payload["geofence_name"] == "Azadi store"
    assert len(await events("geo.geofence_exited")) == 1

    with frozen_clock(start + __import__("datetime").timedelta(hours=2)) as clock:
        await record_checkin(contact["id"], *OUTSIDE, 20, SYSTEM)
        later = await record_checkin(contact["id"], *INSIDE, 20, SYSTEM)
    assert later["entered"] == [fence["id"]]  # the cooldown is over
    assert len(await events("geo.geofence_entered")) == 2


async def test_without_location_consent_nothing_is_stored_or_fired(crm_db):
    contact = await create_contact({"first_name": "Reza"}, SYSTEM)
    await azadi_fence()
    outcome = await record_checkin(contact["id"], *INSIDE, 10, SYSTEM)
    assert outcome["recorded"] is False
    assert outcome["reason"] == "no_location_consent"
    assert await Checkin.count() == 0
    assert await FencePresence.count() == 0
    assert await location_of(contact_id=contact["id"]) is None
    assert await events("geo.geofence_entered") == []

    await set_location_consent(contact["id"], True, "form", SYSTEM)
    await set_location_consent(contact["id"], False, "phone call", SYSTEM)
    assert not await has_location_consent(contact["id"])
    outcome = await record_checkin(contact["id"], *INSIDE, 10, SYSTEM)
    assert outcome["recorded"] is False
    assert await events("geo.geofence_entered") == []


async def test_revoking_consent_erases_tracking_but_keeps_the_address_location(crm_db):
    contact = await create_contact({"first_name": "Mina", "city": "Shiraz"}, SYSTEM)
    geocoded = await location_of(contact_id=contact["id"])
    assert geocoded is not None and geocoded["source"] == "geocoded"
    await set_location_consent(contact["id"], True, "app", SYSTEM)
    await azadi_fence()
    await record_checkin(contact["id"], *INSIDE, 10, SYSTEM)
    # A check-in does not overwrite an address location.
    assert (await location_of(contact_id=contact["id"]))["source"] == "geocoded"
    assert await Checkin.count() == 1

    await set_location_consent(contact["id"], False, "app", SYSTEM)
    assert await Checkin.count() == 0
    assert await FencePresence.count() == 0
    assert (await location_of(contact_id=contact["id"]))["source"] == "geocoded"


async def test_imprecise_checkins_do_not_move_anyone_through_a_fence(crm_db):
    contact = await consenting_contact()
    await azadi_fence()
    outcome = await record_checkin(contact["id"], *INSIDE, 5000, SYSTEM)
    assert outcome["recorded"] and outcome["entered"] == []
    location = await location_of(contact_id=contact["id"])
    assert location["source"] == "gps" and location["precision_m"] == 5000


async def test_polygon_fence_across_the_antimeridian(crm_db):
    contact = await consenting_contact()
    fence = await create_geofence(
        {"name": "Taveuni", "polygon": [[-17.0, 179.7], [-16.6, 180.1], [-17.1, 180.3]]},
        SYSTEM,
    )
    outcome = await record_checkin(contact["id"], -16.9, -179.9, 30, SYSTEM)
    assert outcome["entered"] == [fence["id"]]


def test_cooldown_and_accuracy_come_from_crm_toml(tmp_path):
    from crm_geo.settings import geo_settings

    from crmcore.settings import load_settings

    class Manager:
        def __init__(self, settings):
            self.settings = settings

    (tmp_path / "crm.toml").write_text(
        "[plugins.geo]\ncooldown_minutes = 5\nmax_checkin_accuracy_m = 50\n", encoding="utf-8"
    )
    env = {"CRM_HOME": str(tmp_path), "CRM_SECRET_KEY": "x"}
    chosen = geo_settings(Manager(load_settings(home=tmp_path, env=env)))
    assert (chosen.cooldown_minutes, chosen.max_checkin_accuracy_m) == (5.0, 50)
    assert geo_settings(None).cooldown_minutes == 60.0

    (tmp_path / "crm.toml").write_text('[plugins.geo]\ncooldown_minutes = "soon"\n')
    with pytest.raises(ValueError, match="cooldown_minutes"):
        geo_settings(Manager(load_settings(home=tmp_path, env=env)))
