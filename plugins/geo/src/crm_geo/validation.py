"""Checks on coordinates, radii and polygons that every door (API, CLI, filters) shares."""

from __future__ import annotations

import math
from typing import Any

from crm_geo.spatial import EARTH_RADIUS_KM
from crmcore.errors import ValidationError

__all__ = [
    "MAX_POLYGON_VERTICES",
    "MAX_RADIUS_KM",
    "check_km",
    "check_lat",
    "check_lon",
    "check_polygon",
]

MAX_RADIUS_KM = math.pi * EARTH_RADIUS_KM
"""Half the circumference: every point on Earth is within this distance."""

MAX_POLYGON_VERTICES = 500


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool):
        raise ValidationError.for_field(field, "must be a number.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError.for_field(field, f"must be a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise ValidationError.for_field(field, "must be a finite number.")
    return number


def check_lat(value: Any, field: str = "lat") -> float:
    lat = _number(value, field)
    if not -90.0 <= lat <= 90.0:
        raise ValidationError.for_field(field, f"must be between -90 and 90, got {lat}.")
    return lat


def check_lon(value: Any, field: str = "lon") -> float:
    """A longitude in [-180, 180]; 180 is stored as -180, the same meridian."""
    lon = _number(value, field)
    if not -180.0 <= lon <= 180.0:
        raise ValidationError.for_field(field, f"must be between -180 and 180, got {lon}.")
    return -180.0 if lon == 180.0 else lon


def check_km(value: Any, field: str = "km") -> float:
    km = _number(value, field)
    if not 0.0 <= km <= MAX_RADIUS_KM:
        raise ValidationError.for_field(
            field, f"must be between 0 and {MAX_RADIUS_KM:.0f} km, got {km}."
        )
    return km


def check_polygon(value: Any, field: str = "polygon") -> list[tuple[float, float]]:
    """A list of at least 3 [lat, lon] pairs with continuous longitudes (a fence across the
    antimeridian may run past 180, e.g. 179 then 181), spanning less than half a turn."""
    if not isinstance(value, list | tuple) or len(value) < 3:
        raise ValidationError.for_field(field, "must be a list of at least 3 [lat, lon] pairs.")
    if len(value) > MAX_POLYGON_VERTICES:
        raise ValidationError.for_field(
            field, f"may have at most {MAX_POLYGON_VERTICES} vertices, got {len(value)}."
        )
    vertices = []
    for index, pair in enumerate(value):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValidationError.for_field(field, f"vertex {index} must be a [lat, lon] pair.")
        lat = check_lat(pair[0], field)
        lon = _number(pair[1], field)
        if not -540.0 <= lon <= 540.0:
            raise ValidationError.for_field(field, f"vertex {index}: longitude {lon} is off.")
        vertices.append((lat, lon))
    if vertices[0] == vertices[-1]:
        vertices.pop()
    lons = [lon for _lat, lon in vertices]
    if len(vertices) < 3:
        raise ValidationError.for_field(field, "needs at least 3 distinct vertices.")
    if max(lons) - min(lons) >= 180.0:
        raise ValidationError.for_field(
            field,
            "spans 180 degrees of longitude or more; across the antimeridian write "
            "continuous longitudes (179, 181) instead of jumping (179, -179).",
        )
    return vertices
