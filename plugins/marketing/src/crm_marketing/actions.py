"""Automation actions the marketing plugin adds: enrol the contact in a drip campaign, and
send it a one-off email from a template (as a step of a campaign, so exactly once)."""

from __future__ import annotations

from typing import Any

from crmcore.errors import ValidationError
from crmcore.services.automation import Action, ActionContext


async def start_drip_action(contact_id: int, params: dict[str, Any], ctx: ActionContext) -> Any:
    from crm_marketing.campaigns import get_campaign
    from crm_marketing.drip import enrol

    campaign = await get_campaign(int(params["campaign_id"]))
    if campaign["kind"] != "drip" or campaign["status"] != "active":
        raise ValidationError.for_field("campaign_id", "must be an active drip campaign.")
    return {"enrolled": await enrol(campaign["id"], [contact_id])}


async def send_email_action(contact_id: int, params: dict[str, Any], ctx: ActionContext) -> Any:
    """Queue the campaign's message for this contact (a broadcast's template); the unique
    send key makes a re-run of the rule a no-op."""
    from crm_marketing.campaigns import SEND_JOB, get_campaign, queue_sends
    from crmcore.jobs import enqueue
    from crmcore.services.transaction import write_transaction

    campaign = await get_campaign(int(params["campaign_id"]))
    if campaign["kind"] != "broadcast" or campaign["status"] not in ("sending", "sent"):
        raise ValidationError.for_field("campaign_id", "must be a started broadcast campaign.")
    async with write_transaction():
        queued = await queue_sends(campaign["id"], 0, ("contact.id = {}", [contact_id]))
        if queued:
            from crm_marketing.tables import Campaign

            await Campaign.update({Campaign.status: "sending"}).where(Campaign.id == campaign["id"])
            await enqueue(SEND_JOB, {"campaign_id": campaign["id"]})
    return {"queued": queued}


def automation_actions() -> list[Action]:
    return [
        Action("marketing.start_drip", "Start a drip campaign",
               {"campaign_id": "Drip campaign id"}, start_drip_action),
        Action("marketing.send_email", "Send a campaign's email",
               {"campaign_id": "Broadcast campaign id"}, send_email_action),
    ]  # fmt: skip
