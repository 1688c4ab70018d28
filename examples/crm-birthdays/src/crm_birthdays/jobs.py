"""The daily job. Its date comes from `crmcore.jobs.clock`, so tests move time instead of
waiting for a birthday."""

from __future__ import annotations

from typing import Any

from crmcore.jobs import JobContext, clock
from crmcore.services.context import current_pm

from crm_birthdays.reminders import days_ahead, send_reminders


async def remind(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Job `birthdays.remind`; ``payload["days"]`` overrides the configured window."""
    days = payload.get("days") or days_ahead(current_pm().settings)
    result = await send_reminders(clock.now().date(), int(days))
    return result.as_dict()
