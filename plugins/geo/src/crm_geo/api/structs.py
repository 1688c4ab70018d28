"""Request and response bodies of the geo API: its contract, whatever the tables look like."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType

Lat = Annotated[float, msgspec.Meta(description="Latitude in degrees, -90..90")]
Lon = Annotated[float, msgspec.Meta(description="Longitude in degrees, -180..180")]
Vertex = Annotated[list[float], msgspec.Meta(description="[lat, lon]")]
Source = Literal["geocoded", "gps", "manual", "ip"]


def sent_fields(data: msgspec.Struct) -> dict[str, Any]:
    """The fields a client actually sent (UNSET ones dropped)."""
    return {k: v for k, v in msgspec.structs.asdict(data).items() if v is not UNSET}


class PlaceOut(msgspec.Struct):
    """A place found by geocoding; ``precision_km`` says how far the real spot may be."""

    lat: float
    lon: float
    name: str
    country_code: str
    population: int
    geonameid: int | None
    precision_km: float


class HitOut(msgspec.Struct):
    """A contact or company found by a spatial query."""

    kind: Literal["contact", "company"]
    id: int
    name: str
    lat: float
    lon: float
    distance_km: float | None
    source: str
    precision_m: int
    label: str
    location_id: int


class CenterOut(msgspec.Struct):
    lat: float
    lon: float
    name: str


class HitsOut(msgspec.Struct):
    """Query results; ``center`` is the point distances are measured from, if any."""

    items: list[HitOut]
    center: CenterOut | None = None


class ProspectOut(HitOut):
    """A contact or company near a salesperson, with who owns it and when it was last met."""

    owner_id: int | None = None
    owner_name: str = ""
    stage: str | None = None
    last_interaction_at: str | None = None


class WithinIn(msgspec.Struct, forbid_unknown_fields=True):
    """An area: a polygon of [lat, lon] vertices, or the id of a geofence."""

    polygon: list[Vertex] | Unset = UNSET
    geofence_id: int | Unset = UNSET
    kind: Literal["contact", "company", "all"] = "all"
    limit: int | Unset = UNSET


class LocationIn(msgspec.Struct, forbid_unknown_fields=True):
    """A location for exactly one of ``contact_id`` / ``company_id``."""

    lat: Lat
    lon: Lon
    contact_id: int | None = None
    company_id: int | None = None
    source: Source = "manual"
    precision_m: int = 0
    label: str = ""


class LocationPatch(msgspec.Struct, forbid_unknown_fields=True):
    lat: Lat | Unset = UNSET
    lon: Lon | Unset = UNSET
    source: Source | Unset = UNSET
    precision_m: int | Unset = UNSET
    label: str | Unset = UNSET


class LocationOut(msgspec.Struct):
    id: int
    contact_id: int | None
    company_id: int | None
    lat: float
    lon: float
    source: str
    precision_m: int
    label: str
    recorded_at: str | None


class LocationPage(msgspec.Struct):
    items: list[LocationOut]
    next: str | None


class GeofenceIn(msgspec.Struct, forbid_unknown_fields=True):
    """A circle (``center_lat``, ``center_lon``, ``radius_km``) or a polygon
    (``polygon``: [[lat, lon], …]; across the antimeridian keep longitudes continuous,
    e.g. 179 then 181)."""

    name: str
    kind: Literal["circle", "polygon"] | Unset = UNSET
    description: str = ""
    center_lat: Lat | None = None
    center_lon: Lon | None = None
    radius_km: float | None = None
    polygon: list[Vertex] | Unset = UNSET
    active: bool = True


class GeofencePatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | Unset = UNSET
    kind: Literal["circle", "polygon"] | Unset = UNSET
    description: str | Unset = UNSET
    center_lat: Lat | Unset = UNSET
    center_lon: Lon | Unset = UNSET
    radius_km: float | Unset = UNSET
    polygon: list[Vertex] | Unset = UNSET
    active: bool | Unset = UNSET


class GeofenceOut(msgspec.Struct):
    id: int
    name: str
    description: str
    kind: str
    center_lat: float | None
    center_lon: float | None
    radius_km: float | None
    polygon: list[list[float]]
    active: bool
    created_at: str | None
    updated_at: str | None


class CheckinIn(msgspec.Struct, forbid_unknown_fields=True):
    """A position reported for a contact (e.g. by a mobile app)."""

    contact_id: int
    lat: Lat
    lon: Lon
    accuracy_m: float = 0.0


class CheckinResult(msgspec.Struct):
    """What a check-in did. ``recorded`` is false, and nothing was stored, when the contact
    has not given location consent (``reason``: ``no_location_consent``)."""

    recorded: bool
    reason: str
    checkin_id: int | None
    place: str
    country_code: str
    entered: list[int]
    exited: list[int]


class CheckinOut(msgspec.Struct):
    id: int
    contact_id: int
    lat: float
    lon: float
    accuracy_m: int
    place: str
    country_code: str
    at: str | None


class ConsentIn(msgspec.Struct, forbid_unknown_fields=True):
    granted: bool
    source: str = ""


class ConsentStatement(msgspec.Struct):
    granted: bool
    source: str
    at: str | None
    recorded_by: int | None


class ConsentOut(msgspec.Struct):
    contact_id: int
    granted: bool
    source: str
    at: str | None
    recorded_by: int | None
    history: list[ConsentStatement] = []


class GeocodeRunOut(msgspec.Struct):
    id: int
    status: str
    total: int
    processed: int
    geocoded: int
    not_found: int
    percent: float
    error: str
    job_id: str
    created_at: str | None
    started_at: str | None
    finished_at: str | None
