"""Built-in plugin `data`: import, export, duplicate detection and merge."""

from __future__ import annotations

from crmcore import __version__
from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest

manifest = Manifest(
    name="data",
    version=__version__,
    description="Import, export, duplicate detection and merge",
    depends=("core",),
)


@hookimpl
def register_piccolo_apps() -> list[str]:
    return ["crmcore.data_app.piccolo_app"]
