"""The geo_geocoder hook: a site's own geocoder first, the offline gazetteer as fallback."""

from __future__ import annotations

import pytest
from crm_geo.gazetteer import GeocodeResult
from crm_geo.geocoding import geocode_text, reverse_geocode
from crm_geo.locations import location_of

from crmcore.hookspecs import hookimpl
from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact

pytestmark = pytest.mark.crm_plugins("geo", "site_geocoder")

HQ = GeocodeResult(
    lat=35.7575,
    lon=51.4100,
    name="Acme HQ",
    country_code="IR",
    population=0,
    geonameid=None,
    precision_km=0.05,
)


class StreetGeocoder:
    """A site backend that knows one street address and fails on anything 'broken'."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def geocode(self, text: str) -> GeocodeResult | None:
        self.asked.append(text)
        if "broken" in text:
            raise ConnectionError("the geocoding server is down")
        return HQ if "Valiasr" in text else None

    async def reverse(self, lat: float, lon: float) -> GeocodeResult | None:
        return HQ if abs(lat - HQ.lat) < 0.01 and abs(lon - HQ.lon) < 0.01 else None


class SitePlugin:
    def __init__(self) -> None:
        self.backend = StreetGeocoder()

    @hookimpl
    def geo_geocoder(self) -> StreetGeocoder:
        return self.backend


@pytest.fixture
def site(register_test_plugin) -> SitePlugin:
    plugin = SitePlugin()
    register_test_plugin(plugin, "site_geocoder")
    return plugin


async def test_site_geocoder_answers_first_and_the_gazetteer_fills_in(site, crm_pm, crm_db):
    assert crm_pm.hook.geo_geocoder() is site.backend
    assert await geocode_text("Valiasr St 1", crm_pm) == HQ
    berlin = await geocode_text("Berlin", crm_pm)
    assert berlin.name == "Berlin" and berlin.geonameid is not None
    # The site's server fails: the offline gazetteer still answers.
    assert (await geocode_text("Shiraz, broken", crm_pm)).name == "Shiraz"
    assert (await reverse_geocode(HQ.lat, HQ.lon, crm_pm)).name == "Acme HQ"
    assert (await reverse_geocode(29.61, 52.54, crm_pm)).name == "Shiraz"


async def test_contacts_get_the_site_geocoders_street_precision(site, crm_db):
    contact = await create_contact(
        {"first_name": "Acme", "street": "Valiasr St 12", "city": "Tehran", "country": "IR"},
        SYSTEM,
    )
    assert site.backend.asked == ["Valiasr St 12, Tehran, IR"]
    location = await location_of(contact_id=contact["id"])
    assert (location["lat"], location["precision_m"]) == (HQ.lat, 50)

    failing = await create_contact(
        {"first_name": "Down", "street": "broken road", "city": "Shiraz"}, SYSTEM
    )
    fallback = await location_of(contact_id=failing["id"])
    assert fallback["label"] == "Shiraz, IR" and fallback["precision_m"] == 10_000
