"""Hook implementations of the `geo` plugin.

Kept light at import time: ``crm --help`` imports every enabled plugin's module, so the
modules that pull in Litestar, click, the tables or the gazetteer are imported inside the
hooks that need them.
"""

from __future__ import annotations

from typing import Any

from crm_geo import __version__
from crmcore.hookspecs import hookimpl
from crmcore.permissions import Permission
from crmcore.plugins import Manifest

manifest = Manifest(
    name="geo",
    version=__version__,
    description="Offline geocoding, spatial search, geofences and maps",
    depends=(),
    core=">=0.1,<0.2",
)

READ = "geo.read"
WRITE = "geo.write"
CHECKIN = "geo.checkin"

EVENTS = (
    "geo.location_set",
    "geo.location_deleted",
    "geo.geofence_created",
    "geo.geofence_updated",
    "geo.geofence_deleted",
    "geo.geofence_entered",
    "geo.geofence_exited",
    "geo.consent_changed",
    "geo.geocode_run_finished",
)


@hookimpl
def register_piccolo_apps() -> list[str]:
    return ["crm_geo.piccolo_app"]


@hookimpl
def register_hookspecs() -> list[object]:
    from crm_geo import hookspecs

    return [hookspecs]


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission(READ, "See locations, geofences, check-ins and the map"),
        Permission(WRITE, "Set locations, manage geofences and location consent, geocode"),
        Permission(CHECKIN, "Report check-ins (positions) of contacts, e.g. from a mobile app"),
    ]


@hookimpl
def event_types() -> list[str]:
    return list(EVENTS)


@hookimpl
def register_contact_filters() -> list[Any]:
    from crm_geo.filters import GEO_FILTERS

    return list(GEO_FILTERS)


@hookimpl
def register_jobs() -> list[Any]:
    from crm_geo.bulk import JOBS

    return list(JOBS)


@hookimpl
def register_api_routes() -> list[Any]:
    from crm_geo.api import api_handlers

    return api_handlers()


@hookimpl
def register_routes() -> list[Any]:
    from crm_geo.pages import page_handlers

    return page_handlers()


@hookimpl
def register_commands(cli: Any) -> None:
    from crm_geo.commands import geo

    cli.add_command(geo)


@hookimpl
def menu_links(request: Any) -> list[Any]:
    from crmcore.web.hooks import MenuLink
    from crmcore.web.templating import translator_for

    label = translator_for(request).gettext("Map")
    return [MenuLink(label=label, url="/geo/map", order=60, permission=READ)]


@hookimpl
async def contact_panels(request: Any, contact: dict[str, Any]) -> list[Any]:
    from crm_geo.panels import contact_panel

    return await contact_panel(request, contact)


@hookimpl
async def contact_saved(contact: Any, created: bool, changes: dict[str, Any], actor: Any) -> None:
    from crm_geo.auto_geocode import geocode_after_save

    await geocode_after_save("contact", contact, created, changes)


@hookimpl
async def company_saved(company: Any, created: bool, changes: dict[str, Any], actor: Any) -> None:
    from crm_geo.auto_geocode import geocode_after_save

    await geocode_after_save("company", company, created, changes)


@hookimpl
async def demo_data_created(contact_ids: list[int], company_ids: list[int]) -> None:
    import logging

    from crm_geo.bulk import locate_records

    contacts = await locate_records("contact", contact_ids)
    companies = await locate_records("company", company_ids)
    logging.getLogger("crm_geo").info(
        "demo: located %s of %s contacts and %s of %s companies",
        contacts, len(contact_ids), companies, len(company_ids),
    )  # fmt: skip


@hookimpl
async def contact_merged(survivor_id: int, merged_id: int) -> None:
    from crm_geo.privacy import move_contact_data

    await move_contact_data(merged_id, survivor_id)


@hookimpl
async def export_contact_data(contact_id: int) -> dict[str, Any]:
    from crm_geo.privacy import export_contact

    return await export_contact(contact_id)


@hookimpl
async def erase_contact_data(contact_id: int) -> None:
    from crm_geo.privacy import erase_contact

    await erase_contact(contact_id)
