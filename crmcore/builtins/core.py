"""The core CRM registered as a plugin: its Piccolo app and its commands."""

from __future__ import annotations

from crmcore import __version__
from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest

manifest = Manifest(
    name="core", version=__version__, description="Contacts, companies and interactions"
)


@hookimpl(tryfirst=True)
def register_piccolo_apps() -> list[str]:
    return ["crmcore.piccolo_app"]
