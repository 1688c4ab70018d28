"""Helpers for the core's own tests: throwaway plugin distributions and CLI subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    """A folder put on PYTHONPATH of CLI subprocesses: throwaway distributions live here."""
    path = tmp_path / "site"
    path.mkdir()
    return path


@pytest.fixture
def make_distribution(site_dir: Path) -> Callable[..., Path]:
    """Write a real, minimal installed distribution (dist-info + module) to ``site_dir``.

    importlib.metadata discovers it exactly as it discovers a pip-installed plugin.
    """

    def make(
        dist: str,
        plugin: str,
        *,
        depends: tuple[str, ...] = (),
        core: str = ">=0.1,<0.2",
        body: str = "",
        module: str | None = None,
        version: str = "1.0.0",
    ) -> Path:
        module = module or f"{dist.replace('-', '_')}_plugin"
        info = site_dir / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[crm.plugins]\n{plugin} = {module}\n")
        source = textwrap.dedent(
            f"""
            from crmcore.hookspecs import hookimpl
            from crmcore.plugins import Manifest

            manifest = Manifest(name={plugin!r}, version={version!r},
                                depends={tuple(depends)!r}, core={core!r})
            """
        )
        (site_dir / f"{module}.py").write_text(source + textwrap.dedent(body))
        return info

    return make


@pytest.fixture
def run_crm(crm_fresh_settings, site_dir: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real ``crm`` command in a subprocess against the test instance."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {
            **os.environ,
            "CRM_HOME": str(crm_fresh_settings.home),
            "CRM_DATABASE_URL": crm_fresh_settings.database_url,
            "PYTHONPATH": os.pathsep.join([str(site_dir), os.environ.get("PYTHONPATH", "")]),
            **(env or {}),
        }
        return subprocess.run(
            [sys.executable, "-m", "crmcore", *args],
            capture_output=True,
            text=True,
            env=full_env,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )

    return run


def parse_json(output: str) -> object:
    return json.loads(output)
