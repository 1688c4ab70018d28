"""Hook implementations of the `marketing` plugin.

Kept light at import time: ``crm --help`` imports every enabled plugin's module.
"""

from __future__ import annotations

from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest

from crm_marketing import __version__

manifest = Manifest(
    name="marketing",
    version=__version__,
    description="Segments, templated email, drip campaigns, tracking, scoring and consent",
    depends=(),
    core=">=0.1,<0.2",
)


@hookimpl
def register_piccolo_apps() -> list[str]:
    return ["crm_marketing.piccolo_app"]
