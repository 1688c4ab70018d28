"""The geo pages and contact panel in Persian: every UI text translated by the plugin's own
catalog, numbers in Persian digits."""

from __future__ import annotations

import pytest
from crm_geo.checkins import record_checkin
from crm_geo.consent import set_location_consent
from crm_geo.geofences import create_geofence

from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact
from crmcore.testing.pages import untranslated_texts

pytestmark = pytest.mark.crm_plugins("geo")


async def test_geo_pages_in_persian_leave_no_english_ui_text(crm_client):
    located = await create_contact(
        {"first_name": "Dariush", "city": "Shiraz", "country": "IR", "stage": "customer"}, SYSTEM
    )
    await create_contact(
        {"first_name": "Kourosh", "city": "Shiraz", "country": "IR", "stage": "customer"}, SYSTEM
    )
    unknown = await create_contact({"first_name": "Roya", "city": "Nowhereville"}, SYSTEM)
    await set_location_consent(located["id"], True, "form", SYSTEM)
    await record_checkin(located["id"], 29.61, 52.53, 20, SYSTEM)
    await create_geofence(
        {"name": "Downtown", "center_lat": 29.6, "center_lon": 52.5, "radius_km": 5}, SYSTEM
    )
    await crm_client.get("/?lang=fa")

    panel = await crm_client.get(f"/contacts/{located['id']}")
    assert "موقعیت مکانی" in panel.text and "مخاطبان نزدیک" in panel.text
    assert "کیلومتر" in panel.text and " km" not in panel.text
    missing = await crm_client.get(f"/contacts/{unknown['id']}")
    assert "هنوز موقعیتی ثبت نشده است." in missing.text
    map_page = await crm_client.get("/geo/map")
    assert "<title>نقشه" in map_page.text and "مشتریان هر شهر" in map_page.text
    assert "<td>۲</td>" in map_page.text  # customers in Shiraz, in Persian digits

    data = ["Dariush", "Kourosh", "Roya", "Nowhereville", "Shiraz", "IR", "form", "Downtown"]
    data += ["Admin", "admin@example.com"]
    for page in (panel, missing, map_page):
        assert page.status_code == 200, page.text
        assert '<html lang="fa" dir="rtl">' in page.text
        assert untranslated_texts(page.text, "fa", data) == [], page.url
