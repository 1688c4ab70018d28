"""Built-in plugin `activity`: interactions, planned tasks, timelines and calendar feeds."""

from __future__ import annotations

from crmcore import __version__
from crmcore.plugins import Manifest

manifest = Manifest(
    name="activity",
    version=__version__,
    description="Interactions, planned tasks, timelines and calendar feeds",
    depends=("core",),
)
