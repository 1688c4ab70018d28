"""Piccolo's configuration module: hands Piccolo the database this process has open."""

from typing import Any


def __getattr__(name: str) -> Any:
    from crmcore.db.runtime import current_database

    if name == "DB":
        return current_database().engine
    if name == "APP_REGISTRY":
        return current_database().registry
    raise AttributeError(name)
