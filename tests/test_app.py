"""The app factory: health, OpenAPI, and the bridge that mounts plugin routes."""

from __future__ import annotations

from litestar import get

from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest


class RoutesPlugin:
    manifest = Manifest(name="widgets")

    @hookimpl
    def register_api_routes(self):
        @get("/count", sync_to_thread=False)
        def count() -> dict[str, int]:
            return {"count": 3}

        return [count]

    @hookimpl
    def register_routes(self):
        @get("/page", sync_to_thread=False, opt={"public": True})
        def page() -> str:
            return "widgets page"

        return [page]


async def test_healthz_is_public(crm_anon_client):
    response = await crm_anon_client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_plugin_routes_and_openapi(register_test_plugin, crm_settings, crm_pm, crm_db):
    register_test_plugin(RoutesPlugin(), "widgets")
    from crmcore.app import create_app
    from crmcore.testing.plugin import make_client

    app = create_app(crm_settings, crm_pm, manage_database=False)
    async with app.lifespan():
        async with await make_client(app) as client:
            page = await client.get("/widgets/page")
            assert page.status_code == 200 and page.text == "widgets page"
            schema = (await client.get("/schema/openapi.json")).json()
            assert "/api/v1/widgets/count" in schema["paths"]
