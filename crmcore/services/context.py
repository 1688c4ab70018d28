"""The plugin manager of the running process, for services that fire hooks."""

from __future__ import annotations

from crmcore.db.runtime import current_database
from crmcore.plugins import CRMPluginManager


def current_pm() -> CRMPluginManager:
    """The manager the open database was opened with (app, CLI command or test)."""
    pm = current_database().pm
    if pm is None:
        raise RuntimeError("the database was opened without a plugin manager")
    return pm
