"""What the geo plugin stores about a person, for privacy requests and merges."""

from __future__ import annotations

from typing import Any

from crm_geo.tables import Checkin, FencePresence, Location, LocationConsent
from crmcore.services.records import fetch, iso

__all__ = ["erase_contact", "export_contact", "move_contact_data"]


def _plain(row: dict[str, Any], drop: tuple[str, ...] = ("contact",)) -> dict[str, Any]:
    return {
        key: iso(value) if hasattr(value, "isoformat") else value
        for key, value in row.items()
        if key not in drop
    }


async def export_contact(contact_id: int) -> dict[str, Any]:
    """The contact's location, check-ins, geofence presence and consent statements."""
    args = [int(contact_id)]
    location = await fetch("SELECT * FROM geo_location WHERE contact = {}", args)
    checkins = await fetch("SELECT * FROM geo_checkin WHERE contact = {} ORDER BY at, id", args)
    presence = await fetch(
        "SELECT p.*, g.name AS geofence_name FROM geo_fence_presence p "
        "JOIN geo_geofence g ON g.id = p.geofence WHERE p.contact = {} ORDER BY p.id",
        args,
    )
    consent = await fetch(
        "SELECT * FROM geo_location_consent WHERE contact = {} ORDER BY at, id", args
    )
    return {
        "location": _plain(location[0], ("contact", "company")) if location else None,
        "checkins": [_plain(row) for row in checkins],
        "geofence_presence": [_plain(row) for row in presence],
        "location_consent": [_plain(row) for row in consent],
    }


async def erase_contact(contact_id: int) -> None:
    """Delete every geo row about the contact (inside the erasure transaction)."""
    for table in (Checkin, FencePresence, LocationConsent, Location):
        await table.delete().where(table.contact == contact_id)


async def move_contact_data(merged_id: int, survivor_id: int) -> None:
    """Inside the merge transaction: keep the merged contact's geo data on the survivor.

    Check-ins and consent statements move (the latest statement of the person still
    counts). The survivor keeps its own location and fence presence; the merged contact's
    are moved only where the survivor has none.
    """
    await Checkin.update({Checkin.contact: survivor_id}).where(Checkin.contact == merged_id)
    await LocationConsent.update({LocationConsent.contact: survivor_id}).where(
        LocationConsent.contact == merged_id
    )
    if await Location.exists().where(Location.contact == survivor_id):
        await Location.delete().where(Location.contact == merged_id)
    else:
        await Location.update({Location.contact: survivor_id}).where(Location.contact == merged_id)
    survivor_fences = [
        row["geofence"]
        for row in await fetch(
            "SELECT geofence FROM geo_fence_presence WHERE contact = {}", [survivor_id]
        )
    ]
    if survivor_fences:
        await FencePresence.delete().where(
            (FencePresence.contact == merged_id) & FencePresence.geofence.is_in(survivor_fences)
        )
    await FencePresence.update({FencePresence.contact: survivor_id}).where(
        FencePresence.contact == merged_id
    )
