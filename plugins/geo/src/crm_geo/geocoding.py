"""Addresses to coordinates and back: the site's geocoder if a plugin offers one, else (and
whenever it finds nothing or fails) the offline gazetteer shipped with the plugin.

A site backend (the ``geo_geocoder`` hook) gets the whole address; the gazetteer knows
cities, so it gets "city, country" (or the region when the city is empty).
"""

from __future__ import annotations

import logging
from typing import Any

from crm_geo.gazetteer import GeocoderBackend, GeocodeResult, OfflineGeocoder
from crm_geo.spatial import haversine_km

__all__ = [
    "REVERSE_MAX_KM",
    "address_text",
    "city_text",
    "geocode_address",
    "geocode_text",
    "reverse_geocode",
    "site_backend",
]

log = logging.getLogger("crm_geo.geocoding")

REVERSE_MAX_KM = 50.0
"""A check-in farther than this from any known city is not named after one."""

_offline = OfflineGeocoder()


def site_backend(pm: Any) -> GeocoderBackend | None:
    """The backend a plugin returned from ``geo_geocoder``, if any."""
    if pm is None or not hasattr(pm.hook, "geo_geocoder"):
        return None
    backend = pm.hook.geo_geocoder()
    if backend is not None and not isinstance(backend, GeocoderBackend):
        log.warning("geo_geocoder returned %r, which lacks geocode/reverse; ignored", backend)
        return None
    return backend


async def _ask_site(pm: Any, method: str, *args: Any) -> GeocodeResult | None:
    backend = site_backend(pm)
    if backend is None:
        return None
    try:
        return await getattr(backend, method)(*args)
    except Exception:
        log.exception("the site geocoder failed on %s%r; using the offline gazetteer", method, args)
        return None


async def geocode_text(text: str, pm: Any = None) -> GeocodeResult | None:
    """The place a free-text location names ("Shiraz", "تهران", "Berlin, DE"), or ``None``."""
    text = (text or "").strip()
    if not text:
        return None
    return await _ask_site(pm, "geocode", text) or await _offline.geocode(text)


def address_text(record: dict[str, Any]) -> str:
    """The full postal address of a contact or company, for a street-level geocoder."""
    town = " ".join(p for p in (record.get("postal_code"), record.get("city")) if p)
    parts = (record.get("street"), town, record.get("region"), record.get("country"))
    return ", ".join(p.strip() for p in parts if p and p.strip())


def city_text(record: dict[str, Any]) -> str:
    """What the gazetteer can resolve: the city (else the region) and the country code."""
    place = (record.get("city") or "").strip() or (record.get("region") or "").strip()
    if not place:
        return ""
    country = (record.get("country") or "").strip()
    return f"{place}, {country}" if country else place


async def geocode_address(record: dict[str, Any], pm: Any = None) -> GeocodeResult | None:
    """Coordinates for a contact's or company's address, or ``None`` if it names no place."""
    full = address_text(record)
    if full:
        found = await _ask_site(pm, "geocode", full)
        if found is not None:
            return found
    city = city_text(record)
    return await _offline.geocode(city) if city else None


async def reverse_geocode(lat: float, lon: float, pm: Any = None) -> GeocodeResult | None:
    """The place at a position (a check-in's town), or ``None`` out at sea or in the wild."""
    found = await _ask_site(pm, "reverse", lat, lon)
    if found is not None:
        return found
    found = await _offline.reverse(lat, lon)
    if found is None or haversine_km(lat, lon, found.lat, found.lon) > REVERSE_MAX_KM:
        return None
    return found
