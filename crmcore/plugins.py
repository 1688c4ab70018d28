"""Plugin loading: built-ins, entry points, manifests, order, and the errors admins see.

``get_plugin_manager(settings)`` is the only way to get a manager; nothing loads at import.
Built-in modules of the core register first and are *essential* (they cannot be disabled).
Installed plugins come from the ``crm.plugins`` entry point group, exactly like third-party
ones. Plugins are registered in topological order of their ``depends``, ties broken by name.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from crmcore import __version__, hookspecs
from crmcore.settings import Settings

log = logging.getLogger("crmcore.plugins")

ENTRY_POINT_GROUP = "crm.plugins"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

# The core's own features, each a small module registered like any plugin.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "crmcore.builtins.core",
    "crmcore.builtins.activity",
    "crmcore.builtins.auth",
    "crmcore.builtins.web",
    "crmcore.builtins.data",
    "crmcore.builtins.automation",
)


class PluginError(Exception):
    """A plugin cannot be loaded; ``plugin`` names it and the message says what to do."""

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(f"plugin {plugin!r}: {message}")
        self.plugin = plugin


@dataclass(frozen=True)
class Manifest:
    """What a plugin declares about itself (module attribute ``manifest``)."""

    name: str
    version: str | None = None
    description: str = ""
    depends: tuple[str, ...] = ()
    core: str = ""  # supported crmcore versions, e.g. ">=0.1,<0.2"


@dataclass
class PluginInfo:
    name: str
    distribution: str
    version: str
    description: str = ""
    depends: tuple[str, ...] = ()
    core: str = ""
    essential: bool = False
    enabled: bool = True
    loaded: bool = False
    module: Any = None
    error: str | None = None
    hooks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "description": self.description,
            "enabled": self.enabled,
            "essential": self.essential,
            "loaded": self.loaded,
            "depends": list(self.depends),
            "core": self.core,
            "hooks": self.hooks,
            "error": self.error,
        }


class CRMPluginManager(pluggy.PluginManager):
    """pluggy's manager plus what the CRM knows about each plugin and its order."""

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.settings = settings
        self.infos: dict[str, PluginInfo] = {}
        self.order: list[str] = []

    def is_enabled(self, name: str) -> bool:
        info = self.infos.get(name)
        return bool(info and info.loaded)

    def plugin_name_of(self, plugin: object) -> str:
        return self.get_name(plugin) or "?"

    def call_in_order(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call each implementation of a hook in plugin order; return (plugin, result)."""
        return [(name, impl_call(impl, kwargs)) for name, impl in self._impls(hook_name)]

    def _impls(self, hook_name: str) -> Iterator[tuple[str, Any]]:
        caller = getattr(self.hook, hook_name)
        position = {name: i for i, name in enumerate(self.order)}
        impls = sorted(
            caller.get_hookimpls(), key=lambda i: position.get(i.plugin_name, len(position))
        )
        for impl in impls:
            yield impl.plugin_name, impl

    async def acall(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Like ``call_in_order`` but awaits implementations that are coroutines."""
        results = []
        for name, impl in self._impls(hook_name):
            result = impl_call(impl, kwargs)
            if inspect.isawaitable(result):
                result = await result
            results.append((name, result))
        return results

    async def acall_flat(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Await every implementation and flatten the lists they return."""
        return flatten(result for _name, result in await self.acall(hook_name, **kwargs))

    async def fire(self, hook_name: str, **kwargs: Any) -> None:
        """Call an after-commit event hook; a failing plugin is logged, never propagated."""
        for name, impl in self._impls(hook_name):
            try:
                result = impl_call(impl, kwargs)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("plugin %r failed in %s (the change is kept)", name, hook_name)


def impl_call(impl: Any, kwargs: dict[str, Any]) -> Any:
    return impl.function(*[kwargs[arg] for arg in impl.argnames])


def flatten(results: Iterable[Any]) -> list[Any]:
    return [item for result in results if result for item in result]


# --------------------------------------------------------------------------- discovery


@dataclass
class Candidate:
    name: str
    distribution: str
    version: str
    load: Any  # callable returning the module
    essential: bool = False


def _builtin_candidates() -> list[Candidate]:
    return [
        Candidate(
            name=path.rsplit(".", 1)[-1],
            distribution="crmcore",
            version=__version__,
            load=lambda path=path: importlib.import_module(path),
            essential=True,
        )
        for path in BUILTIN_PLUGINS
    ]


def _entry_point_candidates() -> list[Candidate]:
    found: dict[str, Candidate] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "0"
        if ep.name in found and found[ep.name].distribution != dist:
            raise PluginError(
                ep.name,
                f"claimed by two distributions, {found[ep.name].distribution!r} and {dist!r}; "
                "uninstall one of them",
            )
        found[ep.name] = Candidate(ep.name, dist, version, ep.load)
    return list(found.values())


def discover(extra: Iterable[tuple[str, object]] = ()) -> list[Candidate]:
    """Every plugin this environment offers: built-ins, entry points, then test plugins."""
    candidates = _builtin_candidates() + _entry_point_candidates()
    for name, obj in extra:
        candidates.append(Candidate(name, "(registered)", __version__, lambda obj=obj: obj))
    return candidates


def _manifest_of(module: Any, candidate: Candidate) -> Manifest:
    manifest = getattr(module, "manifest", None)
    if manifest is None:
        return Manifest(name=candidate.name, version=candidate.version)
    if isinstance(manifest, dict):
        manifest = Manifest(**manifest)
    if manifest.name != candidate.name:
        raise PluginError(
            candidate.name,
            f"its manifest says name={manifest.name!r}; the entry point name and manifest "
            "name must be the same",
        )
    return manifest


def _check_core_range(name: str, spec: str) -> None:
    if not spec:
        return
    try:
        supported = SpecifierSet(spec)
    except InvalidSpecifier as exc:
        raise PluginError(name, f"invalid core version range {spec!r}") from exc
    if Version(__version__) not in supported:
        raise PluginError(
            name,
            f"supports crmcore {spec} but this is crmcore {__version__}; "
            "upgrade the plugin or pin a matching crmcore",
        )


def _topological(infos: dict[str, PluginInfo]) -> list[str]:
    """Kahn's algorithm: a plugin comes after its dependencies; among the plugins ready at
    the same time, essential built-ins first, then by name. Raises on a cycle."""
    import heapq

    waiting = {n: {d for d in i.depends if d in infos} for n, i in infos.items()}
    ready = [(not infos[n].essential, n) for n, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for other, deps in waiting.items():
            if name in deps:
                deps.discard(name)
                if not deps:
                    heapq.heappush(ready, (not infos[other].essential, other))
    if len(order) < len(infos):
        raise _cycle_error({n: waiting[n] for n in infos if n not in order})
    return order


def _cycle_error(remaining: dict[str, set[str]]) -> PluginError:
    start = min(remaining)
    path = [start]
    while True:
        nxt = min(remaining[path[-1]])
        if nxt in path:
            cycle = [*path[path.index(nxt) :], nxt]
            return PluginError(nxt, f"dependency cycle: {' -> '.join(cycle)}")
        path.append(nxt)


def get_plugin_manager(
    settings: Settings | None = None,
    *,
    extra_plugins: Iterable[tuple[str, object]] = (),
    skip_broken: bool = False,
    load_plugins: Iterable[str] | None = None,
) -> CRMPluginManager:
    """Build the plugin manager for ``settings``.

    ``load_plugins`` (or ``CRM_LOAD_PLUGINS`` in settings) is an allow-list of non-essential
    plugins; disabled plugins (crm.toml) are described but not registered. With
    ``skip_broken`` a plugin that fails to load is reported in ``infos`` instead of raising.
    """
    pm = CRMPluginManager(settings)
    allow = list(load_plugins) if load_plugins is not None else None
    if allow is None and settings is not None and settings.load_plugins is not None:
        allow = list(settings.load_plugins)
    disabled = set(settings.disabled) if settings else set()

    for candidate in discover(extra_plugins):
        if not NAME_RE.match(candidate.name):
            raise PluginError(candidate.name, "names must match [a-z][a-z0-9_]*")
        if candidate.name in pm.infos:
            raise PluginError(
                candidate.name,
                f"claimed by {pm.infos[candidate.name].distribution!r} and "
                f"{candidate.distribution!r}",
            )
        info = PluginInfo(
            name=candidate.name,
            distribution=candidate.distribution,
            version=candidate.version,
            essential=candidate.essential,
            enabled=candidate.essential
            or (candidate.name not in disabled and (allow is None or candidate.name in allow)),
        )
        pm.infos[candidate.name] = info
        try:
            module = candidate.load()
            manifest = _manifest_of(module, candidate)
            info.module = module
            info.version = manifest.version or candidate.version
            info.description = manifest.description or (inspect.getdoc(module) or "").split("\n")[0]
            info.depends = tuple(manifest.depends)
            info.core = manifest.core
            _check_core_range(candidate.name, manifest.core)
        except PluginError as exc:
            _broken(info, str(exc), skip_broken)
        except Exception as exc:
            _broken(info, f"plugin {candidate.name!r}: failed to import: {exc!r}", skip_broken)

    _check_dependencies(pm, skip_broken)
    healthy = {n: i for n, i in pm.infos.items() if i.enabled and not i.error}
    pm.order = _topological(healthy)
    for name in pm.order:
        info = pm.infos[name]
        pm.register(info.module, name=name)
        info.loaded = True
    for name in pm.order:
        info = pm.infos[name]
        info.hooks = sorted(
            impl_name
            for impl_name in dir(info.module)
            if impl_name in pm.hook.__dict__ and not impl_name.startswith("_")
        )
    for _name, specs in pm.call_in_order("register_hookspecs"):
        for spec in specs or ():
            pm.add_hookspecs(spec)
    return pm


def _broken(info: PluginInfo, message: str, skip_broken: bool) -> None:
    if info.essential or not skip_broken:
        raise PluginError(info.name, message.split(": ", 1)[-1]) from None
    info.error = message
    log.warning("skipping broken plugin: %s", message)


def _check_dependencies(pm: CRMPluginManager, skip_broken: bool) -> None:
    while True:
        try:
            _topological({n: i for n, i in pm.infos.items() if not i.error})
            break
        except PluginError as exc:
            if not skip_broken:
                raise
            members = str(exc).split("dependency cycle: ", 1)[-1].split(" -> ")
            for member in set(members):
                _broken(pm.infos[member], str(exc), skip_broken)
    changed = True
    while changed:
        changed = False
        for info in pm.infos.values():
            if not info.enabled or info.error:
                continue
            for dep in info.depends:
                dep_info = pm.infos.get(dep)
                problem = None
                if dep_info is None:
                    problem = f"depends on {dep!r}, which is not installed (pip install crm-{dep})"
                elif dep_info.error:
                    problem = f"depends on {dep!r}, which failed to load"
                elif not dep_info.enabled:
                    problem = f"depends on {dep!r}, which is disabled (crm plugins enable {dep})"
                if problem:
                    _broken(info, f"plugin {info.name!r}: {problem}", skip_broken)
                    changed = True
                    break


def dependents_of(pm: CRMPluginManager, name: str) -> list[str]:
    """Enabled plugins that depend on ``name``, directly or not."""
    found: list[str] = []
    frontier = [name]
    while frontier:
        current = frontier.pop()
        for info in pm.infos.values():
            if current in info.depends and info.enabled and info.name not in found:
                found.append(info.name)
                frontier.append(info.name)
    return sorted(found)


def run_async(coro: Any) -> Any:
    """Run a coroutine from synchronous code (the CLI)."""
    return asyncio.run(coro)


def plugin_module(pm: CRMPluginManager, name: str) -> ModuleType | None:
    info = pm.infos.get(name)
    return info.module if info else None
