"""The geo plugin's REST API, mounted under ``/api/v1/geo/``."""

from __future__ import annotations

from typing import Any

__all__ = ["api_handlers"]


def api_handlers() -> list[Any]:
    from .queries import GeoQueryController
    from .records import (
        CheckinController,
        ConsentController,
        GeocodeRunController,
        GeofenceController,
        LocationController,
        geocode_contact,
    )

    return [
        GeoQueryController,
        LocationController,
        GeofenceController,
        CheckinController,
        ConsentController,
        GeocodeRunController,
        geocode_contact,
    ]
