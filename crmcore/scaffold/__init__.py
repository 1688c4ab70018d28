"""Render a new plugin distribution from the templates in ``crmcore/scaffold/template/``.

``crm plugins new NAME`` calls :func:`render_plugin`. The templates are Jinja files with
square-bracket delimiters (``[[ name ]]``, ``[% if table %]``) so that the plugin's own Jinja
page templates (``{% extends "core/base.html" %}``) pass through untouched. In paths,
``__package__`` becomes ``crm_<name>``, ``__name__`` the plugin name and
``__migration__`` the first migration's module name. A file that renders to nothing
(every part of it switched off by an option) is not written.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from crmcore import __version__

__all__ = [
    "FEATURES",
    "TEMPLATE_DIR",
    "PluginSpec",
    "ScaffoldError",
    "check_available",
    "check_name",
    "core_range",
    "installed_plugin_names",
    "render_plugin",
]

TEMPLATE_DIR = Path(__file__).parent / "template"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# Long enough for a clear name; short enough for generated code lines and PostgreSQL
# identifiers (63 bytes) built from it.
MAX_NAME_LENGTH = 32
FEATURES = ("table", "page", "api", "panel", "command")


class ScaffoldError(Exception):
    """The plugin cannot be created; the message says why and what to do instead."""


@dataclass(frozen=True)
class PluginSpec:
    """What to generate: the plugin name and which of its optional parts to include."""

    name: str
    features: frozenset[str] = field(default_factory=lambda: frozenset(FEATURES))

    @property
    def package(self) -> str:
        return f"crm_{self.name}"

    @property
    def distribution(self) -> str:
        return "crm-" + self.name.replace("_", "-")

    @property
    def title(self) -> str:
        return self.name.replace("_", " ").title()

    def context(self, now: datetime) -> dict[str, Any]:
        """Variables the templates see."""
        stamp = now.astimezone(UTC)
        migration_id = stamp.strftime("%Y-%m-%dT%H:%M:%S:%f")
        return {
            "name": self.name,
            "package": self.package,
            "distribution": self.distribution,
            "title": self.title,
            "app_name": self.package,
            "table_name": f"{self.name}_note",
            "core_range": core_range(__version__),
            "core_version": __version__,
            "piccolo_version": _piccolo_version(),
            "migration_id": migration_id,
            "migration_module": migration_module(self.package, migration_id),
            **{feature: feature in self.features for feature in FEATURES},
            "any_part": bool(self.features),
        }


def _piccolo_version() -> str:
    from piccolo import __VERSION__

    return str(__VERSION__)


def core_range(version: str) -> str:
    """The crmcore versions a new plugin declares it supports: this minor release line.

    Before 1.0 a minor release may break plugins (see docs/compatibility.md), so the range
    stops at the next minor; from 1.0 on, at the next major.
    """
    major, minor = (int(part) for part in version.split(".")[:2])
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f">={major}.{minor},<{upper}"


def migration_module(app_name: str, migration_id: str) -> str:
    """The file name Piccolo itself would give this migration (without ``.py``)."""
    return f"{app_name}_" + re.sub(r"[-:]", "_", migration_id).lower()


def check_name(name: str) -> None:
    """Refuse names that cannot be a plugin name, a Python package suffix and a URL prefix."""
    if not NAME_RE.match(name):
        raise ScaffoldError(
            f"invalid plugin name {name!r}: use lower-case letters, digits and underscores, "
            "starting with a letter (for example: loyalty_points)"
        )
    if keyword.iskeyword(name):
        raise ScaffoldError(f"{name!r} is a Python keyword: pick another plugin name")
    if len(name) > MAX_NAME_LENGTH:
        raise ScaffoldError(f"plugin name {name!r} is too long: at most {MAX_NAME_LENGTH} letters")


def installed_plugin_names() -> set[str]:
    """Names taken by the core's built-ins and by every installed ``crm.plugins`` entry point."""
    from importlib.metadata import entry_points

    from crmcore.plugins import BUILTIN_PLUGINS, ENTRY_POINT_GROUP

    names = {path.rsplit(".", 1)[-1] for path in BUILTIN_PLUGINS}
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return names


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return True


def check_available(name: str, parent: Path, taken: Iterable[str] | None = None) -> None:
    """Refuse a name already used by a plugin, an importable module or the target folder."""
    check_name(name)
    if name in (installed_plugin_names() if taken is None else set(taken)):
        raise ScaffoldError(f"a plugin named {name!r} is already installed: pick another name")
    for module in (name, f"crm_{name}"):
        if _module_exists(module):
            raise ScaffoldError(
                f"a Python module named {module!r} is already importable here; a plugin "
                "of that name would shadow it or be shadowed: pick another name"
            )
    target = parent / name
    if target.exists():
        raise ScaffoldError(f"{target} already exists: remove it or choose another --dir")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        block_start_string="[%",
        block_end_string="%]",
        variable_start_string="[[",
        variable_end_string="]]",
        comment_start_string="[#",
        comment_end_string="#]",
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


def _target_path(relative: str, context: dict[str, Any]) -> str:
    path = relative.removesuffix(".jinja")
    return (
        path.replace("__package__", context["package"])
        .replace("__migration__", context["migration_module"])
        .replace("__name__", context["name"])
    )


def _tidy(text: str) -> str:
    """Collapse the blank lines left where switched-off parts were, the way ruff would."""
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return text.strip("\n") + "\n"


def render_plugin(spec: PluginSpec, parent: Path, *, now: datetime | None = None) -> Path:
    """Write the plugin distribution ``parent/<name>/`` and return its folder.

    The caller checks the name first (:func:`check_available`); this only refuses to write
    over an existing folder.
    """
    check_name(spec.name)
    unknown = set(spec.features) - set(FEATURES)
    if unknown:
        raise ScaffoldError(f"unknown plugin parts: {', '.join(sorted(unknown))}")
    target = parent / spec.name
    if target.exists():
        raise ScaffoldError(f"{target} already exists: remove it or choose another --dir")
    context = spec.context(now or datetime.now(UTC))
    env = _environment()
    files: dict[Path, str] = {}
    for source in sorted(TEMPLATE_DIR.rglob("*.jinja")):
        relative = source.relative_to(TEMPLATE_DIR).as_posix()
        text = env.get_template(relative).render(context)
        if text.strip():
            files[target / _target_path(relative, context)] = _tidy(text)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
