"""`crm plugins new` writes a real plugin: it installs with pip, its own tests pass, it
migrates, and its page, API route, contact panel and command work in the app and the CLI.

The plugin is pip-installed into a virtual environment layered over the test environment
(it sees every package installed there), never into the test environment itself: other
processes using that environment at the same time, such as a second test run, must not
find a plugin appear and disappear under them. Everything about the installed plugin runs
in subprocesses of the layered environment: entry points and editable installs are read
when a Python process starts.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crmcore import __version__
from crmcore.plugins import run_async
from crmcore.scaffold import FEATURES, PluginSpec, core_range, render_plugin
from crmcore.testing.databases import create_postgres_database, drop_postgres_database

NAME = "demo_plugin"
DISTRIBUTION = "crm-demo-plugin"
TIMEOUT = 600


def run(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
    )


def layered_environment(folder: Path) -> str:
    """A virtual environment in ``folder`` that also sees every package of this one (its
    site folders are added, with their ``.pth`` files, so editable installs work too);
    packages installed into it stay in it. Returns its Python executable."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=TIMEOUT
    )
    python = folder / "bin" / "python"
    own_site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    outer = [path for path in site.getsitepackages() if Path(path).is_dir()]
    lines = [f"import site; site.addsitedir({path!r})" for path in outer]
    (Path(own_site.stdout.strip()) / "outer-environment.pth").write_text("\n".join(lines) + "\n")
    return str(python)


def pip(python: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run([python, "-m", "pip", "--disable-pip-version-check", *args])


def crm(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
        python: str = sys.executable):  # fmt: skip
    return run([python, "-m", "crmcore", *args], env=env, cwd=cwd)


class Instance:
    """A CRM instance of its own (home folder and empty database) for subprocesses."""

    def __init__(self, home: Path, database_url: str, python: str) -> None:
        self.home = home
        self.database_url = database_url
        self.python = python

    def crm(self, *args: str) -> subprocess.CompletedProcess[str]:
        return crm(*args, env=self.env, python=self.python)

    @property
    def env(self) -> dict[str, str]:
        return {
            "CRM_HOME": str(self.home),
            "CRM_DATABASE_URL": self.database_url,
            "CRM_SECRET_KEY": "scaffold-test",
            # The core and the new plugin only: other plugins' state is not under test.
            "CRM_LOAD_PLUGINS": NAME,
        }


def new_database(tmp: Path, name: str) -> str:
    base = os.environ.get("CRM_TEST_DATABASE_URL")
    if base:
        return run_async(create_postgres_database(base))
    return f"sqlite:///{tmp / name}"


def drop_database(url: str) -> None:
    if not url.startswith("sqlite:"):
        run_async(drop_postgres_database(url))


def run_plugin_tests(
    target: Path, env: dict[str, str], python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    """``python -m pytest TARGET`` the way its author runs it; on PostgreSQL against a
    database of its own, dropped afterwards."""
    env = dict(env)
    base = os.environ.get("CRM_TEST_DATABASE_URL")
    database = run_async(create_postgres_database(base)) if base else None
    if database:
        env["CRM_TEST_DATABASE_URL"] = database
    try:
        return run([python, "-m", "pytest", str(target), "-q"], env=env, cwd=target)
    finally:
        if database:
            drop_database(database)


def test_new_plugin_installs_passes_its_tests_migrates_and_works(tmp_path):
    """The acceptance path of a plugin author, end to end: create, pip install, run its own
    tests, migrate, use it in the app and the CLI, purge."""
    python = layered_environment(tmp_path / "venv")
    created = crm(
        "plugins", "new", NAME, "--dir", str(tmp_path), cwd=tmp_path, env={"CRM_LOAD_PLUGINS": ""}
    )
    assert created.returncode == 0, created.stderr
    target = tmp_path / NAME
    check_generated_files(target)
    instance = Instance(tmp_path / "home", new_database(tmp_path, "instance.sqlite"), python)
    try:
        installed = pip(python, "install", "--no-deps", "-e", str(target))
        assert installed.returncode == 0, installed.stdout + installed.stderr
        assert run([sys.executable, "-m", "pip", "show", DISTRIBUTION]).returncode != 0

        tested = run_plugin_tests(target, {}, python)
        assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
        assert " passed" in tested.stdout and "failed" not in tested.stdout

        check_migrate(instance)
        contact_id = check_app(instance)
        check_command(instance, contact_id)
        check_purge(instance)
    finally:
        drop_database(instance.database_url)


def check_generated_files(target: Path) -> None:
    package = target / "src" / "crm_demo_plugin"
    for part in (
        "pyproject.toml",
        "README.md",
        "src/crm_demo_plugin/plugin.py",
        "src/crm_demo_plugin/tables.py",
        "src/crm_demo_plugin/piccolo_app.py",
        "src/crm_demo_plugin/routes.py",
        "src/crm_demo_plugin/api.py",
        "src/crm_demo_plugin/panels.py",
        "src/crm_demo_plugin/commands.py",
        "src/crm_demo_plugin/templates/demo_plugin/index.html",
        "tests/test_demo_plugin.py",
    ):
        assert (target / part).is_file(), part
    pyproject = (target / "pyproject.toml").read_text()
    assert '[project.entry-points."crm.plugins"]' in pyproject
    assert 'demo_plugin = "crm_demo_plugin.plugin"' in pyproject
    assert f'core="{core_range(__version__)}"' in (package / "plugin.py").read_text()
    assert 'tablename="demo_plugin_note"' in (package / "tables.py").read_text()
    template = package / "templates" / NAME / "index.html"
    assert '{% extends "core/base.html" %}' in template.read_text()
    [migration] = (package / "piccolo_migrations").glob("crm_demo_plugin_*.py")
    assert "manager.add_table(" in migration.read_text()


def check_migrate(instance: Instance) -> None:
    migrated = instance.crm("db", "migrate")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "crm_demo_plugin" in migrated.stdout
    status = instance.crm("db", "status", "--json")
    assert status.returncode == 0, status.stderr
    apps = {app["app"]: app for app in json.loads(status.stdout)}
    assert len(apps["crm_demo_plugin"]["applied"]) == 1
    assert apps["crm_demo_plugin"]["pending"] == []
    listed = instance.crm("plugins", "list", "--json")
    plugins = {row["name"]: row for row in json.loads(listed.stdout)}
    assert plugins[NAME]["loaded"] and plugins[NAME]["distribution"] == DISTRIBUTION
    assert plugins[NAME]["pending_migrations"] == 0
    checked = instance.crm("plugins", "check")
    assert checked.returncode == 0, checked.stderr


APP_CHECK = textwrap.dedent(
    """
    import asyncio
    import json

    import httpx

    from crmcore.app import create_app
    from crmcore.services.actor import SYSTEM
    from crmcore.services.contacts import create_contact
    from crmcore.services.tokens import create_token
    from crmcore.services.users import create_user


    async def main():
        app = create_app()
        async with app.lifespan():
            user = await create_user(
                email="owner@example.com", password="correct horse battery staple",
                role="admin", name="Owner",
            )
            token = await create_token(user_id=user["id"], name="scaffold check")
            contact = await create_contact({"first_name": "Ada", "last_name": "King"}, SYSTEM)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://testserver",
                headers={"Authorization": f"Bearer {token}"},
            ) as client:
                created = await client.post(
                    "/api/v1/demo_plugin/notes",
                    json={"contact_id": contact["id"], "body": "Wants a demo"},
                )
                listed = await client.get("/api/v1/demo_plugin/notes")
                page = await client.get("/demo_plugin/")
                contact_page = await client.get(f"/contacts/{contact['id']}")
                schema = await client.get("/schema/openapi.json")
        print(json.dumps({
            "contact_id": contact["id"],
            "created": [created.status_code, created.json()],
            "listed": [listed.status_code, listed.json()],
            "page": [page.status_code, page.text],
            "contact_page": [contact_page.status_code, contact_page.text],
            "paths": sorted(schema.json()["paths"]),
        }))


    asyncio.run(main())
    """
)


def check_app(instance: Instance) -> int:
    """Build the app in a new process (so it reads the installed entry points) and use the
    plugin's API route, page and contact panel over HTTP; return the contact's id."""
    checked = run([instance.python, "-c", APP_CHECK], env=instance.env)
    assert checked.returncode == 0, checked.stderr[-4000:]
    seen = json.loads(checked.stdout.strip().splitlines()[-1])
    assert seen["created"][0] == 201, seen["created"]
    assert seen["listed"][0] == 200
    assert [note["body"] for note in seen["listed"][1]["items"]] == ["Wants a demo"]
    assert "/api/v1/demo_plugin/notes" in seen["paths"]
    status, html = seen["page"]
    assert status == 200 and "<h1>Demo Plugin</h1>" in html and "Wants a demo" in html
    status, html = seen["contact_page"]
    assert status == 200 and "Demo Plugin" in html and "Wants a demo" in html
    return seen["contact_id"]


def check_command(instance: Instance, contact_id: int) -> None:
    contact = str(contact_id)
    added = instance.crm("demo_plugin", "add-note", contact, "Sent the offer")
    assert added.returncode == 0, added.stderr
    listed = instance.crm("demo_plugin", "notes", "--contact", contact, "--json")
    assert listed.returncode == 0, listed.stderr
    assert [n["body"] for n in json.loads(listed.stdout)] == ["Sent the offer", "Wants a demo"]
    helped = instance.crm("--help")
    assert "demo_plugin" in helped.stdout


def check_purge(instance: Instance) -> None:
    """The hand-written first migration also runs backwards: purging drops the table."""
    purged = instance.crm("plugins", "purge", NAME, "--yes")
    assert purged.returncode == 0, purged.stdout + purged.stderr
    status = instance.crm("db", "status", "--json")
    apps = {app["app"]: app for app in json.loads(status.stdout)}
    assert apps["crm_demo_plugin"]["applied"] == []
    assert len(apps["crm_demo_plugin"]["pending"]) == 1


def test_plugins_install_and_uninstall_wrap_pip(tmp_path):
    """`crm plugins install` / `uninstall` run pip in the CRM's own environment: the plugin
    appears in `crm plugins list` and disappears again."""
    python = layered_environment(tmp_path / "venv")
    target = render_plugin(PluginSpec("pip_probe"), tmp_path)
    env = {
        "CRM_HOME": str(tmp_path / "home"),
        "CRM_DATABASE_URL": f"sqlite:///{tmp_path / 'never-created.sqlite'}",
        "CRM_LOAD_PLUGINS": "pip_probe",
    }

    def listed() -> dict[str, dict]:
        result = crm("plugins", "list", "--json", env=env, python=python)
        assert result.returncode == 0, result.stderr
        return {row["name"]: row for row in json.loads(result.stdout)}

    installed = crm("plugins", "install", "--", "--no-deps", str(target), env=env, python=python)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "crm db migrate" in installed.stdout
    assert run([sys.executable, "-m", "pip", "show", "crm-pip-probe"]).returncode != 0
    assert listed()["pip_probe"]["distribution"] == "crm-pip-probe"

    removed = crm("plugins", "uninstall", "crm-pip-probe", env=env, python=python)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert "pip_probe" not in listed()


# --------------------------------------------------------------------------- variants


def fake_install(site: Path, target: Path, name: str) -> dict[str, str]:
    """Make ``target`` importable and discoverable without pip: a dist-info with its entry
    point in ``site``, and both folders on PYTHONPATH of the subprocesses."""
    info = site / f"crm_{name}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: crm-{name}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[crm.plugins]\n{name} = crm_{name}.plugin\n")
    path = os.pathsep.join([str(site), str(target / "src"), os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path}


def lint(target: Path) -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        return
    for args in (["check", "--no-cache", "."], ["format", "--check", "."]):
        result = run([ruff, *args], cwd=target)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "left_out",
    [
        pytest.param(("table",), id="no-table"),
        pytest.param(FEATURES, id="nothing-optional"),
    ],
)
def test_variants_without_parts_pass_their_tests(left_out, tmp_path):
    name = "variant_" + "_".join(part[:2] for part in left_out)
    spec = PluginSpec(name, frozenset(f for f in FEATURES if f not in left_out))
    target = render_plugin(spec, tmp_path)
    package = target / "src" / f"crm_{name}"
    assert (package / "tables.py").exists() == ("table" not in left_out)
    assert (package / "piccolo_migrations").exists() == ("table" not in left_out)
    assert (package / "routes.py").exists() == ("page" not in left_out)
    assert (package / "commands.py").exists() == ("command" not in left_out)
    lint(target)

    result = run_plugin_tests(target, fake_install(tmp_path / "site", target, name))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_the_full_plugin_is_lint_clean(tmp_path):
    lint(render_plugin(PluginSpec("lint_me"), tmp_path))


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Loyalty", "invalid plugin name"),
        ("loyalty-points", "invalid plugin name"),
        ("9lives", "invalid plugin name"),
        ("class", "Python keyword"),
        ("core", "already installed"),
        ("json", "module named 'json'"),
        ("x" * 33, "too long"),
    ],
)
def test_refuses_bad_or_taken_names(crm_cli, tmp_path, name, message):
    parent = tmp_path / "plugins"
    parent.mkdir()
    result = crm_cli("plugins", "new", name, "--dir", str(parent))
    assert result.exit_code == 1
    assert message in result.output
    assert list(parent.iterdir()) == []


def test_refuses_an_existing_folder(crm_cli, tmp_path):
    (tmp_path / "loyalty").mkdir()
    result = crm_cli("plugins", "new", "loyalty", "--dir", str(tmp_path))
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_options_leave_parts_out(crm_cli, tmp_path):
    result = crm_cli("plugins", "new", "loyalty", "--dir", str(tmp_path), "--no-api", "--no-panel")
    assert result.exit_code == 0, result.output
    package = tmp_path / "loyalty" / "src" / "crm_loyalty"
    assert not (package / "api.py").exists() and not (package / "panels.py").exists()
    plugin = (package / "plugin.py").read_text()
    assert "register_api_routes" not in plugin and "contact_panels" not in plugin
    assert "register_routes" in plugin and "register_commands" in plugin
