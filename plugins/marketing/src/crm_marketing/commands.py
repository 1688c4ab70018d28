"""``crm marketing segments|templates|campaigns …``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx
from crmcore.errors import CRMError
from crmcore.services.actor import SYSTEM


def _run(obj: CLIContext, fn: Any) -> Any:
    try:
        return obj.run(fn)
    except CRMError as exc:
        raise click.ClickException(exc.message) from exc


@click.group()
def marketing() -> None:
    """Segments, email templates and campaigns."""


@marketing.group()
def segments() -> None:
    """Saved contact filters and static lists."""


@segments.command("create")
@click.argument("name")
@click.option("--filter", "tree", help='A filter tree as JSON: {"filter": "tag", "value": "vip"}')
@click.option("--static", is_flag=True, help="An empty static list instead of a filter.")
@pass_ctx
def segments_create(obj: CLIContext, name: str, tree: str | None, static: bool) -> None:
    """Save a segment; prints its id and how many contacts it holds now."""
    from crm_marketing.segments import count_segment, create_segment

    try:
        parsed = json.loads(tree) if tree else None
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--filter") from exc

    async def go(_db: Any) -> tuple[dict[str, Any], int]:
        segment = await create_segment(name, parsed, SYSTEM, static=static)
        return segment, await count_segment(segment)

    segment, count = _run(obj, go)
    click.echo(f"segment {segment['id']} {segment['name']!r}: {count} contacts")


@segments.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def segments_list(obj: CLIContext, as_json: bool) -> None:
    """Every segment with its current size."""
    from crm_marketing.segments import count_segment, list_segments

    async def go(_db: Any) -> list[dict[str, Any]]:
        return [{**s, "count": await count_segment(s)} for s in await list_segments()]

    rows = _run(obj, go)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']:>5}  {row['name'][:40]:<40} {row['count']:>9}")


@marketing.group()
def campaigns() -> None:
    """Broadcasts and drip campaigns."""


@campaigns.command("create")
@click.option("--name", default="", help="A name (default: kind and time).")
@click.option("--segment", required=True, help="Segment name or id.")
@click.option("--template", "template_file", required=True, type=click.Path(exists=True,
              dir_okay=False, path_type=Path), help="An HTML (or .txt) template file.")  # fmt: skip
@click.option("--subject", required=True, help="The subject line (a template too).")
@pass_ctx
def campaigns_create(
    obj: CLIContext, name: str, segment: str, template_file: Path, subject: str
) -> None:
    """A draft broadcast of TEMPLATE to SEGMENT; prints the campaign id."""
    from crm_marketing.campaigns import create_campaign
    from crm_marketing.templates_store import create_template

    source = template_file.read_text(encoding="utf-8")
    is_text = template_file.suffix.lower() == ".txt"

    async def go(_db: Any) -> dict[str, Any]:
        from crmcore.jobs import clock

        template = await create_template(
            {"name": f"{template_file.stem} {clock.now():%Y%m%d%H%M%S%f}", "subject": subject,
             "html": "" if is_text else source, "text": source if is_text else ""},
            SYSTEM,
        )  # fmt: skip
        return await create_campaign(
            {"name": name, "segment": segment, "template": template["id"], "subject": subject},
            SYSTEM,
        )

    campaign = _run(obj, go)
    click.echo(campaign["id"])


@campaigns.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def campaigns_list(obj: CLIContext, as_json: bool) -> None:
    """Every campaign with its status and how many messages went out."""
    from crm_marketing.campaigns import list_campaigns

    rows = _run(obj, lambda _db: list_campaigns())
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']:>5}  {row['name'][:36]:<36} {row['kind']:<9} "
                   f"{row['status']:<8} {row['sent']:>8}/{row['total']}")  # fmt: skip


@campaigns.command("show")
@click.argument("campaign_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def campaigns_show(obj: CLIContext, campaign_id: int, as_json: bool) -> None:
    """A campaign and its report: sent, delivered, opened, clicked, unsubscribed, bounced."""
    from crm_marketing.campaigns import get_campaign
    from crm_marketing.reports import campaign_report

    async def go(_db: Any) -> dict[str, Any]:
        return {**await get_campaign(campaign_id), "report": await campaign_report(campaign_id)}

    campaign = _run(obj, go)
    if as_json:
        echo_json(campaign)
        return
    click.echo(f"{campaign['name']} ({campaign['kind']}, {campaign['status']})")
    for key, value in campaign["report"]["totals"].items():
        click.echo(f"  {key:<13} {value}")


def _status_command(name: str, service: str, doc: str) -> None:
    @campaigns.command(name, help=doc)
    @click.argument("campaign_id", type=int)
    @pass_ctx
    def command(obj: CLIContext, campaign_id: int) -> None:
        from crm_marketing import campaigns as svc

        campaign = _run(obj, lambda _db: getattr(svc, service)(campaign_id, SYSTEM))
        click.echo(f"campaign {campaign_id}: {campaign['status']}")


_status_command("pause", "pause_campaign", "Stop handing messages to SMTP.")
_status_command("resume", "resume_campaign", "Continue a paused campaign.")


@campaigns.command("send")
@click.argument("campaign_id", type=int)
@click.option("--wait", is_flag=True, help="Send from this process and return when every "
              "message has been handed to SMTP.")  # fmt: skip
@pass_ctx
def campaigns_send(obj: CLIContext, campaign_id: int, wait: bool) -> None:
    """Start a draft campaign (its messages go through the job queue)."""
    from crm_marketing.campaigns import get_campaign, pending_sends, start_campaign

    async def go(_db: Any) -> tuple[dict[str, Any], int]:
        campaign = await get_campaign(campaign_id)
        if campaign["status"] == "draft":
            campaign = await start_campaign(campaign_id, SYSTEM)
        if wait:
            await _send_until_done(campaign_id)
        return campaign, await pending_sends(campaign_id)

    campaign, pending = _run(obj, go)
    if wait:
        click.echo(f"campaign {campaign_id}: every message handed to SMTP "
                   f"({pending} pending)")  # fmt: skip
    else:
        click.echo(f"campaign {campaign_id}: {campaign.get('queued', 0)} messages queued")


async def _send_until_done(campaign_id: int) -> None:
    """Send in this process alongside any workers until no message is pending (a paused
    campaign ends the wait)."""
    import asyncio

    from crm_marketing.campaigns import finish_if_done, get_campaign
    from crm_marketing.config import marketing_config
    from crm_marketing.sender import CampaignSender
    from crmcore.services.context import current_pm

    config = marketing_config(current_pm().settings)
    while True:
        if (await get_campaign(campaign_id))["status"] not in ("sending", "active"):
            return
        outcome = await CampaignSender(campaign_id, config).run(budget_s=3600)
        if await finish_if_done(campaign_id) or outcome == "paused":
            return
        await asyncio.sleep(1.0)
