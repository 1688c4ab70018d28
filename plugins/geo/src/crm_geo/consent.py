"""Location consent: may the CRM track where this person is?

Kept apart from marketing consent on purpose: agreeing to newsletters is not agreeing to be
located. Each statement is a row (who recorded it, from which source, when); the latest one
counts. Without a granting statement check-ins are refused and store nothing. Revoking
deletes what tracking produced (check-ins, geofence presence, a GPS or IP location) and keeps
the address-based location, which comes from data the CRM holds anyway.
"""

from __future__ import annotations

from typing import Any

from crm_geo.tables import Checkin, FencePresence, Location, LocationConsent
from crmcore.errors import NotFound, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import record_audit
from crmcore.services.outbox import emit_event
from crmcore.services.records import fetch, iso, require
from crmcore.services.transaction import write_transaction

__all__ = ["consent_history", "has_location_consent", "location_consent", "set_location_consent"]

READ = "geo.read"
WRITE = "geo.write"
TRACKED_SOURCES = ("gps", "ip")


def _as_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "granted": bool(row["granted"]),
        "source": row["source"],
        "at": iso(row["at"]),
        "recorded_by": row["recorded_by"],
    }


async def _check_contact(contact_id: int, actor: Actor) -> None:
    if not 0 < int(contact_id) < 2**31:  # beyond the id column's range: no such contact
        raise NotFound(f"contact {contact_id} does not exist")
    rows = await fetch("SELECT owner FROM contact WHERE id = {}", [int(contact_id)])
    if not rows or not (actor.sees_all_records or rows[0]["owner"] == actor.user_id):
        raise NotFound(f"contact {contact_id} does not exist")


async def _latest(contact_id: int) -> dict[str, Any] | None:
    rows = await fetch(
        "SELECT * FROM geo_location_consent WHERE contact = {} ORDER BY at DESC, id DESC LIMIT 1",
        [int(contact_id)],
    )
    return rows[0] if rows else None


async def has_location_consent(contact_id: int) -> bool:
    """Whether the contact's latest statement grants location tracking."""
    latest = await _latest(contact_id)
    return bool(latest and latest["granted"])


async def location_consent(contact_id: int, actor: Actor) -> dict[str, Any]:
    """``{contact_id, granted, source, at, recorded_by}``; never asked: not granted."""
    require(actor, READ)
    await _check_contact(contact_id, actor)
    latest = await _latest(contact_id)
    if latest is None:
        return {
            "contact_id": contact_id,
            "granted": False,
            "source": "",
            "at": None,
            "recorded_by": None,
        }
    return {"contact_id": contact_id, **_as_dict(latest)}


async def consent_history(contact_id: int, actor: Actor) -> list[dict[str, Any]]:
    """Every statement, oldest first: the proof of what the person agreed to, and when."""
    require(actor, READ)
    await _check_contact(contact_id, actor)
    rows = await fetch(
        "SELECT * FROM geo_location_consent WHERE contact = {} ORDER BY at, id", [int(contact_id)]
    )
    return [_as_dict(row) for row in rows]


async def set_location_consent(
    contact_id: int, granted: bool, source: str, actor: Actor
) -> dict[str, Any]:
    """Record that the contact granted or revoked location tracking (``source``: where the
    statement came from, e.g. "mobile app", "signed form"). Revoking erases tracking data."""
    require(actor, WRITE)
    if not isinstance(granted, bool):
        raise ValidationError.for_field("granted", "must be true or false.")
    source = (source or "").strip()
    if len(source) > 100:
        raise ValidationError.for_field("source", "must be at most 100 characters.")
    await _check_contact(contact_id, actor)
    async with write_transaction():
        rows = await LocationConsent.insert(
            LocationConsent(
                contact=contact_id, granted=granted, source=source, recorded_by=actor.user_id
            )
        )
        consent_id = rows[0]["id"]
        if not granted:
            await Checkin.delete().where(Checkin.contact == contact_id)
            await FencePresence.delete().where(FencePresence.contact == contact_id)
            await Location.delete().where(
                (Location.contact == contact_id) & Location.source.is_in(list(TRACKED_SOURCES))
            )
        await record_audit(
            table="geo_location_consent",
            record_id=consent_id,
            action="create",
            changes={
                "contact_id": [None, contact_id],
                "granted": [None, granted],
                "source": [None, source],
            },
            actor=actor,
            plugin="geo",
        )
        state = await location_consent(contact_id, actor)
        await emit_event("geo.consent_changed", state)
    return state
