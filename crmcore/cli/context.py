"""What every command shares: settings, the plugin manager and an open database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from crmcore.settings import Settings, SettingsError, load_settings

T = TypeVar("T")


@dataclass
class CLIContext:
    skip_broken: bool = False
    _settings: Settings | None = None
    _pm: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except SettingsError as exc:
                raise click.ClickException(str(exc)) from exc
        return self._settings

    def reload(self) -> None:
        self._settings, self._pm = None, None

    @property
    def pm(self) -> Any:
        if self._pm is None:
            from crmcore.plugins import PluginError, get_plugin_manager

            try:
                self._pm = get_plugin_manager(self.settings, skip_broken=self.skip_broken)
            except PluginError as exc:
                raise click.ClickException(
                    f"{exc} (run `crm plugins check` for details, or start with "
                    "--skip-broken-plugins)"
                ) from exc
        return self._pm

    @contextlib.asynccontextmanager
    async def database(self) -> AsyncIterator[Any]:
        from crmcore.db.runtime import open_database

        db = await open_database(self.settings.database_url, self.pm)
        try:
            yield db
        finally:
            await db.close()

    def run(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        """Open the database, run ``fn(db)``, and always close the database again."""

        async def main() -> T:
            async with self.database() as db:
                return await fn(db)

        return asyncio.run(main())


pass_ctx = click.make_pass_decorator(CLIContext, ensure=True)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)
