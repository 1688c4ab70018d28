"""Hook implementations of the `geo` plugin.

Kept light at import time: ``crm --help`` imports every enabled plugin's module.
"""

from __future__ import annotations

from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest

from crm_geo import __version__

manifest = Manifest(
    name="geo",
    version=__version__,
    description="Offline geocoding, spatial search, geofences and maps",
    depends=(),
    core=">=0.1,<0.2",
)


@hookimpl
def register_piccolo_apps() -> list[str]:
    return ["crm_geo.piccolo_app"]
