"""The geo plugin's contact filters: ``geo.within_km`` and ``geo.inside_area``.

Registered through ``register_contact_filters``, so the contacts API and list, marketing
segments and automation rules can target "customers within 5 km of the new branch" or
"everyone inside the Mall geofence". Each compiles to one SQL expression over ``contact``
that reaches ``geo_location`` through its spatial index and then tests exactly.

Neither compares a field of ``contact`` (only geo's own ``geo_location`` and
``geo_geofence``), so neither declares ``reads``: field-level access on contacts never
refuses them. A geo filter that compared, say, ``contact.city`` would declare it.
"""

from __future__ import annotations

from typing import Any

from crm_geo import sql as geo_sql
from crm_geo.spatial import bounding_box
from crm_geo.validation import check_km, check_lat, check_lon
from crmcore.errors import ValidationError
from crmcore.services.filters import ContactFilter

__all__ = ["GEO_FILTERS", "inside_area", "within_km"]


def _checked(check: Any, params: dict[str, Any], name: str, filter_name: str) -> Any:
    value = params.get(name)
    if value is None or str(value).strip() == "":
        raise ValidationError.for_field(
            "filters", f"the filter {filter_name!r} needs a value for {name!r}."
        )
    try:
        return check(value, name)
    except ValidationError as exc:
        raise ValidationError.for_field("filters", f"{filter_name!r}: {exc.message}") from None


def within_km(params: dict[str, Any], engine_type: str) -> tuple[str, list[Any]]:
    """Contacts whose location is within ``km`` of (``lat``, ``lon``)."""
    name = "geo.within_km"
    lat = _checked(check_lat, params, "lat", name)
    lon = _checked(check_lon, params, "lon", name)
    km = _checked(check_km, params, "km", name)
    index, index_args = geo_sql.box_condition(engine_type, bounding_box(lat, lon, km))
    distance, distance_args = geo_sql.distance_sql(engine_type, lat, lon)
    return (
        "contact.id IN (SELECT l.contact FROM geo_location l WHERE l.contact IS NOT NULL "
        f"AND {index} AND {distance} <= {{}})",
        [*index_args, *distance_args, km],
    )


def _fence_id(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise ValidationError.for_field(field, "must be a geofence id.")
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValidationError.for_field(field, f"must be a geofence id, got {value!r}.") from None


def inside_area(params: dict[str, Any], engine_type: str) -> tuple[str, list[Any]]:
    """Contacts whose location lies inside the geofence ``geofence_id`` (circle or polygon).

    The fence is read by the query itself, so a segment follows the fence when it is edited.
    """
    fence_id = _checked(_fence_id, params, "geofence_id", "geo.inside_area")
    return (
        "contact.id IN (SELECT l.contact FROM geo_geofence g, geo_location l "
        f"WHERE g.id = {{}} AND l.contact IS NOT NULL AND {geo_sql.fence_condition(engine_type)})",
        [fence_id],
    )


GEO_FILTERS: tuple[ContactFilter, ...] = (
    ContactFilter(
        "geo.within_km",
        "Within a distance of a point",
        {"lat": "Latitude", "lon": "Longitude", "km": "Distance (km)"},
        within_km,
    ),
    ContactFilter(
        "geo.inside_area",
        "Inside a geofence",
        {"geofence_id": "Geofence id"},
        inside_area,
    ),
)
