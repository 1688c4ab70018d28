"""Spatial search and geocoding endpoints: ``/api/v1/geo/near``, ``nearest``, ``within``,
``bbox``, ``near-me``, ``geocode`` and ``reverse``."""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from crm_geo.geocoding import geocode_text, reverse_geocode
from crm_geo.geofences import get_geofence
from crm_geo.prospecting import near_me
from crm_geo.queries import KINDS, Hit, in_bbox, nearest, resolve_center, within_polygon
from crm_geo.queries import within_radius as radius_query
from crm_geo.validation import check_lat, check_lon
from crmcore.auth.guards import requires
from crmcore.errors import NotFound, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.records import plugin_manager

from .structs import CenterOut, HitOut, HitsOut, PlaceOut, ProspectOut, WithinIn

__all__ = ["GeoQueryController"]

READ = "geo.read"
Kind = Literal["contact", "company", "all"]


def _kinds(kind: str) -> tuple[str, ...]:
    return KINDS if kind == "all" else (kind,)


def _hits(hits: list[Hit]) -> list[HitOut]:
    return [msgspec.convert(hit.as_dict(), HitOut) for hit in hits]


def _limit(limit: int) -> int:
    if not 1 <= limit <= 10_000:
        raise ValidationError.for_field("limit", "must be between 1 and 10000.")
    return limit


class GeoQueryController(Controller):
    path = "/"
    tags = ["geo"]
    guards = [requires(READ)]

    @get(
        "/near",
        summary="Contacts and companies within a radius, nearest first",
        description=(
            "Measure from a point (lat, lon), a contact (contact_id), a company (company_id) "
            "or a city by name (city, English or Persian). The record measured from is left "
            "out of the results."
        ),
    )
    async def near(
        self,
        actor: NamedDependency[Actor],
        km: FromQuery[float],
        lat: FromQuery[float | None] = None,
        lon: FromQuery[float | None] = None,
        contact_id: FromQuery[int | None] = None,
        company_id: FromQuery[int | None] = None,
        city: FromQuery[str | None] = None,
        kind: FromQuery[Kind] = "all",
        limit: FromQuery[int] = 1000,
    ) -> HitsOut:
        center = await resolve_center(
            actor, lat=lat, lon=lon, contact_id=contact_id, company_id=company_id, city=city
        )
        hits = await radius_query(
            actor, center.lat, center.lon, km, kinds=_kinds(kind), limit=_limit(limit) + 1
        )
        hits = [h for h in hits if (h.kind, h.id) != (center.kind, center.id)][:limit]
        return HitsOut(items=_hits(hits), center=CenterOut(center.lat, center.lon, center.name))

    @get("/nearest", summary="The N contacts and companies nearest to a point")
    async def nearest(
        self,
        actor: NamedDependency[Actor],
        lat: FromQuery[float],
        lon: FromQuery[float],
        n: FromQuery[int] = 10,
        kind: FromQuery[Kind] = "all",
        max_km: FromQuery[float | None] = None,
    ) -> HitsOut:
        hits = await nearest(actor, lat, lon, n, kinds=_kinds(kind), max_km=max_km)
        return HitsOut(items=_hits(hits), center=CenterOut(lat, lon, ""))

    @post(
        "/within",
        summary="Contacts and companies inside a polygon or a geofence",
        status_code=200,
    )
    async def within(self, actor: NamedDependency[Actor], data: JSONBody[WithinIn]) -> HitsOut:
        has_polygon = data.polygon is not msgspec.UNSET
        has_fence = data.geofence_id is not msgspec.UNSET
        if has_polygon == has_fence:
            raise ValidationError.for_field("polygon", "give a polygon or a geofence_id.")
        limit = None if data.limit is msgspec.UNSET else _limit(data.limit)
        kinds = _kinds(data.kind)
        if has_fence:
            fence = await get_geofence(data.geofence_id, actor)  # type: ignore[arg-type]
            if fence["kind"] == "circle":
                hits = await radius_query(
                    actor,
                    fence["center_lat"],
                    fence["center_lon"],
                    fence["radius_km"],
                    kinds=kinds,
                    limit=limit,
                )
                return HitsOut(items=_hits(hits))
            polygon = fence["polygon"]
        else:
            polygon = data.polygon
        return HitsOut(items=_hits(await within_polygon(actor, polygon, kinds=kinds, limit=limit)))

    @get(
        "/bbox",
        summary="Contacts and companies inside a latitude/longitude box",
        description="min_lon greater than max_lon means the box crosses the antimeridian.",
    )
    async def bbox(
        self,
        actor: NamedDependency[Actor],
        min_lat: FromQuery[float],
        min_lon: FromQuery[float],
        max_lat: FromQuery[float],
        max_lon: FromQuery[float],
        kind: FromQuery[Kind] = "all",
        limit: FromQuery[int] = 1000,
    ) -> HitsOut:
        hits = await in_bbox(
            actor, min_lat, min_lon, max_lat, max_lon, kinds=_kinds(kind), limit=_limit(limit)
        )
        return HitsOut(items=_hits(hits))

    @get(
        "/near-me",
        summary="Prospecting: contacts and companies near a position, with owner and last "
        "interaction, nearest first",
    )
    async def near_me(
        self,
        actor: NamedDependency[Actor],
        lat: FromQuery[float],
        lon: FromQuery[float],
        km: FromQuery[float] = 10.0,
        limit: FromQuery[int] = 100,
    ) -> list[ProspectOut]:
        items = await near_me(actor, lat, lon, km, limit=_limit(limit))
        return [msgspec.convert(item, ProspectOut) for item in items]

    @get("/geocode", summary="Coordinates of a place name (offline gazetteer or the site's)")
    async def geocode(self, q: FromQuery[str]) -> PlaceOut:
        place = await geocode_text(q, plugin_manager())
        if place is None:
            raise NotFound(f"no known place is called {q!r}")
        return msgspec.convert(place, PlaceOut, from_attributes=True)

    @get("/reverse", summary="The place (town) at a position")
    async def reverse(self, lat: FromQuery[float], lon: FromQuery[float]) -> PlaceOut:
        place = await reverse_geocode(check_lat(lat), check_lon(lon), plugin_manager())
        if place is None:
            raise NotFound(f"no known town near {lat}, {lon}")
        return msgspec.convert(place, PlaceOut, from_attributes=True)
