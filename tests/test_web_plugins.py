"""Plugins extend the web UI through hooks only: a menu entry, a contact panel, a dashboard
card, and a page of their own that uses the core layout, their templates and their catalog."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from litestar import Request, get
from litestar.response import Template
from markupsafe import Markup, escape
from web_support import WebClient, signed_in_client  # noqa: F401 - the web_client fixture

from crmcore.hookspecs import hookimpl
from crmcore.services.actor import Actor
from crmcore.services.contacts import create_contact
from crmcore.web.hooks import Card, MenuLink, Panel
from crmcore.web.templating import translator_for

# Test plugins load like installed ones: only when the test asks for them.
pytestmark = pytest.mark.crm_plugins("notes")

PAGE_TEMPLATE = """\
{% extends "core/base.html" %}
{% block title %}{{ _("Visit notes") }}{% endblock %}
{% block content %}<h1>{{ _("Visit notes") }}</h1><p id="count">{{ count|number }}</p>
<p id="region">{{ notes_region }}</p>{% endblock %}
"""

PERSIAN_CATALOG = """\
msgid ""
msgstr ""
"Language: fa\\n"
"Content-Type: text/plain; charset=utf-8\\n"

msgid "Visit notes"
msgstr "یادداشت‌های بازدید"
"""


class NotesPlugin:
    """A plugin as a third party would write it, registered for the test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def template_dirs(self) -> list[str]:
        return [str(self.folder / "templates")]

    @hookimpl
    def locale_dirs(self) -> list[str]:
        return [str(self.folder / "locale")]

    @hookimpl
    def register_routes(self) -> list[Any]:
        @get("/visits", name="notes-visits")
        async def visits(request: Request[Any, Any, Any]) -> Template:
            return Template(template_name="notes/visits.html", context={"count": 1234})

        return [visits]

    @hookimpl
    def extra_template_vars(self, request: Any, template: str) -> dict[str, Any]:
        return {"notes_region": "North"} if template.startswith("notes/") else {}

    @hookimpl
    def menu_links(self, request: Any) -> list[Any]:
        _ = translator_for(request).gettext
        return [
            MenuLink(_("Visit notes"), "/notes/visits", order=55),
            MenuLink("Secret admin tool", "/notes/admin", permission="notes.admin"),
        ]

    @hookimpl
    async def contact_panels(self, request: Any, contact: Any) -> list[Any]:
        html = Markup("<p class='notes-panel'>Last visit by {}</p>").format(contact["name"])
        return [Panel("Field visits", html, order=5)]

    @hookimpl
    async def dashboard_cards(self, request: Any) -> list[Any]:
        return [Card("Visits this week", Markup("<p class='stat'>{}</p>").format(escape(7)))]


@pytest.fixture
def notes_plugin(register_test_plugin: Any, tmp_path: Path) -> NotesPlugin:
    """Registered before the app is built, so its routes are mounted under /notes/."""
    (tmp_path / "templates" / "notes").mkdir(parents=True)
    (tmp_path / "templates" / "notes" / "visits.html").write_text(PAGE_TEMPLATE)
    catalog = tmp_path / "locale" / "fa" / "LC_MESSAGES"
    catalog.mkdir(parents=True)
    (catalog / "messages.po").write_text(textwrap.dedent(PERSIAN_CATALOG), encoding="utf-8")
    plugin = NotesPlugin(tmp_path)
    register_test_plugin(plugin, "notes")
    return plugin


async def viewer_home_page(crm_app: Any) -> Any:
    """The dashboard as a new user with the viewer role sees it."""
    import httpx

    from crmcore.services.users import create_user

    await create_user(email="viewer@example.com", password="viewer password", role="viewer")
    async with WebClient(
        transport=httpx.ASGITransport(app=crm_app), base_url="http://testserver"
    ) as viewer:
        await viewer.sign_in("viewer@example.com", "viewer password")
        return await viewer.get("/")


async def test_plugin_menu_entry_panel_and_card_appear_on_the_pages(
    notes_plugin: NotesPlugin, web_client: WebClient, crm_user: Any
) -> None:
    actor = Actor(user_id=crm_user["id"], label=crm_user["email"], permissions=frozenset({"*"}))
    contact = await create_contact({"first_name": "Omid", "last_name": "Farahani"}, actor)

    dashboard = await web_client.get("/")
    assert '<a href="/notes/visits">Visit notes</a>' in dashboard.text
    assert "Visits this week" in dashboard.text and "<p class='stat'>7</p>" in dashboard.text
    # Ordered between the core's Calendar (50) and Settings (80) entries.
    nav = dashboard.text.split('class="nav-links"')[1]
    assert nav.index("/calendar") < nav.index("/notes/visits") < nav.index("/settings/fields")

    page = await web_client.get(f"/contacts/{contact['id']}")
    assert "Field visits" in page.text
    assert "Last visit by Omid Farahani" in page.text


async def test_plugin_page_uses_the_core_layout_its_templates_and_its_catalog(
    notes_plugin: NotesPlugin, web_client: WebClient
) -> None:
    english = await web_client.get("/notes/visits")
    assert english.status_code == 200
    assert '<html lang="en" dir="ltr">' in english.text
    assert 'aria-current="page"' in english.text.split("/notes/visits")[1][:40]
    assert '<p id="count">1,234</p>' in english.text
    assert '<p id="region">North</p>' in english.text  # from extra_template_vars
    persian = await web_client.get("/notes/visits?lang=fa")
    assert '<html lang="fa" dir="rtl">' in persian.text
    assert "<h1>یادداشت‌های بازدید</h1>" in persian.text
    assert '<p id="count">۱٬۲۳۴</p>' in persian.text
    assert "داشبورد" in persian.text  # the core's menu, from the core's catalog


async def test_menu_entry_with_a_permission_is_hidden_from_users_without_it(
    notes_plugin: NotesPlugin, web_client: WebClient, crm_app: Any
) -> None:
    admin_page = await web_client.get("/")
    assert "Secret admin tool" in admin_page.text  # the admin holds every permission
    page = await viewer_home_page(crm_app)
    assert "Visit notes" in page.text
    assert "Secret admin tool" not in page.text


async def test_an_edited_catalog_shows_on_the_next_page_load(
    notes_plugin: NotesPlugin, web_client: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmcore.web.templating import LiveCatalogs

    monkeypatch.setattr(LiveCatalogs, "RECHECK_SECONDS", 0.0)
    before = await web_client.get("/notes/visits?lang=fa")
    assert "<h1>یادداشت‌های بازدید</h1>" in before.text
    catalog = notes_plugin.folder / "locale" / "fa" / "LC_MESSAGES" / "messages.po"
    catalog.write_text(
        catalog.read_text(encoding="utf-8").replace("یادداشت‌های بازدید", "گزارش بازدیدها"),
        encoding="utf-8",
    )
    after = await web_client.get("/notes/visits")
    assert "<h1>گزارش بازدیدها</h1>" in after.text


class FieldReportsPlugin:
    """A second plugin with a menu entry, for the folding of plugin entries."""

    @hookimpl
    def menu_links(self, request: Any) -> list[Any]:
        return [MenuLink("Field reports", "/field-reports", order=20)]


@pytest.fixture
def field_reports_plugin(register_test_plugin: Any) -> FieldReportsPlugin:
    plugin = FieldReportsPlugin()
    register_test_plugin(plugin, "field_reports")
    return plugin


def bar_and_more(html: str) -> tuple[str, str]:
    """The top bar's own entries and those inside its "More" menu."""
    nav = html.split('id="nav-links"')[1].split("</ul>\n      <form")[0]
    bar, _, more = nav.partition('class="nav-more"')
    return bar, more


async def test_beyond_two_plugin_entries_they_share_a_more_menu_at_the_end(
    notes_plugin: NotesPlugin,
    field_reports_plugin: FieldReportsPlugin,
    web_client: WebClient,
    crm_app: Any,
) -> None:
    admin = await web_client.get("/")
    bar, more = bar_and_more(admin.text)
    # The admin sees three plugin entries: all in "More", in their order; the core's stay.
    for core_link in ("/contacts", "/calendar", "/settings/fields", "/plugins"):
        assert f'href="{core_link}"' in bar
    assert "<summary>More</summary>" in more
    assert more.index("/field-reports") < more.index("/notes/visits") < more.index("/notes/admin")
    assert "/field-reports" not in bar and "/notes/visits" not in bar
    persian = await web_client.get("/?lang=fa")
    assert "<summary>بیشتر</summary>" in bar_and_more(persian.text)[1]

    page = await viewer_home_page(crm_app)
    # Two entries for a viewer (the admin tool is hidden): they stay in the bar, in order.
    bar, more = bar_and_more(page.text)
    assert more == ""
    assert bar.index('"/contacts"') < bar.index('"/field-reports"') < bar.index('"/notes/visits"')
