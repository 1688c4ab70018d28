"""pytest fixtures for crmcore and its plugins (loaded through the ``pytest11`` entry point).

Use ``@pytest.mark.crm_plugins("geo", "marketing")`` to load those plugins (the core's
built-ins always load; ``"*"`` loads every installed plugin). Set ``CRM_TEST_DATABASE_URL``
to a ``postgresql://`` URL to run the same tests on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from crmcore.settings import Settings, load_settings

T = TypeVar("T")

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "crm_plugins(*names): plugins crm_pm loads besides the core ('*' = all)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run every ``async def`` test on asyncio through anyio, without a marker."""
    for item in items:
        function = getattr(item, "function", None)
        if function is not None and inspect.iscoroutinefunction(function):
            item.add_marker(pytest.mark.anyio)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def crm_test_database_url() -> str | None:
    """A PostgreSQL URL from ``CRM_TEST_DATABASE_URL``, or None for SQLite."""
    return os.environ.get("CRM_TEST_DATABASE_URL") or None


@pytest.fixture(scope="session")
def _crm_template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crm-templates")


@pytest.fixture
def crm_home(tmp_path: Path) -> Path:
    """The throwaway instance's ``CRM_HOME`` folder (inside the test's ``tmp_path``)."""
    home = tmp_path / "crm-home"
    home.mkdir()
    return home


@pytest.fixture
def crm_settings(crm_home: Path, crm_test_database_url: str | None) -> Settings:
    """Settings of a throwaway instance: SQLite in a temp folder, or the test PostgreSQL."""
    url = crm_test_database_url or f"sqlite:///{crm_home / 'crm.sqlite'}"
    env = {"CRM_HOME": str(crm_home), "CRM_DATABASE_URL": url, "CRM_SECRET_KEY": "test-secret"}
    return load_settings(home=crm_home, env=env)


def _marker_plugins(request: pytest.FixtureRequest) -> list[str] | None:
    marker = request.node.get_closest_marker("crm_plugins")
    if marker is None:
        return []
    if "*" in marker.args:
        return None
    return list(marker.args)


class _TestPlugins:
    """Plugins a test registers; read when crm_pm is built, or added to it afterwards."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, object]] = []
        self.pm: Any = None

    def register(self, plugin: object, name: str | None = None) -> str:
        from crmcore.plugins import PluginInfo

        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__.lower()
        if self.pm is None:
            self.queued.append((name, plugin))
        else:
            self.pm.register(plugin, name=name)
            self.pm.infos[name] = PluginInfo(
                name=name, distribution="(registered)", version="0", loaded=True, module=plugin
            )
            self.pm.order.append(name)
        return name


@pytest.fixture
def _crm_test_plugins() -> _TestPlugins:
    return _TestPlugins()


@pytest.fixture
def register_test_plugin(_crm_test_plugins: _TestPlugins) -> Callable[..., str]:
    """``register_test_plugin(obj, name)``: add a plugin (module or object with hookimpls).

    Hooks called per request or per write work whenever it is registered. A plugin that adds
    tables, routes or commands must be registered before ``crm_pm`` is built: from a fixture
    the test lists before ``crm_pm``/``crm_db``/``crm_app``/``crm_client``. It is loaded
    whatever the ``crm_plugins`` marker says.
    """
    return _crm_test_plugins.register


@pytest.fixture
def crm_pm(
    request: pytest.FixtureRequest, crm_settings: Settings, _crm_test_plugins: _TestPlugins
) -> Any:
    """The plugin manager: the core's built-ins, the plugins the ``crm_plugins`` marker
    names (none without it, every installed one for ``"*"``) and registered test plugins."""
    from crmcore.plugins import get_plugin_manager

    allowed = _marker_plugins(request)
    if allowed is not None:
        # A test plugin is loaded because the test registered it, marker or not.
        allowed += [name for name, _plugin in _crm_test_plugins.queued]
    pm = get_plugin_manager(
        crm_settings, extra_plugins=_crm_test_plugins.queued, load_plugins=allowed
    )
    _crm_test_plugins.pm = pm
    return pm


@pytest.fixture
async def crm_db(
    crm_settings: Settings, crm_pm: Any, _crm_template_dir: Path
) -> AsyncIterator[Any]:
    """The instance's database, migrated for the loaded plugins and empty."""
    from crmcore.testing.databases import open_test_database

    db = await open_test_database(crm_settings.database_url, crm_pm, _crm_template_dir)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def crm_app(crm_settings: Settings, crm_pm: Any, crm_db: Any) -> AsyncIterator[Any]:
    """The Litestar app, started (lifespan) on the test's event loop."""
    from crmcore.app import create_app

    app = create_app(crm_settings, crm_pm, manage_database=False)
    async with app.lifespan():
        yield app


@pytest.fixture
async def crm_user(crm_db: Any) -> Any:
    """An admin user (``admin@example.com``) with every permission."""
    from crmcore.services.users import create_user

    return await create_user(email=ADMIN_EMAIL, password=ADMIN_PASSWORD, role="admin", name="Admin")


async def make_client(app: Any, user: Any | None = None) -> Any:
    """An httpx client on the app's own event loop, authenticated as ``user`` if given."""
    import httpx

    headers = {}
    if user is not None:
        from crmcore.services.tokens import create_token

        token = await create_token(user_id=user["id"], name="test")
        headers["Authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
    )


@pytest.fixture
async def crm_client(crm_app: Any, crm_user: Any) -> AsyncIterator[Any]:
    """An httpx client talking to the real app, authenticated as ``crm_user`` (API token)."""
    async with await make_client(crm_app, crm_user) as client:
        yield client


@pytest.fixture
async def crm_anon_client(crm_app: Any) -> AsyncIterator[Any]:
    """An httpx client with no credentials."""
    async with await make_client(crm_app) as client:
        yield client


@pytest.fixture
def crm_cli(
    request: pytest.FixtureRequest, crm_settings: Settings, crm_pm: Any
) -> Iterator[Callable[..., Any]]:
    """Run ``crm`` in this process against the test instance: ``crm_cli("db", "status")``.

    Returns click's ``Result`` (``exit_code``, ``output``). Commands see the plugins of
    ``crm_pm`` (the ``crm_plugins`` marker and registered test plugins). Only from
    synchronous tests (each command runs its own event loop); prepare data with ``crm_run``.
    """
    from click.testing import CliRunner

    from crmcore.cli.context import CLIContext
    from crmcore.cli.main import cli

    env = {
        "CRM_HOME": str(crm_settings.home),
        "CRM_DATABASE_URL": crm_settings.database_url,
        "CRM_SECRET_KEY": "test-secret",
    }
    allowed = _marker_plugins(request)
    if allowed is not None:
        # Commands that rebuild the manager (``plugins enable``) see the same plugins.
        env["CRM_LOAD_PLUGINS"] = ",".join(allowed)

    def run(*args: str, input: str | None = None, env_extra: dict[str, str] | None = None) -> Any:
        saved = {k: os.environ.get(k) for k in {**env, **(env_extra or {})}}
        os.environ.update({**env, **(env_extra or {})})
        try:
            runner = CliRunner()
            obj = CLIContext(_settings=crm_settings, _pm=crm_pm)
            return runner.invoke(cli, list(args), input=input, obj=obj, catch_exceptions=False)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    yield run


@pytest.fixture
def crm_run(
    crm_settings: Settings, crm_pm: Any, _crm_template_dir: Path
) -> Callable[[Awaitable[T]], T]:
    """Run a coroutine against the test database from a synchronous test and return its
    result: ``contact = crm_run(create_contact({...}, SYSTEM))``.

    The first call migrates and empties the database, as ``crm_db`` does; the database is
    open only while the coroutine runs, so ``crm_cli`` commands in between see its rows.
    Do not combine with ``crm_db`` (that is for ``async def`` tests).
    """
    from crmcore.db.runtime import open_database
    from crmcore.testing.databases import open_test_database

    prepared = False

    def run(coro: Awaitable[T]) -> T:
        async def main() -> T:
            nonlocal prepared
            if prepared:
                db = await open_database(crm_settings.database_url, crm_pm)
            else:
                db = await open_test_database(crm_settings.database_url, crm_pm, _crm_template_dir)
                prepared = True
            try:
                return await coro
            finally:
                await db.close()

        return asyncio.run(main())

    return run


def run_sync(coro: Any) -> Any:
    """Run a coroutine from a synchronous test."""
    return asyncio.run(coro)


@pytest.fixture
def crm_fresh_settings(crm_home: Path, crm_test_database_url: str | None) -> Iterator[Settings]:
    """Settings pointing at a brand-new, empty database (SQLite file or PostgreSQL database),
    for tests of init and migrations. The PostgreSQL database is dropped afterwards."""
    from crmcore.testing.databases import create_postgres_database, drop_postgres_database

    if crm_test_database_url:
        url = run_sync(create_postgres_database(crm_test_database_url))
    else:
        url = f"sqlite:///{crm_home / 'fresh.sqlite'}"
    env = {"CRM_HOME": str(crm_home), "CRM_DATABASE_URL": url, "CRM_SECRET_KEY": "test-secret"}
    yield load_settings(home=crm_home, env=env)
    if crm_test_database_url:
        run_sync(drop_postgres_database(url))
