"""`crm geo …`: geocoding, radius search, consent and bulk geocoding from the command line."""

from __future__ import annotations

import click


@click.group(name="geo")
def geo() -> None:
    """Locations, geocoding, geofences and location consent."""
