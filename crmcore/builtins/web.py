"""Built-in plugin `web`: the web pages: layout, dashboard, contacts, companies, tasks, settings.

The core's pages register through the same hooks a plugin uses: ``register_routes`` for the
pages, ``menu_links`` for the navigation, ``dashboard_cards`` for the dashboard. The core's
answers are ``trylast`` only where the hook takes the first result; these hooks merge all.
"""

from __future__ import annotations

from typing import Any

from crmcore import __version__
from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest

manifest = Manifest(
    name="web",
    version=__version__,
    description="The web pages: layout, dashboard, contacts, companies, tasks, settings",
    depends=("core",),
)


@hookimpl
def register_routes() -> list[Any]:
    from crmcore.web.views import web_router

    return [web_router()]


@hookimpl
def menu_links(request: Any) -> list[Any]:
    from crmcore.web.hooks import MenuLink
    from crmcore.web.templating import translator_for

    _ = translator_for(request).gettext
    links = [
        MenuLink(_("Dashboard"), "/", order=10),
        MenuLink(_("Contacts"), "/contacts", order=20, permission="contacts.read"),
        MenuLink(_("Companies"), "/companies", order=30, permission="contacts.read"),
        MenuLink(_("Tasks"), "/tasks", order=40, permission="contacts.read"),
        MenuLink(_("Calendar"), "/calendar", order=50, permission="contacts.read"),
        MenuLink(_("Settings"), "/settings/fields", order=80, permission="settings.manage"),
        MenuLink(_("Plugins"), "/plugins", order=90),
    ]
    # The import page belongs to the data area (crmcore/web/views/imports.py); the menu
    # shows it once that page is mounted.
    if _has_page(request.app, IMPORT_PAGE):
        links.append(MenuLink(_("Import"), IMPORT_PAGE, order=60, permission="contacts.import"))
    return links


IMPORT_PAGE = "/imports"


def _has_page(app: Any, path: str) -> bool:
    found = app.state.get("crm_pages")
    if found is None:
        found = app.state["crm_pages"] = {route.path for route in app.routes}
    return path in found


@hookimpl
async def dashboard_cards(request: Any) -> list[Any]:
    from crmcore.web.views.dashboard import core_dashboard_cards

    return await core_dashboard_cards(request)
