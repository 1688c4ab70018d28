"""Check-ins: a contact's phone reports where it is; geofence events follow.

``record_checkin`` stores the position with the town it is in (reverse geocoding), moves the
contact's last known location, and compares the geofences now containing the contact with
those it was in before. Each change fires ``geo.geofence_entered`` or ``geo.geofence_exited``
into the outbox in the same transaction, unless the same event fired for that contact and
fence within the cooldown (phones at a fence's edge flap in and out). Without location
consent nothing at all is stored or fired.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from crm_geo.consent import has_location_consent
from crm_geo.geocoding import reverse_geocode
from crm_geo.geofences import fences_at
from crm_geo.locations import location_of
from crm_geo.settings import geo_settings
from crm_geo.tables import Checkin, FencePresence, Location
from crm_geo.validation import check_lat, check_lon
from crmcore.errors import NotFound, ValidationError
from crmcore.jobs import clock
from crmcore.services.actor import Actor
from crmcore.services.audit import record_audit
from crmcore.services.outbox import emit_event
from crmcore.services.records import engine_type, fetch, iso, plugin_manager, require
from crmcore.services.transaction import write_transaction

__all__ = ["list_checkins", "record_checkin"]

CHECKIN = "geo.checkin"
READ = "geo.read"
MAX_ACCURACY_M = 1_000_000
# A check-in replaces the contact's location only when that location is itself a last-known
# position; an address (geocoded) or a hand-set point says where the person lives or works.
REPLACEABLE_SOURCES = ("gps", "ip")


def _accuracy(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError.for_field("accuracy_m", "must be a number of metres.")
    if not 0 <= value <= MAX_ACCURACY_M:
        raise ValidationError.for_field(
            "accuracy_m", f"must be between 0 and {MAX_ACCURACY_M} metres."
        )
    return int(round(value))


async def _check_contact(contact_id: int, actor: Actor) -> None:
    if not 0 < int(contact_id) < 2**31:  # beyond the id column's range: no such contact
        raise NotFound(f"contact {contact_id} does not exist")
    rows = await fetch("SELECT owner FROM contact WHERE id = {}", [int(contact_id)])
    if not rows or not (actor.sees_all_records or rows[0]["owner"] == actor.user_id):
        raise NotFound(f"contact {contact_id} does not exist")


async def _lock_contact(contact_id: int) -> None:
    """Serialise check-ins of one contact, so two arriving together cannot both see the
    contact outside a fence and both fire its event (SQLite transactions are serial anyway)."""
    if engine_type() != "sqlite":
        await fetch("SELECT id FROM contact WHERE id = {} FOR UPDATE", [contact_id])


def _cooled_down(last: datetime | None, at: datetime, cooldown: timedelta) -> bool:
    if last is None:
        return True
    if last.tzinfo is None:
        last = last.replace(tzinfo=at.tzinfo)
    return at - last >= cooldown


async def _presence(contact_id: int) -> dict[int, dict[str, Any]]:
    rows = await fetch("SELECT * FROM geo_fence_presence WHERE contact = {}", [contact_id])
    return {row["geofence"]: row for row in rows}


async def _update_location(contact_id: int, lat: float, lon: float, accuracy: int, label: str):
    current = await location_of(contact_id=contact_id)
    values = {
        Location.lat: lat,
        Location.lon: lon,
        Location.source: "gps",
        Location.precision_m: accuracy,
        Location.label: label,
        Location.recorded_at: clock.now(),
    }
    if current is None:
        await Location.insert(
            Location(
                contact=contact_id,
                lat=lat,
                lon=lon,
                source="gps",
                precision_m=accuracy,
                label=label,
                recorded_at=clock.now(),
            )
        )
    elif current["source"] in REPLACEABLE_SOURCES:
        await Location.update(values).where(Location.id == current["id"])


async def _fence_events(
    contact_id: int, checkin: dict[str, Any], fences: list[dict[str, Any]], cooldown: timedelta
) -> tuple[list[int], list[int]]:
    """Move the contact's presence to ``fences``; emit the events the cooldown allows."""
    at = checkin["at_dt"]
    before = await _presence(contact_id)
    now_inside = {fence["id"]: fence for fence in fences}
    entered: list[int] = []
    exited: list[int] = []
    for fence_id, fence in now_inside.items():
        row = before.get(fence_id)
        if row is not None and row["inside"]:
            continue
        fire = _cooled_down(row["last_entered_event_at"] if row else None, at, cooldown)
        if row is None:
            await FencePresence.insert(
                FencePresence(
                    contact=contact_id,
                    geofence=fence_id,
                    inside=True,
                    changed_at=at,
                    last_entered_event_at=at if fire else None,
                )
            )
        else:
            values: dict[Any, Any] = {FencePresence.inside: True, FencePresence.changed_at: at}
            if fire:
                values[FencePresence.last_entered_event_at] = at
            await FencePresence.update(values).where(FencePresence.id == row["id"])
        if fire:
            entered.append(fence_id)
            await emit_event("geo.geofence_entered", _payload(contact_id, fence, checkin))
    exited_rows = [r for f, r in before.items() if r["inside"] and f not in now_inside]
    fence_names: dict[int, str] = {}
    if exited_rows:
        names = await fetch(
            "SELECT id, name FROM geo_geofence WHERE id IN ("
            + ", ".join("{}" for _ in exited_rows)
            + ")",
            [r["geofence"] for r in exited_rows],
        )
        fence_names = {row["id"]: row["name"] for row in names}
    for row in exited_rows:
        fire = _cooled_down(row["last_exited_event_at"], at, cooldown)
        values = {FencePresence.inside: False, FencePresence.changed_at: at}
        if fire:
            values[FencePresence.last_exited_event_at] = at
        await FencePresence.update(values).where(FencePresence.id == row["id"])
        if fire:
            exited.append(row["geofence"])
            fence = {"id": row["geofence"], "name": fence_names.get(row["geofence"], "")}
            await emit_event("geo.geofence_exited", _payload(contact_id, fence, checkin))
    return entered, exited


def _payload(contact_id: int, fence: dict[str, Any], checkin: dict[str, Any]) -> dict[str, Any]:
    return {
        "contact_id": contact_id,
        "geofence_id": fence["id"],
        "geofence_name": fence["name"],
        "checkin_id": checkin["id"],
        "lat": checkin["lat"],
        "lon": checkin["lon"],
        "accuracy_m": checkin["accuracy_m"],
        "at": checkin["at"],
    }


async def record_checkin(
    contact_id: int, lat: Any, lon: Any, accuracy_m: Any, actor: Actor
) -> dict[str, Any]:
    """Record where the contact is and fire the geofence events it causes.

    Returns ``{recorded, reason, checkin_id, place, country_code, entered, exited}``;
    ``recorded`` is false (and nothing was stored) when the contact has not given location
    consent.
    """
    require(actor, CHECKIN)
    lat, lon, accuracy = check_lat(lat), check_lon(lon), _accuracy(accuracy_m)
    await _check_contact(contact_id, actor)
    outcome: dict[str, Any] = {
        "recorded": False,
        "reason": "",
        "checkin_id": None,
        "place": "",
        "country_code": "",
        "entered": [],
        "exited": [],
    }
    if not await has_location_consent(contact_id):
        outcome["reason"] = "no_location_consent"
        return outcome
    pm = plugin_manager()
    settings = geo_settings(pm)
    place = await reverse_geocode(lat, lon, pm)
    label = place.name if place else ""
    at = clock.now()
    async with write_transaction():
        await _lock_contact(contact_id)
        # Consent is read again inside the transaction: a revocation committed meanwhile wins.
        if not await has_location_consent(contact_id):
            outcome["reason"] = "no_location_consent"
            return outcome
        rows = await Checkin.insert(
            Checkin(
                contact=contact_id,
                lat=lat,
                lon=lon,
                accuracy_m=accuracy,
                place=label,
                country_code=place.country_code if place else "",
                at=at,
            )
        )
        checkin = {
            "id": rows[0]["id"],
            "lat": lat,
            "lon": lon,
            "accuracy_m": accuracy,
            "at": iso(at),
            "at_dt": at,
        }
        await _update_location(contact_id, lat, lon, accuracy, label)
        entered: list[int] = []
        exited: list[int] = []
        if accuracy <= settings.max_checkin_accuracy_m:
            entered, exited = await _fence_events(
                contact_id,
                checkin,
                await fences_at(lat, lon),
                timedelta(minutes=settings.cooldown_minutes),
            )
        await record_audit(
            table="geo_checkin",
            record_id=checkin["id"],
            action="create",
            changes={
                "contact_id": [None, contact_id],
                "lat": [None, lat],
                "lon": [None, lon],
                "accuracy_m": [None, accuracy],
            },
            actor=actor,
            plugin="geo",
        )
    outcome.update(
        recorded=True,
        checkin_id=checkin["id"],
        place=label,
        country_code=place.country_code if place else "",
        entered=entered,
        exited=exited,
    )
    return outcome


async def list_checkins(actor: Actor, contact_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """A contact's check-ins, newest first."""
    require(actor, READ)
    await _check_contact(contact_id, actor)
    if not 1 <= limit <= 500:
        raise ValidationError.for_field("limit", "must be between 1 and 500.")
    rows = await fetch(
        f"SELECT * FROM geo_checkin WHERE contact = {{}} ORDER BY at DESC, id DESC LIMIT {limit}",
        [int(contact_id)],
    )
    return [
        {
            "id": row["id"],
            "contact_id": row["contact"],
            "lat": row["lat"],
            "lon": row["lon"],
            "accuracy_m": row["accuracy_m"],
            "place": row["place"],
            "country_code": row["country_code"],
            "at": iso(row["at"]),
        }
        for row in rows
    ]
