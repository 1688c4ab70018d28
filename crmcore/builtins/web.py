"""Built-in plugin `web`: the web pages: layout, dashboard, contacts, companies, tasks, settings."""

from __future__ import annotations

from crmcore import __version__
from crmcore.plugins import Manifest

manifest = Manifest(
    name="web",
    version=__version__,
    description="The web pages: layout, dashboard, contacts, companies, tasks, settings",
    depends=("core",),
)
