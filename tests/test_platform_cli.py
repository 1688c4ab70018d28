"""The admin command line of the platform: init, plugins, db (real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys

FIRST_PARTY = {
    "geo": "crm-geo",
    "hr": "crm-hr",
    "projects": "crm-projects",
    "marketing": "crm-marketing",
}


def test_init_then_plugins_list_shows_the_four_plugins(run_crm):
    init = run_crm("init")
    assert init.returncode == 0, init.stderr
    listed = run_crm("plugins", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    for name, dist in FIRST_PARTY.items():
        row = rows[name]
        assert row["distribution"] == dist
        assert row["version"] == "0.1.0"
        assert row["enabled"] is True and row["essential"] is False
        assert row["depends"] == []
        assert row["pending_migrations"] == 0
        assert "register_piccolo_apps" in row["hooks"]  # each has its own tables
    assert rows["core"]["essential"] is True


def test_migrate_from_empty_then_status_is_clean_and_idempotent(run_crm):
    first = run_crm("db", "migrate")
    assert first.returncode == 0, first.stderr
    assert "applied crm_core:" in first.stdout
    status = run_crm("db", "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    apps = {row["app"]: row for row in json.loads(status.stdout)}
    assert {"crm_core", "crm_geo", "crm_hr", "crm_projects", "crm_marketing"} <= set(apps)
    assert all(not row["pending"] for row in apps.values())
    plain = run_crm("db", "status")
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "up to date" in plain.stdout and "pending" not in plain.stdout
    again = run_crm("db", "migrate")
    assert again.returncode == 0 and "Nothing to migrate." in again.stdout
    assert json.loads(run_crm("db", "status", "--json").stdout) == json.loads(status.stdout)


def test_status_exits_nonzero_when_migrations_are_pending(run_crm):
    status = run_crm("db", "status")
    assert status.returncode == 1
    assert "pending" in status.stdout


def test_migrate_one_plugin(run_crm):
    run_crm("db", "migrate", "--plugin", "core")
    result = run_crm("db", "migrate", "--plugin", "geo")
    assert result.returncode == 0, result.stderr
    apps = {row["app"]: row for row in json.loads(run_crm("db", "status", "--json").stdout)}
    assert not apps["crm_geo"]["pending"]
    assert apps["crm_hr"]["pending"]


def _sql(run_crm, settings, statement):
    """Run SQL against the instance database through the project's own engine."""
    import asyncio

    from crmcore.db.runtime import open_database

    async def go():
        db = await open_database(settings.database_url, None, pool=False)
        try:
            return [dict(row) for row in await db.engine.run_ddl(statement) or []]
        finally:
            await db.close()

    return asyncio.run(go())


def test_disable_keeps_data_and_enable_brings_it_back(run_crm, crm_fresh_settings):
    assert run_crm("init").returncode == 0
    _sql(
        run_crm,
        crm_fresh_settings,
        "INSERT INTO geo_location (lat, lon, source, precision_m, label) "
        "VALUES (35.7, 51.4, 'manual', 0, 'kept')",
    )
    disabled = run_crm("plugins", "disable", "geo")
    assert disabled.returncode == 0, disabled.stderr
    rows = {r["name"]: r for r in json.loads(run_crm("plugins", "list", "--json").stdout)}
    assert rows["geo"]["enabled"] is False
    status = json.loads(run_crm("db", "status", "--json").stdout)
    assert "crm_geo" not in {row["app"] for row in status}
    assert _sql(run_crm, crm_fresh_settings, "SELECT label FROM geo_location") == [
        {"label": "kept"}
    ]
    enabled = run_crm("plugins", "enable", "geo")
    assert enabled.returncode == 0, enabled.stderr
    assert _sql(run_crm, crm_fresh_settings, "SELECT label FROM geo_location") == [
        {"label": "kept"}
    ]


def test_disabling_a_plugin_another_depends_on_is_refused(run_crm, make_distribution):
    make_distribution("crm-geoextra", "geoextra", depends=("geo",))
    assert run_crm("init").returncode == 0
    refused = run_crm("plugins", "disable", "geo")
    assert refused.returncode != 0
    assert "geoextra" in refused.stderr and "--cascade" in refused.stderr
    cascade = run_crm("plugins", "disable", "geo", "--cascade")
    assert cascade.returncode == 0, cascade.stderr
    rows = {r["name"]: r for r in json.loads(run_crm("plugins", "list", "--json").stdout)}
    assert not rows["geo"]["enabled"] and not rows["geoextra"]["enabled"]


def test_essential_plugin_cannot_be_disabled(run_crm):
    result = run_crm("plugins", "disable", "core")
    assert result.returncode != 0 and "essential" in result.stderr


def test_purge_drops_a_plugins_tables_only_when_confirmed(run_crm, crm_fresh_settings):
    assert run_crm("init").returncode == 0
    assert run_crm("plugins", "purge", "projects").returncode != 0
    purged = run_crm("plugins", "purge", "projects", "--yes")
    assert purged.returncode == 0, purged.stderr
    status = {r["app"]: r for r in json.loads(run_crm("db", "status", "--json").stdout or "[]")}
    assert status["crm_projects"]["pending"]


def test_plugins_info_and_unknown_plugin(run_crm):
    info = run_crm("plugins", "info", "hr")
    assert info.returncode == 0 and json.loads(info.stdout)["distribution"] == "crm-hr"
    missing = run_crm("plugins", "info", "nope")
    assert missing.returncode != 0 and "nope" in missing.stderr


def test_init_never_prompts_without_a_terminal(run_crm):
    result = run_crm("init")
    assert result.returncode == 0, result.stderr
    assert "Instance ready" in result.stdout


def test_init_creates_the_instance_crm_home_names(run_crm, crm_fresh_settings, tmp_path):
    """CRM_HOME may name a folder that does not exist yet: init makes it, with its config,
    secret key and (on SQLite, by default) the database file inside it, all migrated."""
    home = tmp_path / "new" / "instance"
    env = {"CRM_HOME": str(home)}
    if crm_fresh_settings.is_sqlite:
        env["CRM_DATABASE_URL"] = ""  # the default: crm.sqlite inside CRM_HOME
    result = run_crm("init", env=env)
    assert result.returncode == 0, result.stderr
    assert (home / "crm.toml").is_file() and (home / "uploads").is_dir()
    assert (home / "secret_key").stat().st_mode & 0o777 == 0o600
    if crm_fresh_settings.is_sqlite:
        assert (home / "crm.sqlite").is_file()
    status = run_crm("db", "status", env=env)
    assert status.returncode == 0, status.stdout + status.stderr


HEAVY = {"litestar", "piccolo", "asyncpg", "aiosqlite", "uvicorn", "jinja2", "saq", "faker"}


def test_help_imports_nothing_heavy(crm_fresh_settings):
    """`crm --help` lists every command (plugins' too) without importing the web stack, the
    ORM or the database drivers: those load when a command runs."""
    probe = (
        "import json, sys\n"
        "from crmcore.cli.main import main\n"
        "sys.argv = ['crm', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n"
    )
    env = {"CRM_HOME": str(crm_fresh_settings.home), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "plugins" in result.stdout and "geo" in result.stdout
    imported = set(json.loads(result.stderr.strip().splitlines()[-1]))
    assert not imported & HEAVY, f"crm --help imported {sorted(imported & HEAVY)}"
