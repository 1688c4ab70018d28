"""The core CRM registered as a plugin: its Piccolo app, the contacts/companies/tags/
custom-fields API, ``crm contacts`` and the built-in contact filters.

Imports happen inside the hooks so that ``crm --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

from crmcore import __version__
from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest

manifest = Manifest(
    name="core", version=__version__, description="Contacts, companies and interactions"
)


@hookimpl(tryfirst=True)
def register_piccolo_apps() -> list[str]:
    return ["crmcore.piccolo_app"]


@hookimpl
def register_api_routes() -> list[Any]:
    from crmcore.api import core_api_handlers

    return core_api_handlers()


@hookimpl
def register_commands(cli: Any) -> None:
    from crmcore.cli.contacts import contacts

    cli.add_command(contacts)


@hookimpl(tryfirst=True)
def register_contact_filters() -> list[Any]:
    from crmcore.services.filters import CORE_FILTERS

    return list(CORE_FILTERS)


@hookimpl
def event_types() -> list[str]:
    return [
        "contact.created",
        "contact.updated",
        "contact.deleted",
        "contact.stage_changed",
        "contact.tagged",
        "contact.untagged",
        "company.created",
        "company.updated",
        "company.deleted",
        "tag.created",
        "tag.updated",
        "tag.deleted",
        "custom_field.defined",
        "custom_field.updated",
        "custom_field.deleted",
    ]
