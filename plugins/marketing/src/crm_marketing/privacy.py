"""Privacy and merge hooks: a contact's marketing data moves with a merge, is exported on
request and erased with the contact."""

from __future__ import annotations

from typing import Any

from crmcore.services.records import fetch, iso

CONTACT_TABLES = (
    "marketing_send", "marketing_tracking_event", "marketing_enrolment",
    "marketing_segment_member", "marketing_do_not_contact", "marketing_consent",
    "marketing_score",
)  # fmt: skip


async def move_contact(merged_id: int, survivor_id: int) -> None:
    """Re-point rows to the survivor; where the survivor already has the unique row (a
    send of the same step, an enrolment, a list membership, a score) the merged one goes."""
    for table, same in (
        ("marketing_send", "o.campaign = t.campaign AND o.step = t.step"),
        ("marketing_enrolment", "o.campaign = t.campaign"),
        ("marketing_segment_member", "o.segment = t.segment"),
        ("marketing_do_not_contact", "o.channel = t.channel"),
        ("marketing_score", "1 = 1"),
    ):
        await fetch(
            f"DELETE FROM {table} WHERE id IN (SELECT t.id FROM {table} t WHERE t.contact = {{}} "
            f"AND EXISTS (SELECT 1 FROM {table} o WHERE o.contact = {{}} AND {same}))",
            [merged_id, survivor_id],
        )
    for table in CONTACT_TABLES:
        await fetch(f"UPDATE {table} SET contact = {{}} WHERE contact = {{}}",
                    [survivor_id, merged_id])  # fmt: skip


async def export_contact(contact_id: int) -> dict[str, Any]:
    sends = await fetch(
        "SELECT s.campaign, c.name AS campaign_name, s.state, s.sent_at, s.opened_at, "
        "s.clicked_at, s.unsubscribed_at FROM marketing_send s JOIN marketing_campaign c "
        "ON c.id = s.campaign WHERE s.contact = {} ORDER BY s.id",
        [contact_id],
    )
    consent = await fetch(
        "SELECT channel, action, purpose, legal_basis, source, at FROM marketing_consent "
        "WHERE contact = {} ORDER BY id",
        [contact_id],
    )
    score = await fetch("SELECT points FROM marketing_score WHERE contact = {}", [contact_id])
    return {
        "marketing": {
            "sends": [{k: iso(v) if k.endswith("_at") else v for k, v in r.items()}
                      for r in sends],
            "consent": [{**r, "at": iso(r["at"])} for r in consent],
            "score": int(score[0]["points"]) if score else 0,
        }
    }  # fmt: skip


async def erase_contact(contact_id: int) -> None:
    """Remove the contact's marketing rows. The do-not-contact state goes too: with the
    contact erased there is nobody left to send to."""
    for table in CONTACT_TABLES:
        await fetch(f"DELETE FROM {table} WHERE contact = {{}}", [contact_id])
