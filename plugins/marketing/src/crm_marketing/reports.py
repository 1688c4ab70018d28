"""Campaign reports: totals and per-day counts, computed by the database."""

from __future__ import annotations

from typing import Any

from crmcore.services.records import engine_type, fetch

TOTALS = ("sent", "delivered", "opened", "clicked", "unsubscribed", "bounced", "failed",
          "pending")  # fmt: skip


async def campaign_report(campaign_id: int) -> dict[str, Any]:
    """``totals`` (delivered = handed to SMTP and not bounced) and ``days``: per day, how
    many were sent, opened, clicked, unsubscribed and bounced."""
    rows = await fetch(
        "SELECT count(*) AS total, "
        "sum(CASE WHEN state = 'sent' THEN 1 ELSE 0 END) AS sent, "
        "sum(CASE WHEN state = 'sent' AND bounced_at IS NULL THEN 1 ELSE 0 END) AS delivered, "
        "sum(CASE WHEN opened_at IS NOT NULL THEN 1 ELSE 0 END) AS opened, "
        "sum(CASE WHEN clicked_at IS NOT NULL THEN 1 ELSE 0 END) AS clicked, "
        "sum(CASE WHEN unsubscribed_at IS NOT NULL THEN 1 ELSE 0 END) AS unsubscribed, "
        "sum(CASE WHEN bounced_at IS NOT NULL THEN 1 ELSE 0 END) AS bounced, "
        "sum(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS failed, "
        "sum(CASE WHEN state IN ('queued', 'sending') THEN 1 ELSE 0 END) AS pending "
        "FROM marketing_send WHERE campaign = {}",
        [campaign_id],
    )
    totals = {key: int(rows[0][key] or 0) for key in TOTALS}
    day, sent_day = (
        ("date(at)", "date(sent_at)")
        if engine_type() == "sqlite"
        else ("to_char(at, 'YYYY-MM-DD')", "to_char(sent_at, 'YYYY-MM-DD')")
    )
    days: dict[str, dict[str, int]] = {}
    for row in await fetch(
        f"SELECT {sent_day} AS day, count(*) AS n FROM marketing_send WHERE campaign = {{}} "
        "AND sent_at IS NOT NULL GROUP BY 1",
        [campaign_id],
    ):
        days.setdefault(str(row["day"]), {})["sent"] = int(row["n"])
    for row in await fetch(
        f"SELECT {day} AS day, kind, count(DISTINCT send) AS n FROM marketing_tracking_event "
        "WHERE campaign = {} AND proxy = {} GROUP BY 1, 2",
        [campaign_id, False],
    ):
        days.setdefault(str(row["day"]), {})[row["kind"]] = int(row["n"])
    return {"totals": totals, "days": [{"day": d, **days[d]} for d in sorted(days)]}
