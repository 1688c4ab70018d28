"""The Jinja environment: instance templates, then plugins', then the core's.

Plugins add pages under their own template folder (``<plugin>/…``) and extend
``core/base.html``; they add to core pages only through hooks (menu links, panels, cards),
never by shadowing a core template.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from crmcore.plugins import CRMPluginManager, flatten
from crmcore.settings import Settings

CORE_TEMPLATES = Path(__file__).parent / "templates"


def template_search_path(pm: CRMPluginManager, settings: Settings | None) -> list[Path]:
    dirs: list[Path] = []
    if settings is not None and (settings.home / "templates").is_dir():
        dirs.append(settings.home / "templates")
    dirs.extend(Path(d) for d in flatten(r for _n, r in pm.call_in_order("template_dirs")))
    dirs.append(CORE_TEMPLATES)
    return dirs


def build_environment(pm: CRMPluginManager, settings: Settings | None) -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in template_search_path(pm, settings)]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        enable_async=False,
    )
    return env


def build_template_config(pm: CRMPluginManager, settings: Settings | None) -> TemplateConfig:
    env = build_environment(pm, settings)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))
