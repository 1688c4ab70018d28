"""The web application factory: the single bridge between plugins and Litestar.

``create_app()`` opens nothing at import time. On startup it opens the database and calls
the ``startup`` hooks; on shutdown it undoes both. Every enabled plugin's page routes are
mounted under ``/<plugin>/`` and its API under ``/api/v1/<plugin>/``; the core's built-ins
mount at the root and under ``/api/v1``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from litestar import Litestar, Router, get
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

from crmcore import __version__
from crmcore.db.runtime import current_or_none, open_database
from crmcore.plugins import CRMPluginManager, get_plugin_manager
from crmcore.settings import Settings, load_settings

log = logging.getLogger("crmcore.app")

API_PREFIX = "/api/v1"


@get("/healthz", opt={"public": True}, tags=["system"], sync_to_thread=False)
def healthz() -> dict[str, str]:
    """Liveness check for load balancers; deliberately public."""
    return {"status": "ok", "version": __version__}


def _mount(pm: CRMPluginManager, hook: str, prefix: str) -> list[Router]:
    routers = []
    for name, handlers in pm.call_in_order(hook):
        if not handlers:
            continue
        essential = pm.infos[name].essential
        path = prefix if essential else f"{prefix}/{name}".replace("//", "/")
        tags = [] if essential else [name]
        routers.append(Router(path=path or "/", route_handlers=list(handlers), tags=tags))
    return routers


def plugin_routers(pm: CRMPluginManager) -> list[Router]:
    return _mount(pm, "register_routes", "") + _mount(pm, "register_api_routes", API_PREFIX)


def static_routers(pm: CRMPluginManager) -> list[Any]:
    from pathlib import Path

    core_static = Path(__file__).parent / "web" / "static"
    routers = [
        create_static_files_router(
            path="/static/core", directories=[core_static], opt={"public": True}
        )
    ]
    for name in pm.order:
        module = pm.infos[name].module
        folder = Path(getattr(module, "__file__", "") or ".").parent / "static"
        if not pm.infos[name].essential and folder.is_dir():
            routers.append(
                create_static_files_router(
                    path=f"/static/{name}", directories=[folder], opt={"public": True}
                )
            )
    return routers


def create_app(
    settings: Settings | None = None,
    pm: CRMPluginManager | None = None,
    *,
    manage_database: bool = True,
) -> Litestar:
    """Build the app. With ``manage_database`` the app opens and closes the database itself;
    tests that opened one already pass ``manage_database=False``."""
    from crmcore.web.security import security_config
    from crmcore.web.views.language import LanguageSwitchMiddleware

    settings = settings or load_settings()
    if pm is None:
        skip = os.environ.get("CRM_SKIP_BROKEN_PLUGINS") == "1"
        pm = get_plugin_manager(settings, skip_broken=skip)

    async def on_startup(app: Litestar) -> None:
        if manage_database or current_or_none() is None:
            app.state.db = await open_database(settings.database_url, pm)
            app.state.owns_db = True
        else:
            app.state.db = current_or_none()
            app.state.owns_db = False
        await pm.acall("startup", app=app)

    async def on_shutdown(app: Litestar) -> None:
        await pm.acall("shutdown", app=app)
        if app.state.get("owns_db"):
            await app.state.db.close()

    from crmcore.web.templating import build_template_config

    security = security_config(settings, pm)
    app = Litestar(
        route_handlers=[healthz, *static_routers(pm), *plugin_routers(pm)],
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        template_config=build_template_config(pm, settings),
        openapi_config=OpenAPIConfig(
            title="crmcore",
            version=__version__,
            render_plugins=[SwaggerRenderPlugin()],
            # The API's description is public like its source code; the data is not.
            openapi_router=Router(
                "/schema", route_handlers=[], include_in_schema=False, opt={"public": True}
            ),
        ),
        # The language switch runs after authentication: it stores ?lang= on the user.
        middleware=[*security.middleware, LanguageSwitchMiddleware()],
        guards=security.guards,
        exception_handlers=security.exception_handlers,
        dependencies=security.dependencies,
        debug=settings.debug,
    )
    app.state.settings = settings
    app.state.pm = pm
    return app


def create_app_from_env() -> Litestar:
    """Factory for ``uvicorn --factory`` (``crm serve``): settings come from the environment."""
    return create_app()
