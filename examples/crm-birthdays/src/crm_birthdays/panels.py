"""The contact page box: when the next birthday is and whether the owner was reminded."""

from __future__ import annotations

from datetime import date
from typing import Any

from crmcore.jobs import clock
from crmcore.web.hooks import Panel
from markupsafe import Markup

from crm_birthdays.reminders import occurrence
from crm_birthdays.tables import Reminder


def next_birthday(born: date, today: date) -> date:
    upcoming = occurrence(born, today.year)
    return upcoming if upcoming >= today else occurrence(born, today.year + 1)


async def birthday_panels(contact: dict[str, Any]) -> list[Panel]:
    if not contact.get("birthday"):
        return []
    born = date.fromisoformat(contact["birthday"])
    today = clock.now().date()
    upcoming = next_birthday(born, today)
    days = (upcoming - today).days
    when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
    html = Markup("<p>Turns {} on {} ({}).</p>").format(
        upcoming.year - born.year, f"{upcoming:%d %B %Y}", when
    )
    key = f"{contact['id']}:{upcoming.isoformat()}"
    if await Reminder.exists().where(Reminder.key == key):
        html += Markup("<p>The owner has a reminder task for it.</p>")
    return [Panel(title="Birthday", html=html, order=60)]
