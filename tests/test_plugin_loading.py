"""Plugin discovery, order and the errors an admin sees (real throwaway distributions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest, PluginError, get_plugin_manager
from tests.serving_support import free_port

FIRST_PARTY = {
    "geo": "crm-geo",
    "hr": "crm-hr",
    "projects": "crm-projects",
    "marketing": "crm-marketing",
}


def test_builtins_are_essential_and_load_first(crm_settings):
    pm = get_plugin_manager(crm_settings)
    assert pm.order[0] == "core"
    essentials = [n for n in pm.order if pm.infos[n].essential]
    assert essentials[: len(essentials)] == pm.order[: len(essentials)]
    assert all(pm.infos[n].distribution == "crmcore" for n in essentials)


def test_first_party_plugins_come_from_entry_points(crm_settings):
    pm = get_plugin_manager(crm_settings)
    for name, dist in FIRST_PARTY.items():
        assert pm.infos[name].distribution == dist
        assert not pm.infos[name].essential
        assert pm.infos[name].loaded


def test_allow_list_loads_only_named_plugins(crm_settings):
    pm = get_plugin_manager(crm_settings, load_plugins=["geo"])
    assert pm.is_enabled("geo")
    assert not pm.is_enabled("hr")
    assert pm.is_enabled("core")


def test_order_follows_dependencies_then_name(crm_settings):
    class Plugin:
        def __init__(self, name, depends=()):
            self.manifest = Manifest(name=name, depends=depends)

    extra = [
        ("zeta", Plugin("zeta")),
        ("alpha", Plugin("alpha", ("zeta",))),
        ("beta", Plugin("beta")),
    ]
    pm = get_plugin_manager(
        crm_settings, extra_plugins=extra, load_plugins=["zeta", "alpha", "beta"]
    )
    order = [n for n in pm.order if n in {"zeta", "alpha", "beta"}]
    assert order == ["beta", "zeta", "alpha"]


def test_dependency_cycle_is_an_error_naming_the_plugins(crm_settings):
    class Plugin:
        def __init__(self, name, depends):
            self.manifest = Manifest(name=name, depends=depends)

    extra = [("aa", Plugin("aa", ("bb",))), ("bb", Plugin("bb", ("aa",)))]
    with pytest.raises(PluginError, match="dependency cycle: (aa -> bb -> aa|bb -> aa -> bb)"):
        get_plugin_manager(crm_settings, extra_plugins=extra)


def test_plugins_may_add_hookspecs_for_other_plugins(crm_settings):
    class Specs:
        @staticmethod
        def widget_kinds() -> list[str]:
            """Kinds of widgets."""

    import pluggy

    spec = pluggy.HookspecMarker("crm")
    Specs.widget_kinds = spec(Specs.widget_kinds)

    class Provider:
        manifest = Manifest(name="provider")

        @hookimpl
        def register_hookspecs(self):
            return [Specs]

    class Consumer:
        manifest = Manifest(name="consumer")

        @hookimpl
        def widget_kinds(self):
            return ["dial"]

    pm = get_plugin_manager(
        crm_settings, extra_plugins=[("provider", Provider()), ("consumer", Consumer())]
    )
    assert pm.hook.widget_kinds() == [["dial"]]


def _check(run_crm):
    result = run_crm("plugins", "check")
    return result.returncode, result.stderr + result.stdout


def test_missing_dependency_is_reported(make_distribution, run_crm):
    make_distribution("crm-needy", "needy", depends=("nowhere",))
    code, out = _check(run_crm)
    assert code != 0
    assert "needy" in out and "'nowhere', which is not installed" in out


def test_unsupported_core_version_is_reported(make_distribution, run_crm):
    make_distribution("crm-future", "future", core=">=9.0")
    code, out = _check(run_crm)
    assert code != 0
    assert "'future'" in out and "supports crmcore >=9.0" in out


def test_plugin_that_fails_to_import_is_reported(make_distribution, run_crm):
    make_distribution("crm-broken", "broken", body="raise RuntimeError('boom at import')\n")
    code, out = _check(run_crm)
    assert code != 0
    assert "'broken'" in out and "boom at import" in out


def test_two_distributions_claiming_one_name_is_reported(make_distribution, run_crm):
    make_distribution("crm-one", "twin", module="twin_one")
    make_distribution("crm-two", "twin", module="twin_two")
    code, out = _check(run_crm)
    assert code != 0
    assert "'twin'" in out and "two distributions" in out


def test_dependency_cycle_between_distributions_is_reported(make_distribution, run_crm):
    make_distribution("crm-ping", "ping", depends=("pong",))
    make_distribution("crm-pong", "pong", depends=("ping",))
    code, out = _check(run_crm)
    assert code != 0
    assert "dependency cycle" in out


def test_broken_plugin_stops_startup_unless_skipped(make_distribution, run_crm):
    make_distribution("crm-broken", "broken", body="raise RuntimeError('boom')\n")
    strict = run_crm("db", "status")
    assert strict.returncode != 0
    assert "broken" in strict.stderr
    lenient = run_crm("--skip-broken-plugins", "plugins", "list", "--json")
    assert lenient.returncode == 0, lenient.stderr
    rows = {row["name"]: row for row in json.loads(lenient.stdout)}
    assert rows["broken"]["error"] and not rows["broken"]["loaded"]
    assert rows["core"]["loaded"]


def test_cycle_is_skipped_with_skip_broken(make_distribution, run_crm):
    make_distribution("crm-ping", "ping", depends=("pong",))
    make_distribution("crm-pong", "pong", depends=("ping",))
    result = run_crm("--skip-broken-plugins", "plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert "dependency cycle" in rows["ping"]["error"]
    assert rows["geo"]["loaded"]


def test_serve_starts_past_a_broken_plugin_only_when_told(
    make_distribution, run_crm, crm_fresh_settings, site_dir
):
    """`crm serve` refuses a broken optional plugin; `crm serve --skip-broken-plugins` warns,
    skips it and serves the core and the other plugins."""
    make_distribution("crm-broken", "broken", body="raise RuntimeError('boom at import')\n")
    assert run_crm("--skip-broken-plugins", "init").returncode == 0
    port = str(free_port())
    strict = run_crm("serve", "--port", port, "--no-jobs")
    assert strict.returncode != 0
    assert "'broken'" in strict.stderr and "boom at import" in strict.stderr

    env = {
        **os.environ,
        "CRM_HOME": str(crm_fresh_settings.home),
        "CRM_DATABASE_URL": crm_fresh_settings.database_url,
        "PYTHONPATH": os.pathsep.join([str(site_dir), os.environ.get("PYTHONPATH", "")]),
    }
    log_path = crm_fresh_settings.home / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "crmcore", "serve", "--skip-broken-plugins",
             "--port", port, "--no-jobs"],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        paths = httpx.get(f"{base}/schema/openapi.json", timeout=10).json()["paths"]
        assert any(path.startswith("/api/v1/geo/") for path in paths)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "skipped plugin broken" in log_path.read_text()
