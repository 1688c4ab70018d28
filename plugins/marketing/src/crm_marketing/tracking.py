"""Opens, clicks and one-click unsubscribes coming back from sent email.

Each is checked against its HMAC signature; a click must also name a URL that was in the
message (stored per send), so the redirect is never open. Opens by mail providers' image
proxies (which fetch every image, read or not) are recorded but flagged and not scored.
Each open and click is an interaction on the contact's timeline (channel ``email``).
"""

from __future__ import annotations

from typing import Any

from crm_marketing import signing
from crmcore.errors import NotFound
from crmcore.jobs import clock
from crmcore.services.actor import SYSTEM
from crmcore.services.records import fetch, load_json
from crmcore.services.transaction import write_transaction

PROXY_AGENTS = ("googleimageproxy", "yahoomailproxy", "ymailproxy", "outlook-iOS",
                "apple-mail-privacy", "mail.ru imageproxy", "proofpoint")  # fmt: skip


def is_image_proxy(user_agent: str) -> bool:
    agent = (user_agent or "").lower()
    return any(marker.lower() in agent for marker in PROXY_AGENTS)


async def _send(send_id: int) -> dict[str, Any]:
    rows = await fetch(
        "SELECT s.*, c.name AS campaign_name FROM marketing_send s "
        "JOIN marketing_campaign c ON c.id = s.campaign WHERE s.id = {}",
        [send_id],
    )
    if not rows or rows[0]["state"] != "sent":
        raise NotFound("this link is not valid.")
    return dict(rows[0])


async def _event(send: dict[str, Any], kind: str, url: str, agent: str, proxy: bool) -> None:
    await fetch(
        "INSERT INTO marketing_tracking_event (send, campaign, contact, kind, url, user_agent, "
        "proxy, at) VALUES ({}, {}, {}, {}, {}, {}, {}, {})",
        [send["id"], send["campaign"], send["contact"], kind, url, agent[:500], proxy,
         clock.now()],
    )  # fmt: skip


async def _interaction(send: dict[str, Any], subject: str, meta: dict[str, Any]) -> None:
    from crmcore.services.interactions import log_interaction

    await log_interaction(
        {"contact_id": send["contact"], "channel": "email", "direction": "inbound",
         "subject": subject[:200], "occurred_at": clock.now().isoformat(),
         "meta": {"campaign_id": send["campaign"], "send_id": send["id"], **meta}},
        SYSTEM,
    )  # fmt: skip


async def record_open(secret: str, send_id: int, signature: str, user_agent: str) -> bool:
    """Record an open; False (and nothing stored) when the signature is wrong."""
    if not signing.verify(secret, signature, "open", send_id):
        return False
    try:
        send = await _send(send_id)
    except NotFound:
        return False
    proxy = is_image_proxy(user_agent)
    first = send["opened_at"] is None
    async with write_transaction():
        await _event(send, "open", "", user_agent, proxy)
        if first and not proxy:
            await fetch("UPDATE marketing_send SET opened_at = {} WHERE id = {} "
                        "AND opened_at IS NULL", [clock.now(), send_id])  # fmt: skip
            await _interaction(send, f"Opened: {send['campaign_name']}", {"proxy": proxy})
    if first and not proxy:
        from crm_marketing.scoring import score_event

        await score_event(int(send["contact"]), "open")
    return True


async def record_click(secret: str, send_id: int, signature: str, url: str, user_agent: str) -> str:
    """The URL to redirect to; NotFound for a bad signature or a URL not in the message."""
    if not url or not signing.verify(secret, signature, "click", send_id, url):
        raise NotFound("this link is not valid.")
    send = await _send(send_id)
    if url not in load_json(send["links"], []):
        raise NotFound("this link is not valid.")
    now = clock.now()
    async with write_transaction():
        await _event(send, "click", url, user_agent, is_image_proxy(user_agent))
        await fetch(
            "UPDATE marketing_send SET clicked_at = coalesce(clicked_at, {}), "
            "opened_at = coalesce(opened_at, {}) WHERE id = {}",
            [now, now, send_id],
        )
        await _interaction(send, f"Clicked: {send['campaign_name']}", {"url": url})
    from crm_marketing.scoring import score_event

    await score_event(int(send["contact"]), "click")
    return url


async def unsubscribe(secret: str, send_id: int, signature: str) -> dict[str, Any]:
    """One-click unsubscribe: withdraw email marketing consent for the send's contact."""
    from crm_marketing.consent import record_consent

    if not signing.verify(secret, signature, "unsubscribe", send_id):
        raise NotFound("this unsubscribe link is not valid.")
    send = await _send(send_id)
    async with write_transaction():
        await record_consent(
            int(send["contact"]), "withdraw", SYSTEM, channel="email", purpose="marketing",
            legal_basis="consent", source=f"unsubscribe link, campaign {send['campaign']}",
        )  # fmt: skip
        await fetch("UPDATE marketing_send SET unsubscribed_at = coalesce(unsubscribed_at, {}) "
                    "WHERE id = {}", [clock.now(), send_id])  # fmt: skip
        await _event(send, "unsubscribe", "", "", False)
    return {"contact_id": send["contact"], "email": send["email"]}
