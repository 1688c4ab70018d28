"""Hooks the `geo` plugin offers to other plugins (added through ``register_hookspecs``)."""

from __future__ import annotations

from typing import Any

from crmcore.hookspecs import hookspec


@hookspec(firstresult=True)
def geo_geocoder() -> Any:
    """Return a :class:`crm_geo.gazetteer.GeocoderBackend` to geocode addresses and check-ins
    with (e.g. a client of the site's own Nominatim), or ``None`` to leave it to others.

    The first backend returned is used; the bundled offline gazetteer answers whenever that
    backend finds nothing or fails, so geocoding keeps working without a network. The backend
    receives the whole address ("Valiasr St 12, 1968 Tehran, IR"), while the gazetteer only
    needs the city and country.
    """
