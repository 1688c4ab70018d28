"""The database this process has open.

Piccolo is global by design (tables find their engine through ``piccolo_conf``), so one
process has one open database at a time. ``open_database`` builds the engine, binds every
table class to it and, on PostgreSQL, starts the connection pool; ``Database.close`` undoes
all of that. Tests open and close one per test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from piccolo.conf.apps import AppConfig, AppRegistry
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

from crmcore.db.engine import ServerSQLiteEngine, engine_from_url

if TYPE_CHECKING:
    from crmcore.plugins import CRMPluginManager


CORE_APP = "crmcore.piccolo_app"


@dataclass
class Database:
    """An open database: its URL, engine and the Piccolo apps of the enabled plugins."""

    url: str
    engine: Engine
    app_modules: list[str] = field(default_factory=list)
    pm: CRMPluginManager | None = None
    _registry: AppRegistry | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.engine_type == "sqlite"

    @property
    def registry(self) -> AppRegistry:
        if self._registry is None:
            self._registry = AppRegistry(apps=self.app_modules)
        return self._registry

    def app_configs(self) -> list[AppConfig]:
        """App configs in migration order (core first, then plugins by dependency)."""
        return [self.registry.app_configs[name] for name in self.app_names()]

    def app_names(self) -> list[str]:
        return list(self.registry.app_configs)

    async def close(self) -> None:
        global _current
        if isinstance(self.engine, PostgresEngine) and self.engine.pool is not None:
            await self.engine.close_connection_pool()
        if isinstance(self.engine, ServerSQLiteEngine):
            await self.engine.close()
        if _current is self:
            _current = None


_current: Database | None = None


def current_database() -> Database:
    if _current is None:
        raise RuntimeError("no database is open in this process; call open_database() first")
    return _current


def current_or_none() -> Database | None:
    return _current


def _all_table_classes() -> Iterator[type[Table]]:
    stack: list[type[Table]] = list(Table.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        yield cls


def bind_tables(engine: Engine) -> None:
    """Point every table class known to Python at ``engine`` (Piccolo caches the first one)."""
    for cls in _all_table_classes():
        cls._meta.db = engine


def app_modules_for(pm: CRMPluginManager | None) -> list[str]:
    if pm is None:
        return [CORE_APP]
    modules: list[str] = []
    for _name, result in pm.call_in_order("register_piccolo_apps"):
        for module in result or ():
            if module not in modules:
                modules.append(module)
    if CORE_APP in modules:
        modules.remove(CORE_APP)
    return [CORE_APP, *modules]


async def open_database(
    url: str, pm: CRMPluginManager | None = None, pool: bool = True
) -> Database:
    """Open ``url``, make it this process's database and bind all tables to it."""
    global _current
    if _current is not None:
        await _current.close()
    engine = engine_from_url(url)
    database = Database(url=url, engine=engine, app_modules=app_modules_for(pm), pm=pm)
    database.registry  # noqa: B018 - imports the apps (and their tables) before binding
    bind_tables(engine)
    if isinstance(engine, PostgresEngine) and pool:
        await engine.start_connection_pool(min_size=1, max_size=10)
    if pm is not None:
        from crmcore.permissions import load_permissions

        load_permissions(pm)
    _current = database
    return database
