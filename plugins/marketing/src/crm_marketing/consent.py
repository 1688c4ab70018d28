"""Consent and do-not-contact per channel.

Every change is appended to the consent log (purpose, legal basis, source, time, who);
``marketing_do_not_contact`` holds the current state, which the recipient query of every
send reads, so an unsubscribed contact is excluded by the database, not by a Python loop.
"""

from __future__ import annotations

from typing import Any

from crm_marketing.tables import ConsentRecord, DoNotContact
from crmcore.errors import NotFound, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.outbox import emit_event
from crmcore.services.records import fetch, iso, now
from crmcore.services.transaction import write_transaction

CHANNELS = ("email", "sms", "phone", "post")
ACTIONS = ("grant", "withdraw", "do_not_contact", "clear")
LEGAL_BASES = ("consent", "contract", "legitimate_interest", "legal_obligation", "")


async def record_consent(
    contact_id: int,
    action: str,
    actor: Actor,
    *,
    channel: str = "email",
    purpose: str = "marketing",
    legal_basis: str = "consent",
    source: str = "",
) -> dict[str, Any]:
    """Log a consent change and update the do-not-contact state of ``channel``.

    ``withdraw`` (an unsubscribe) and ``do_not_contact`` stop marketing on the channel;
    ``grant`` and ``clear`` allow it again.
    """
    if action not in ACTIONS:
        raise ValidationError.for_field("action", f"must be one of {', '.join(ACTIONS)}.")
    if channel not in CHANNELS:
        raise ValidationError.for_field("channel", f"must be one of {', '.join(CHANNELS)}.")
    if legal_basis not in LEGAL_BASES:
        raise ValidationError.for_field(
            "legal_basis", f"must be one of {', '.join(b for b in LEGAL_BASES if b)}."
        )
    if not await fetch("SELECT id FROM contact WHERE id = {}", [contact_id]):
        raise NotFound(f"there is no contact {contact_id}.")
    stamp = now()
    async with write_transaction():
        rows = await ConsentRecord.insert(
            ConsentRecord(
                contact=contact_id, channel=channel, action=action, purpose=purpose[:200],
                legal_basis=legal_basis, source=source[:200], at=stamp, actor=actor.label[:200],
            )
        )  # fmt: skip
        blocked = await DoNotContact.exists().where(
            (DoNotContact.contact == contact_id) & (DoNotContact.channel == channel)
        )
        if action in ("withdraw", "do_not_contact") and not blocked:
            await DoNotContact.insert(
                DoNotContact(contact=contact_id, channel=channel, reason=action, at=stamp)
            )
        elif action in ("grant", "clear") and blocked:
            await DoNotContact.delete().where(
                (DoNotContact.contact == contact_id) & (DoNotContact.channel == channel)
            )
        await emit_event(
            "marketing.consent_changed",
            {"contact_id": contact_id, "channel": channel, "action": action, "source": source},
        )
    return {"id": int(rows[0]["id"]), "contact_id": contact_id, "channel": channel,
            "action": action, "at": iso(stamp)}  # fmt: skip


async def consent_state(contact_id: int) -> dict[str, Any]:
    """Channels the contact must not be contacted on, and the consent log, newest first."""
    blocked = await fetch(
        "SELECT channel, reason, at FROM marketing_do_not_contact WHERE contact = {} "
        "ORDER BY channel",
        [contact_id],
    )
    log = await fetch(
        "SELECT * FROM marketing_consent WHERE contact = {} ORDER BY at DESC, id DESC LIMIT 50",
        [contact_id],
    )
    return {
        "do_not_contact": [
            {"channel": r["channel"], "reason": r["reason"], "at": iso(r["at"])} for r in blocked
        ],
        "log": [
            {k: (iso(r[k]) if k == "at" else r[k]) for k in
             ("id", "channel", "action", "purpose", "legal_basis", "source", "at", "actor")}
            for r in log
        ],
    }  # fmt: skip
