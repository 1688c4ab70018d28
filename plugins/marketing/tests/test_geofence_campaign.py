"""A drip campaign started by a check-in inside a geofence (geo and marketing together)."""

from __future__ import annotations

import pytest
from crm_marketing import campaigns, templates_store
from helpers import run_jobs

from crmcore.errors import ValidationError
from crmcore.jobs.clock import frozen_clock
from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact

# A 500 m circle around a store by Tehran's Azadi Tower, a point inside it, one outside,
# and a second store in Shiraz.
AZADI = (35.6997, 51.3380)
INSIDE = (35.6999, 51.3385)
OUTSIDE = (35.7200, 51.4200)
SHIRAZ = (29.6100, 52.5400)


async def _customer(name: str, consent: bool) -> dict:
    from crm_geo.consent import set_location_consent

    contact = await create_contact(
        {"first_name": name, "email": f"{name.lower()}@example.com"}, SYSTEM
    )
    if consent:
        await set_location_consent(contact["id"], True, "mobile app", SYSTEM)
    return contact


async def _settle(clock) -> None:
    """Dispatch the outbox, tick the drips and send, as the job runner would over minutes."""
    for _ in range(3):
        clock.advance(minutes=2)
        await run_jobs()


@pytest.mark.crm_plugins("marketing", "geo")
async def test_checkin_inside_the_fence_starts_its_campaign_once_and_only_with_consent(
    crm_db, smtp_sink
):
    from crm_geo.checkins import record_checkin
    from crm_geo.geofences import create_geofence

    store = await create_geofence(
        {"name": "Azadi store", "center_lat": AZADI[0], "center_lon": AZADI[1], "radius_km": 0.5},
        SYSTEM,
    )
    other = await create_geofence(
        {"name": "Shiraz store", "center_lat": SHIRAZ[0], "center_lon": SHIRAZ[1],
         "radius_km": 0.5},
        SYSTEM,
    )  # fmt: skip
    await templates_store.create_template(
        {"name": "store", "subject": "Welcome to {{ 'our store' }}", "html": "<p>Hi</p>"}, SYSTEM
    )
    drip = await campaigns.create_campaign(
        {"kind": "drip", "name": "Store visitors",
         "trigger": {"event": "geo.geofence_entered", "geofence_id": store["id"]},
         "steps": [{"type": "send", "template": "store"}]},
        SYSTEM,
    )  # fmt: skip
    assert drip["trigger"] == {"event": "geo.geofence_entered", "geofence_id": store["id"]}
    await campaigns.start_campaign(drip["id"], SYSTEM)
    sara = await _customer("Sara", consent=True)
    reza = await _customer("Reza", consent=False)
    nima = await _customer("Nima", consent=True)

    with frozen_clock() as clock:
        assert (await record_checkin(sara["id"], *INSIDE, 20, SYSTEM))["entered"] == [store["id"]]
        assert (await record_checkin(reza["id"], *INSIDE, 20, SYSTEM))["recorded"] is False
        assert (await record_checkin(nima["id"], *SHIRAZ, 20, SYSTEM))["entered"] == [other["id"]]
        await _settle(clock)
        assert [m["To"] for m in smtp_sink.messages] == ["sara@example.com"]

        # Leaving and coming back within the cooldown fires nothing; after it, the event
        # fires again but the contact is already enrolled: still one message.
        await record_checkin(sara["id"], *OUTSIDE, 20, SYSTEM)
        clock.advance(minutes=5)
        assert (await record_checkin(sara["id"], *INSIDE, 20, SYSTEM))["entered"] == []
        await _settle(clock)
        clock.advance(hours=2)
        await record_checkin(sara["id"], *OUTSIDE, 20, SYSTEM)
        assert (await record_checkin(sara["id"], *INSIDE, 20, SYSTEM))["entered"] == [store["id"]]
        await _settle(clock)
    assert [m["To"] for m in smtp_sink.messages] == ["sara@example.com"]


@pytest.mark.crm_plugins("marketing", "geo")
async def test_geofence_trigger_must_name_an_existing_fence(crm_db):
    with pytest.raises(ValidationError, match="no geofence with id 999"):
        await campaigns.create_campaign(
            {"kind": "drip", "trigger": {"event": "geo.geofence_entered", "geofence_id": 999},
             "steps": [{"type": "add_tag", "tag": "x"}]},
            SYSTEM,
        )  # fmt: skip


@pytest.mark.crm_plugins("marketing")
async def test_without_geo_a_geofence_trigger_is_refused(crm_db):
    with pytest.raises(ValidationError) as refused:
        await campaigns.create_campaign(
            {"kind": "drip", "trigger": {"event": "geo.geofence_entered"},
             "steps": [{"type": "add_tag", "tag": "x"}]},
            SYSTEM,
        )  # fmt: skip
    assert "contact.created" in str(refused.value.errors)
    assert "geo.geofence_entered" not in str(refused.value.errors)
