"""Instance settings: where the instance lives, which database, which plugins.

Precedence, highest first (documented in docs/admin.md and tested):

1. environment variables (``CRM_DATABASE_URL``, ``CRM_LOAD_PLUGINS``, ``CRM_SECRET_KEY``, …)
2. the instance file ``$CRM_HOME/crm.toml``
3. built-in defaults (SQLite file inside ``CRM_HOME``)

Secrets are read from the environment only, or from a generated ``secret_key`` file inside
``CRM_HOME`` that never leaves the instance folder.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_FILENAME = "crm.toml"
SQLITE_FILENAME = "crm.sqlite"
SECRET_FILENAME = "secret_key"


class SettingsError(Exception):
    """The configuration cannot be used; the message says which setting and why."""


@dataclass(frozen=True)
class Settings:
    """Everything a process needs to open an instance. Immutable: build a new one to change."""

    home: Path
    database_url: str
    enabled: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    load_plugins: tuple[str, ...] | None = None
    plugin_config: dict[str, dict[str, Any]] = field(default_factory=dict)
    secret_key: str = ""
    default_region: str = "IR"
    default_language: str = "en"
    queue_url: str | None = None
    debug: bool = False

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_FILENAME

    @property
    def uploads_dir(self) -> Path:
        return self.home / "uploads"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    def plugin_settings(self, name: str) -> dict[str, Any]:
        """The ``[plugins.<name>]`` table from crm.toml, or an empty dict."""
        return dict(self.plugin_config.get(name, {}))


def default_home() -> Path:
    return Path(os.environ.get("CRM_HOME") or Path.cwd() / ".crm").resolve()


def read_config_file(home: Path) -> dict[str, Any]:
    path = home / CONFIG_FILENAME
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from exc


def _split_names(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


def _secret_key(home: Path, env: dict[str, str]) -> str:
    if env.get("CRM_SECRET_KEY"):
        return env["CRM_SECRET_KEY"]
    path = home / SECRET_FILENAME
    if path.exists():
        return path.read_text().strip()
    return ""


def ensure_secret_key(home: Path) -> str:
    """Create the instance's secret key file once (mode 600) and return the key."""
    path = home / SECRET_FILENAME
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_settings(home: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Build settings from the environment, then the instance file, then defaults."""
    env = dict(os.environ if env is None else env)
    home = Path(home or env.get("CRM_HOME") or Path.cwd() / ".crm").resolve()
    config = read_config_file(home)
    database = config.get("database", {})
    plugins = config.get("plugins", {})
    if not isinstance(plugins, dict):
        raise SettingsError(f"{home / CONFIG_FILENAME}: [plugins] must be a table")

    database_url = (
        env.get("CRM_DATABASE_URL") or database.get("url") or f"sqlite:///{home / SQLITE_FILENAME}"
    )
    if not database_url.startswith(("sqlite:", "postgres://", "postgresql://")):
        raise SettingsError(
            f"database URL {database_url!r}: use sqlite:///PATH or postgresql://USER@HOST/DB"
        )
    load = env.get("CRM_LOAD_PLUGINS")
    plugin_config = {k: v for k, v in plugins.items() if isinstance(v, dict)}
    return Settings(
        home=home,
        database_url=database_url,
        enabled=tuple(plugins.get("enabled", ())),
        disabled=tuple(plugins.get("disabled", ())),
        load_plugins=_split_names(load) if load is not None else None,
        plugin_config=plugin_config,
        secret_key=_secret_key(home, env),
        default_region=env.get("CRM_DEFAULT_REGION") or config.get("default_region", "IR"),
        default_language=env.get("CRM_LANGUAGE") or config.get("language", "en"),
        queue_url=env.get("CRM_QUEUE_URL") or config.get("queue", {}).get("url"),
        debug=(env.get("CRM_DEBUG", "") == "1") or bool(config.get("debug", False)),
    )


def write_plugin_state(home: Path, name: str, enabled: bool) -> None:
    """Record in crm.toml that plugin ``name`` is enabled or disabled, keeping other keys."""
    config = read_config_file(home)
    plugins = config.setdefault("plugins", {})
    on = [n for n in plugins.get("enabled", []) if n != name]
    off = [n for n in plugins.get("disabled", []) if n != name]
    (on if enabled else off).append(name)
    plugins["enabled"], plugins["disabled"] = sorted(on), sorted(off)
    write_config_file(home, config)


def write_config_file(home: Path, config: dict[str, Any]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / CONFIG_FILENAME).write_text(dump_toml(config), encoding="utf-8")


def dump_toml(config: dict[str, Any]) -> str:
    """Write the small subset of TOML our config uses (tables of scalars and string lists)."""
    lines: list[str] = []

    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, list):
            return "[" + ", ".join(scalar(v) for v in value) + "]"
        text = str(value).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{text}"'

    def table(prefix: str, data: dict[str, Any]) -> None:
        scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in data.items() if isinstance(v, dict)}
        if prefix and (scalars or not tables):
            lines.append(f"[{prefix}]")
        for key, value in scalars.items():
            lines.append(f"{key} = {scalar(value)}")
        if scalars:
            lines.append("")
        for key, value in tables.items():
            table(f"{prefix}.{key}" if prefix else key, value)

    table("", config)
    return "\n".join(lines).strip() + "\n"
