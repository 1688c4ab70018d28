"""Geo records over HTTP: locations, geofences, check-ins, location consent, geocoding runs.

Handlers only translate HTTP to the services, which hold every rule.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from crm_geo.auto_geocode import geocode_record
from crm_geo.bulk import get_run, list_runs, start_geocode_run
from crm_geo.checkins import list_checkins, record_checkin
from crm_geo.consent import consent_history, location_consent, set_location_consent
from crm_geo.geofences import (
    create_geofence,
    delete_geofence,
    get_geofence,
    list_geofences,
    update_geofence,
)
from crm_geo.locations import (
    create_location,
    delete_location,
    get_location,
    list_locations,
    update_location,
)
from crmcore.auth.guards import requires
from crmcore.services.actor import Actor

from .structs import (
    CheckinIn,
    CheckinOut,
    CheckinResult,
    ConsentIn,
    ConsentOut,
    ConsentStatement,
    GeocodeRunOut,
    GeofenceIn,
    GeofenceOut,
    GeofencePatch,
    LocationIn,
    LocationOut,
    LocationPage,
    LocationPatch,
    sent_fields,
)

__all__ = [
    "CheckinController",
    "ConsentController",
    "GeocodeRunController",
    "GeofenceController",
    "LocationController",
]

READ, WRITE, CHECKIN = "geo.read", "geo.write", "geo.checkin"


def _out(struct: type[Any], value: Any) -> Any:
    return msgspec.convert(value, struct)


class LocationController(Controller):
    path = "/locations"
    tags = ["geo"]

    @get("/", summary="Locations, newest first", guards=[requires(READ)])
    async def index(
        self,
        actor: NamedDependency[Actor],
        contact_id: FromQuery[int | None] = None,
        company_id: FromQuery[int | None] = None,
        source: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 50,
    ) -> LocationPage:
        items, next_cursor = await list_locations(
            actor,
            contact_id=contact_id,
            company_id=company_id,
            source=source,
            cursor=cursor,
            limit=limit,
        )
        return LocationPage(items=[_out(LocationOut, i) for i in items], next=next_cursor)

    @post("/", summary="Give a contact or company its location", guards=[requires(WRITE)])
    async def create(
        self, actor: NamedDependency[Actor], data: JSONBody[LocationIn]
    ) -> LocationOut:
        return _out(LocationOut, await create_location(msgspec.structs.asdict(data), actor))

    @get("/{location_id:int}", summary="One location", guards=[requires(READ)])
    async def show(self, actor: NamedDependency[Actor], location_id: FromPath[int]) -> LocationOut:
        return _out(LocationOut, await get_location(location_id, actor))

    @patch("/{location_id:int}", summary="Move or relabel a location", guards=[requires(WRITE)])
    async def update(
        self,
        actor: NamedDependency[Actor],
        location_id: FromPath[int],
        data: JSONBody[LocationPatch],
    ) -> LocationOut:
        return _out(LocationOut, await update_location(location_id, sent_fields(data), actor))

    @delete("/{location_id:int}", summary="Forget a location", guards=[requires(WRITE)])
    async def remove(self, actor: NamedDependency[Actor], location_id: FromPath[int]) -> None:
        await delete_location(location_id, actor)


class GeofenceController(Controller):
    path = "/geofences"
    tags = ["geo"]

    @get("/", summary="Geofences by name", guards=[requires(READ)])
    async def index(
        self, actor: NamedDependency[Actor], active: FromQuery[bool | None] = None
    ) -> list[GeofenceOut]:
        return [_out(GeofenceOut, f) for f in await list_geofences(actor, active=active)]

    @post("/", summary="Create a circle or polygon geofence", guards=[requires(WRITE)])
    async def create(
        self, actor: NamedDependency[Actor], data: JSONBody[GeofenceIn]
    ) -> GeofenceOut:
        return _out(GeofenceOut, await create_geofence(sent_fields(data), actor))

    @get("/{fence_id:int}", summary="One geofence", guards=[requires(READ)])
    async def show(self, actor: NamedDependency[Actor], fence_id: FromPath[int]) -> GeofenceOut:
        return _out(GeofenceOut, await get_geofence(fence_id, actor))

    @patch("/{fence_id:int}", summary="Change a geofence", guards=[requires(WRITE)])
    async def update(
        self,
        actor: NamedDependency[Actor],
        fence_id: FromPath[int],
        data: JSONBody[GeofencePatch],
    ) -> GeofenceOut:
        return _out(GeofenceOut, await update_geofence(fence_id, sent_fields(data), actor))

    @delete("/{fence_id:int}", summary="Delete a geofence", guards=[requires(WRITE)])
    async def remove(self, actor: NamedDependency[Actor], fence_id: FromPath[int]) -> None:
        await delete_geofence(fence_id, actor)


class CheckinController(Controller):
    path = "/checkins"
    tags = ["geo"]

    @post(
        "/",
        summary="Report where a contact is (mobile apps); fires geofence events",
        description=(
            "Stores the position, names the town it is in, and fires geo.geofence_entered / "
            "geo.geofence_exited outbox events (with a per-contact cooldown). Without the "
            "contact's location consent nothing is stored and recorded is false."
        ),
        guards=[requires(CHECKIN)],
        status_code=200,
    )
    async def create(
        self, actor: NamedDependency[Actor], data: JSONBody[CheckinIn]
    ) -> CheckinResult:
        outcome = await record_checkin(data.contact_id, data.lat, data.lon, data.accuracy_m, actor)
        return _out(CheckinResult, outcome)

    @get("/", summary="A contact's check-ins, newest first", guards=[requires(READ)])
    async def index(
        self, actor: NamedDependency[Actor], contact_id: FromQuery[int], limit: FromQuery[int] = 50
    ) -> list[CheckinOut]:
        return [_out(CheckinOut, c) for c in await list_checkins(actor, contact_id, limit)]


class ConsentController(Controller):
    path = "/consents"
    tags = ["geo"]

    @get("/{contact_id:int}", summary="A contact's location consent", guards=[requires(READ)])
    async def show(self, actor: NamedDependency[Actor], contact_id: FromPath[int]) -> ConsentOut:
        state = await location_consent(contact_id, actor)
        history = await consent_history(contact_id, actor)
        return ConsentOut(**state, history=[_out(ConsentStatement, h) for h in history])

    @put(
        "/{contact_id:int}",
        summary="Record that a contact granted or revoked location tracking",
        description="Revoking deletes the contact's check-ins, geofence presence and GPS/IP "
        "location.",
        guards=[requires(WRITE)],
    )
    async def update(
        self, actor: NamedDependency[Actor], contact_id: FromPath[int], data: JSONBody[ConsentIn]
    ) -> ConsentOut:
        state = await set_location_consent(contact_id, data.granted, data.source, actor)
        history = await consent_history(contact_id, actor)
        return ConsentOut(**state, history=[_out(ConsentStatement, h) for h in history])


class GeocodeRunController(Controller):
    path = "/geocode-runs"
    tags = ["geo"]

    @post(
        "/",
        summary="Geocode every contact and company without a location, in the background",
        guards=[requires(WRITE)],
        status_code=202,
    )
    async def create(self, actor: NamedDependency[Actor]) -> GeocodeRunOut:
        return _out(GeocodeRunOut, await start_geocode_run(actor))

    @get("/", summary="Recent geocoding runs", guards=[requires(READ)])
    async def index(self, actor: NamedDependency[Actor]) -> list[GeocodeRunOut]:
        return [_out(GeocodeRunOut, run) for run in await list_runs(actor)]

    @get("/{run_id:int}", summary="A geocoding run and its progress", guards=[requires(READ)])
    async def show(self, actor: NamedDependency[Actor], run_id: FromPath[int]) -> GeocodeRunOut:
        return _out(GeocodeRunOut, await get_run(run_id, actor))


@post(
    "/contacts/{contact_id:int}/geocode",
    summary="Geocode one contact's address now (replaces only an address-based location)",
    guards=[requires(WRITE)],
    tags=["geo"],
    status_code=200,
)
async def geocode_contact(
    actor: NamedDependency[Actor], contact_id: FromPath[int], force: FromQuery[bool] = False
) -> LocationOut | None:
    location = await geocode_record("contact", contact_id, actor, force=force)
    return _out(LocationOut, location) if location is not None else None
