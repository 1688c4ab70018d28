"""Built-in plugin `automation`: jobs, webhooks, automation rules, privacy, backups."""

from __future__ import annotations

from crmcore import __version__
from crmcore.plugins import Manifest

manifest = Manifest(
    name="automation",
    version=__version__,
    description="Background jobs, webhooks, automation rules, privacy requests and backups",
    depends=("core",),
)
