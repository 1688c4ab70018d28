"""Geocoding contacts and companies from their address, one at a time.

Called after a contact or company is saved (``contact_saved`` / ``company_saved``) when its
address changed, and by ``crm geo geocode`` for one record. Only locations that came from an
address are replaced: a hand-set point or a GPS position is better than a city centre.
"""

from __future__ import annotations

import logging
from typing import Any

from crm_geo.gazetteer import GeocodeResult
from crm_geo.geocoding import geocode_address
from crm_geo.locations import delete_location, location_of, save_location
from crm_geo.settings import geo_settings
from crmcore.errors import NotFound
from crmcore.services.actor import SYSTEM, Actor
from crmcore.services.records import fetch, plugin_manager

__all__ = ["ADDRESS_FIELDS", "geocode_after_save", "geocode_record", "location_label"]

log = logging.getLogger("crm_geo.auto_geocode")

ADDRESS_FIELDS = ("street", "city", "region", "postal_code", "country")


def location_label(result: GeocodeResult) -> str:
    return f"{result.name}, {result.country_code}" if result.country_code else result.name


async def _address(kind: str, ident: int) -> dict[str, Any] | None:
    table = "contact" if kind == "contact" else "company"
    rows = await fetch(
        f"SELECT id, street, city, region, postal_code, country FROM {table} WHERE id = {{}}",
        [int(ident)],
    )
    return rows[0] if rows else None


async def geocode_record(
    kind: str, ident: int, actor: Actor = SYSTEM, *, force: bool = False
) -> dict[str, Any] | None:
    """Geocode the address of a contact or company and store the result as its location.

    Returns the stored location, or ``None`` when the address names no known place or the
    record has a better location (manual, GPS) and ``force`` is false. An address-based
    location whose address no longer resolves is removed rather than left pointing at the
    old town.
    """
    record = await _address(kind, ident)
    if record is None:
        raise NotFound(f"{kind} {ident} does not exist")
    current = await location_of(**{f"{kind}_id": ident})
    if current is not None and current["source"] != "geocoded" and not force:
        return None
    found = await geocode_address(record, plugin_manager())
    if found is None:
        if current is not None and current["source"] == "geocoded":
            await delete_location(current["id"], actor)
        return None
    return await save_location(
        actor,
        lat=found.lat,
        lon=found.lon,
        source="geocoded",
        precision_m=int(found.precision_km * 1000),
        label=location_label(found),
        **{f"{kind}_id": ident},
    )


async def geocode_after_save(
    kind: str, record: dict[str, Any], created: bool, changes: dict[str, Any]
) -> None:
    """The ``contact_saved``/``company_saved`` side: geocode when the address changed."""
    if not geo_settings(plugin_manager()).geocode_on_save:
        return
    if not created and not any(field in changes for field in ADDRESS_FIELDS):
        return
    if created and not any(record.get(field) for field in ADDRESS_FIELDS):
        return
    await geocode_record(kind, record["id"])
