"""The Jinja environment: instance templates, then plugins', then the core's.

Plugins add pages under their own template folder (``<plugin>/…``) and extend
``core/base.html``; they add to core pages only through hooks (menu links, panels, cards),
never by shadowing a core template.

One environment serves every request whatever its language: the gettext callables pick the
catalog from the ``lang`` template variable (see :func:`crmcore.web.i18n.install_jinja_i18n`),
and :class:`PageTemplate` fills ``lang``, ``dir``, ``tz``, the signed-in user and the CSRF
token from the request. So a plugin page rendered with a plain Litestar ``Template`` response
gets the same language, layout and navigation as a core page.
"""

from __future__ import annotations

import datetime as dt
import gettext
import logging
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from markupsafe import Markup

from crmcore.plugins import CRMPluginManager, flatten
from crmcore.settings import Settings
from crmcore.web.hooks import MenuLink, by_order
from crmcore.web.i18n import (
    CORE_LOCALE_DIR,
    SUPPORTED_LANGUAGES,
    install_jinja_i18n,
    load_translations,
    register_locale_filters,
)
from crmcore.web.views.language import LANGUAGE_CHOICES

__all__ = [
    "CORE_TEMPLATES",
    "LiveCatalogs",
    "PageTemplate",
    "build_catalogs",
    "build_environment",
    "build_template_config",
    "extra_template_vars",
    "locale_search_path",
    "menu_links_for",
    "nav_entries_for",
    "page_context",
    "template_search_path",
    "translator_for",
]

log = logging.getLogger("crmcore.web.templating")

CORE_TEMPLATES = Path(__file__).parent / "templates"


def _plugin_folders(pm: CRMPluginManager, folder: str) -> list[Path]:
    """``templates/`` or ``locale/`` beside each non-essential plugin's module, in plugin
    order: the layout DESIGN §2 gives plugins, found without any hook."""
    found = []
    for name in pm.order:
        info = pm.infos[name]
        module_file = getattr(info.module, "__file__", None)
        if info.essential or not module_file:
            continue
        path = Path(module_file).parent / folder
        if path.is_dir():
            found.append(path)
    return found


def _unique(paths: list[Path]) -> list[Path]:
    seen: set[Path] = set()
    kept = []
    for path in paths:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            kept.append(path)
    return kept


def template_search_path(pm: CRMPluginManager, settings: Settings | None) -> list[Path]:
    """Folders searched for a template name: the instance's own ``templates/`` (an admin's
    overrides), then every plugin's, then the core's."""
    dirs: list[Path] = []
    if settings is not None and (settings.home / "templates").is_dir():
        dirs.append(settings.home / "templates")
    dirs.extend(Path(d) for d in flatten(r for _n, r in pm.call_in_order("template_dirs")))
    dirs.extend(_plugin_folders(pm, "templates"))
    dirs.append(CORE_TEMPLATES)
    return _unique(dirs)


def locale_search_path(pm: CRMPluginManager) -> list[Path]:
    """Catalog folders, the core's first so that plugins' catalogs are merged on top."""
    dirs = [CORE_LOCALE_DIR]
    dirs.extend(Path(d) for d in flatten(r for _n, r in pm.call_in_order("locale_dirs")))
    dirs.extend(_plugin_folders(pm, "locale"))
    return _unique(dirs)


class LiveCatalogs(Mapping[str, gettext.NullTranslations]):
    """One merged catalog (core + every enabled plugin) per supported language, rebuilt when
    a ``.po`` file changes, so an edited translation shows on the next page load.

    The files' modification times are looked at no more than every ``RECHECK_SECONDS``,
    which keeps the cost of a page at a dictionary lookup.
    """

    RECHECK_SECONDS = 2.0

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs
        self._catalogs: dict[str, gettext.NullTranslations] = {}
        self._stamps: dict[str, tuple[int, ...]] = {}
        self._checked: dict[str, float] = {}

    def _stamp(self, lang: str) -> tuple[int, ...]:
        stamps = []
        for folder in self.dirs:
            try:
                stamps.append((folder / lang / "LC_MESSAGES" / "messages.po").stat().st_mtime_ns)
            except FileNotFoundError:
                stamps.append(0)
        return tuple(stamps)

    def __getitem__(self, lang: str) -> gettext.NullTranslations:
        if lang not in SUPPORTED_LANGUAGES:
            raise KeyError(lang)
        now = time.monotonic()
        if lang not in self._catalogs or now - self._checked[lang] > self.RECHECK_SECONDS:
            self._checked[lang] = now
            stamp = self._stamp(lang)
            if stamp != self._stamps.get(lang):
                self._catalogs[lang] = load_translations(lang, self.dirs)
                self._stamps[lang] = stamp
        return self._catalogs[lang]

    def __iter__(self) -> Iterator[str]:
        return iter(SUPPORTED_LANGUAGES)

    def __len__(self) -> int:
        return len(SUPPORTED_LANGUAGES)


def build_catalogs(pm: CRMPluginManager) -> LiveCatalogs:
    """The catalogs of the core and of every enabled plugin, per supported language."""
    return LiveCatalogs(locale_search_path(pm))


# --------------------------------------------------------------------------- per request


def _request_state(request: Any) -> Any:
    return request.scope.setdefault("state", {})


def translator_for(request: Any) -> gettext.NullTranslations:
    """The catalog for the request's language, for text built in Python (flash messages,
    hook labels): ``_ = translator_for(request).gettext``."""
    from crmcore.web.views.language import request_language

    env = request.app.template_engine.engine
    catalogs: Mapping[str, gettext.NullTranslations] = env.globals["crm_catalogs"]
    return catalogs.get(request_language(request)) or gettext.NullTranslations()


# Up to this many entries from installed (non-core) plugins share the top bar with the
# core's; with more, they fold into one "More" menu, so the bar stays on one line at 1280 px
# in English and in Persian with the four plugins of this repository.
PLUGIN_LINKS_IN_BAR = 2


def _visible_menu(request: Any) -> list[tuple[MenuLink, bool]]:
    """Every entry the user may see, in order, each with whether an installed (non-core)
    plugin added it."""
    cached = _request_state(request).get("crm_menu")
    if cached is not None:
        return cached
    from crmcore.web.views.session import request_actor

    pm: CRMPluginManager = request.app.state.pm
    actor = request_actor(request)
    links = []
    source: dict[int, bool] = {}
    for name, result in pm.call_in_order("menu_links", request=request):
        if hasattr(result, "__await__"):
            result.close()
            log.warning("plugin %r: menu_links must not be async; its links are skipped", name)
            continue
        for link in result or ():
            source[id(link)] = not pm.infos[name].essential if name in pm.infos else True
            links.append(link)
    visible = [
        (link, source[id(link)])
        for link in by_order(links, MenuLink)
        if link.permission is None or (actor is not None and actor.can(link.permission))
    ]
    _request_state(request)["crm_menu"] = visible
    return visible


def menu_links_for(request: Any) -> list[MenuLink]:
    """Navigation entries from every plugin (core included) the user may see, in order.

    ``menu_links`` implementations are called synchronously while the page renders; they
    return ready :class:`MenuLink` values and must not query the database.
    """
    return [link for link, _from_plugin in _visible_menu(request)]


def nav_entries_for(request: Any) -> tuple[list[MenuLink], list[MenuLink]]:
    """The top bar's entries as ``(in_bar, in_more_menu)``: every entry in the bar while
    plugins add at most ``PLUGIN_LINKS_IN_BAR``; beyond that the plugins' entries move, in
    their order, into the "More" menu at the end of the bar."""
    entries = _visible_menu(request)
    from_plugins = [link for link, from_plugin in entries if from_plugin]
    if len(from_plugins) <= PLUGIN_LINKS_IN_BAR:
        return [link for link, _from_plugin in entries], []
    return [link for link, from_plugin in entries if not from_plugin], from_plugins


EXTRA_VARS_DONE = "crm_extra_vars_done"


async def extra_template_vars(request: Any, template: str) -> dict[str, Any]:
    """Variables every plugin adds to ``template`` (``extra_template_vars`` hook), awaited."""
    pm: CRMPluginManager = request.app.state.pm
    merged: dict[str, Any] = {EXTRA_VARS_DONE: True}
    for _name, result in await pm.acall("extra_template_vars", request=request, template=template):
        merged.update(result or {})
    return merged


def _sync_extra_template_vars(request: Any, template: str | None) -> dict[str, Any]:
    """The same for a template rendered without :func:`extra_template_vars` (a plugin's
    own ``Template`` response): only implementations that are not async can answer here."""
    pm: CRMPluginManager = request.app.state.pm
    merged: dict[str, Any] = {}
    for name, result in pm.call_in_order(
        "extra_template_vars", request=request, template=template or ""
    ):
        if hasattr(result, "__await__"):
            result.close()
            log.warning(
                "plugin %r: async extra_template_vars are only awaited for core pages", name
            )
            continue
        merged.update(result or {})
    return merged


def page_context(request: Any) -> dict[str, Any]:
    """What ``core/base.html`` needs on every page, derived from the request."""
    from crmcore.web.i18n import text_direction
    from crmcore.web.views.language import request_language, request_timezone
    from crmcore.web.views.session import csrf_token_for, request_actor, request_user

    lang = request_language(request)
    direction = text_direction(lang)
    return {
        "lang": lang,
        "dir": direction,
        # Between parts of a line ("Edit · Sara"). In Persian a middle dot reads as the digit
        # zero (۰), so right-to-left pages use a dash.
        "sep": "–" if direction == "rtl" else "·",
        "tz": request_timezone(request),
        "current_user": request_user(request),
        "actor": request_actor(request),
        "csrf_token": csrf_token_for(request),
    }


class PageTemplate(jinja2.Template):
    """Templates that fill the per-request variables themselves when rendered with a
    ``request`` (as Litestar's ``Template`` response does), unless the caller set them."""

    def new_context(
        self,
        vars: dict[str, Any] | None = None,  # noqa: A002 - jinja's own parameter name
        shared: bool = False,
        locals: Mapping[str, Any] | None = None,  # noqa: A002
    ) -> jinja2.runtime.Context:
        if vars is not None and "lang" not in vars and vars.get("request") is not None:
            request = vars["request"]
            done = vars.get(EXTRA_VARS_DONE)
            extra = {} if done else _sync_extra_template_vars(request, self.name)
            vars = {**page_context(request), **extra, **vars}
        return super().new_context(vars, shared, locals)


@jinja2.pass_context
def _nav_links(context: jinja2.runtime.Context) -> list[MenuLink]:
    request = context.get("request")
    return menu_links_for(request) if request is not None else []


@jinja2.pass_context
def _nav_entries(context: jinja2.runtime.Context) -> tuple[list[MenuLink], list[MenuLink]]:
    request = context.get("request")
    return nav_entries_for(request) if request is not None else ([], [])


@jinja2.pass_context
def _is_current(context: jinja2.runtime.Context, url: str) -> bool:
    """Whether a navigation link points at the page shown (or a page below it)."""
    request = context.get("request")
    if request is None:
        return False
    path = request.url.path
    return path == url or (url != "/" and path.startswith(url.rstrip("/") + "/"))


def _catalog(context: jinja2.runtime.Context) -> gettext.NullTranslations:
    catalogs = context.environment.globals["crm_catalogs"]
    return catalogs.get(context.get("lang") or "en") or gettext.NullTranslations()


@jinja2.pass_context
def _label(context: jinja2.runtime.Context, family: str, code: str | None) -> str:
    """``{{ label("stage", contact.stage) }}``: the translated word for a stored code."""
    from crmcore.web.views.labels import code_label

    return code_label(family, code, _catalog(context))


@jinja2.pass_context
def _choices(context: jinja2.runtime.Context, family: str) -> list[tuple[str, str]]:
    """``{% for code, text in choices("channel") %}`` for select boxes."""
    from crmcore.web.views.labels import code_choices

    return code_choices(family, _catalog(context))


@jinja2.pass_context
def _translate(context: jinja2.runtime.Context, text: str | None) -> str:
    """Look ``text`` up in the catalog without treating it as a template: for messages that
    come from Python code (``{{ translate(error) }}``), which may contain ``%`` signs and must
    stay escaped, unlike the output of ``_()``."""
    return _catalog(context).gettext(text) if text else ""


@jinja2.pass_context
def _csrf_field(context: jinja2.runtime.Context) -> Markup:
    """The hidden input every state-changing form carries (see crmcore.auth)."""
    from crmcore.web.views.session import CSRF_FIELD

    token = context.get("csrf_token") or ""
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


def _as_moment(value: Any) -> Any:
    """Services hand some timestamps over as ISO strings (the API's shape); the date
    filters take those as well as ``date``/``datetime`` values."""
    if isinstance(value, str) and value:
        try:
            if len(value) == 10:
                return dt.date.fromisoformat(value)
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _accept_iso_strings(env: Environment) -> None:
    for name in ("date", "datetime"):
        original = env.filters[name]

        @jinja2.pass_context
        def wrapped(context: Any, value: Any, *args: Any, _original: Any = original) -> str:
            moment = _as_moment(value)
            if isinstance(moment, str):
                return moment
            return _original(context, moment, *args)

        env.filters[name] = wrapped


def build_environment(pm: CRMPluginManager, settings: Settings | None) -> Environment:
    """The shared environment: autoescaped, with i18n, locale filters and the page helpers."""
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in template_search_path(pm, settings)]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        enable_async=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.template_class = PageTemplate
    catalogs = build_catalogs(pm)
    install_jinja_i18n(env, catalogs)
    register_locale_filters(env)
    _accept_iso_strings(env)
    env.globals.update(
        crm_catalogs=catalogs,
        nav_links=_nav_links,
        nav_entries=_nav_entries,
        is_current=_is_current,
        label=_label,
        choices=_choices,
        csrf_field=_csrf_field,
        translate=_translate,
        language_choices=LANGUAGE_CHOICES,
    )
    return env


def build_template_config(pm: CRMPluginManager, settings: Settings | None) -> TemplateConfig:
    env = build_environment(pm, settings)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))
