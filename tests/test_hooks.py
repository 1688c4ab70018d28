"""Hooks exercised through the real app, database and CLI by a registered test plugin
(``tests/plugins/probe_notes``), for the hooks no other test covers. tests/test_docs.py
requires every hook to have a test somewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmcore.app import create_app

PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture
def probe(register_test_plugin, monkeypatch):
    """The ``probe_notes`` test plugin, registered before the plugin manager is built."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    from probe_notes import plugin

    plugin.calls.clear()
    register_test_plugin(plugin, "probe_notes")
    return plugin


async def test_register_piccolo_apps_gets_the_plugin_table_migrated(probe, crm_pm, crm_db):
    from probe_notes.tables import ProbeNote

    assert "probe_notes.piccolo_app" in crm_db.app_modules
    await ProbeNote.insert(ProbeNote(text="hello"))
    assert await ProbeNote.select(ProbeNote.text) == [{"text": "hello"}]


async def test_startup_runs_with_the_database_open_and_shutdown_before_it_closes(
    probe, crm_settings, crm_pm, crm_db
):
    from probe_notes.tables import ProbeNote

    app = create_app(crm_settings, crm_pm, manage_database=False)
    async with app.lifespan():
        assert probe.calls == [("startup", 0)]
        await ProbeNote.insert(ProbeNote(text="written while running"))
    assert probe.calls == [("startup", 0), ("shutdown", 1)]


async def test_extra_template_vars_reach_the_page_template(probe, crm_client):
    response = await crm_client.get("/probe_notes/")
    assert response.status_code == 200, response.text
    assert '<p id="banner">rendered probe_notes/index.html for /probe_notes' in response.text
    assert ("extra_template_vars", "probe_notes/index.html") in probe.calls


def test_register_commands_adds_a_working_command(probe, crm_run, crm_cli):
    from probe_notes.tables import ProbeNote

    crm_run(ProbeNote.count())  # migrates the test database, probe table included
    helped = crm_cli("--help")
    assert "probe" in helped.output
    first = crm_cli("probe", "add", "one")
    second = crm_cli("probe", "add", "two")
    assert first.exit_code == 0, first.output
    assert (first.output, second.output) == ("1 probe note(s)\n", "2 probe note(s)\n")
