"""Hook implementations of the `marketing` plugin.

Kept light at import time: ``crm --help`` imports every enabled plugin's module, so the
modules that pull in Litestar, click, aiosmtplib or the tables are imported inside hooks.
"""

from __future__ import annotations

from typing import Any

from crm_marketing import __version__
from crmcore.hookspecs import hookimpl
from crmcore.permissions import Permission
from crmcore.plugins import Manifest

manifest = Manifest(
    name="marketing",
    version=__version__,
    description="Segments, templated email, drip campaigns, tracking, scoring and consent",
    depends=(),
    core=">=0.1,<0.2",
)


@hookimpl
def register_piccolo_apps() -> list[str]:
    return ["crm_marketing.piccolo_app"]


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission("marketing.read", "See segments, templates, campaigns and their reports"),
        Permission("marketing.write", "Create and change segments, templates and campaigns"),
        Permission("marketing.send", "Start, pause and resume campaigns"),
        Permission("marketing.consent", "Record consent and do-not-contact for contacts"),
    ]


@hookimpl
def event_types() -> list[str]:
    return [
        "marketing.campaign_sending",
        "marketing.campaign_active",
        "marketing.campaign_paused",
        "marketing.campaign_sent",
        "marketing.consent_changed",
        "marketing.score_threshold",
    ]


@hookimpl
def register_jobs() -> list[Any]:
    from crm_marketing.drip import drip_tick_job
    from crm_marketing.scoring import inactivity_decay_job
    from crm_marketing.sender import send_campaign_job
    from crmcore.jobs import Job

    return [
        Job(
            "marketing.send_campaign", send_campaign_job, retries=10, backoff_s=15, timeout_s=600
        ),  # fmt: skip
        Job("marketing.drip_tick", drip_tick_job, schedule="every 1m", retries=3),
        Job("marketing.score_decay", inactivity_decay_job, schedule="daily", retries=3),
    ]


@hookimpl
async def event_emitted(event: str, payload: dict[str, Any]) -> None:
    from crm_marketing.drip import enrol_for_event

    await enrol_for_event(event, payload)


@hookimpl
def register_automation_actions() -> list[Any]:
    from crm_marketing.actions import automation_actions

    return automation_actions()


@hookimpl
def register_api_routes() -> list[Any]:
    from crm_marketing.api import MarketingController

    return [MarketingController]


@hookimpl
def register_routes() -> list[Any]:
    from crm_marketing.pages import page_handlers

    return page_handlers()


@hookimpl
def template_dirs() -> list[str]:
    from pathlib import Path

    return [str(Path(__file__).parent / "templates")]


@hookimpl
def locale_dirs() -> list[str]:
    from pathlib import Path

    return [str(Path(__file__).parent / "locale")]


@hookimpl
def register_commands(cli: Any) -> None:
    from crm_marketing.commands import marketing

    cli.add_command(marketing)


@hookimpl
def menu_links(request: Any) -> list[Any]:
    from crmcore.web.hooks import MenuLink
    from crmcore.web.templating import translator_for

    label = translator_for(request).gettext("Marketing")
    return [MenuLink(label=label, url="/marketing/", order=45, permission="marketing.read")]


@hookimpl
async def contact_panels(request: Any, contact: Any) -> list[Any]:
    from crm_marketing.panels import marketing_panel

    return await marketing_panel(request, contact)


@hookimpl
async def contact_merged(survivor_id: int, merged_id: int) -> None:
    from crm_marketing.privacy import move_contact

    await move_contact(merged_id, survivor_id)


@hookimpl
async def export_contact_data(contact_id: int) -> dict[str, Any]:
    from crm_marketing.privacy import export_contact

    return await export_contact(contact_id)


@hookimpl
async def erase_contact_data(contact_id: int) -> None:
    from crm_marketing.privacy import erase_contact

    await erase_contact(contact_id)
