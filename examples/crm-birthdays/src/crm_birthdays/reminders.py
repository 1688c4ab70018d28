"""Whose birthday is coming, and the reminders for their owners.

`send_reminders` is the one door for writes: the daily job and `crm birthdays remind` both
call it. Each reminder is a task (a planned interaction) created through the core's
`create_task`, assigned to the contact's owner and due on the birthday, plus a row in
`birthdays_reminder` written in the same transaction, so that a birthday is reminded once.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from crmcore.errors import ValidationError
from crmcore.services.actor import SYSTEM, Actor
from crmcore.services.audit import record_audit
from crmcore.services.outbox import emit_event
from crmcore.services.tasks import create_task
from crmcore.services.transaction import write_transaction
from crmcore.tables import Contact
from piccolo.columns.combination import WhereRaw

from crm_birthdays.tables import Reminder

PLUGIN = "birthdays"
DEFAULT_DAYS_AHEAD = 7
MAX_DAYS_AHEAD = 60
REMIND_AT = time(9, 0)  # UTC, on the birthday itself


@dataclass(frozen=True)
class Birthday:
    """A contact's next birthday within the window looked at."""

    contact_id: int
    name: str
    owner_id: int | None
    born: date
    occurs_on: date

    @property
    def age(self) -> int:
        return self.occurs_on.year - self.born.year

    @property
    def key(self) -> str:
        return f"{self.contact_id}:{self.occurs_on.isoformat()}"


@dataclass
class RunResult:
    """What one reminder run did."""

    created: list[dict[str, Any]] = field(default_factory=list)
    already_reminded: int = 0
    without_owner: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "already_reminded": self.already_reminded,
            "without_owner": self.without_owner,
        }


def days_ahead(settings: Any) -> int:
    """``[plugins.birthdays] days_ahead`` from crm.toml, or 7."""
    configured = settings.plugin_settings(PLUGIN).get("days_ahead") if settings else None
    return int(configured) if configured is not None else DEFAULT_DAYS_AHEAD


def occurrence(born: date, year: int) -> date:
    """The birthday in ``year``; 29 February falls on the 28th in other years."""
    if (born.month, born.day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return born.replace(year=year)


def _window(today: date, days: int) -> dict[str, date]:
    """``{"MM-DD": date}`` for today and each of the ``days`` after it. On 28 February of a
    year without a 29th, people born on 29 February are included too."""
    window = {}
    for offset in range(days + 1):
        day = today + timedelta(days=offset)
        window[f"{day:%m-%d}"] = day
        if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
            window["02-29"] = day
    return window


async def upcoming_birthdays(today: date, days: int) -> list[Birthday]:
    """Contacts whose birthday is ``today`` or within the ``days`` after it, soonest first."""
    if not 0 <= days <= MAX_DAYS_AHEAD:
        raise ValidationError.for_field("days", f"must be between 0 and {MAX_DAYS_AHEAD}")
    window = _window(today, days)
    if Contact._meta.db.engine_type == "sqlite":
        month_day = "strftime('%m-%d', birthday)"
    else:
        month_day = "to_char(birthday, 'MM-DD')"
    placeholders = ", ".join("{}" for _ in window)
    rows = await Contact.select(
        Contact.id, Contact.first_name, Contact.last_name, Contact.owner, Contact.birthday
    ).where(
        Contact.birthday.is_not_null(),
        WhereRaw(f"{month_day} IN ({placeholders})", *window),
    )
    found = [
        Birthday(
            contact_id=row["id"],
            name=f"{row['first_name']} {row['last_name']}".strip() or f"contact {row['id']}",
            owner_id=row["owner"],
            born=row["birthday"],
            occurs_on=window[f"{row['birthday']:%m-%d}"],
        )
        for row in rows
    ]
    return sorted(found, key=lambda birthday: (birthday.occurs_on, birthday.contact_id))


async def send_reminders(today: date, days: int, actor: Actor = SYSTEM) -> RunResult:
    """Create a task for the owner of every contact with a birthday in the window, unless
    that birthday was reminded already. Contacts without an owner are reported, not
    reminded: nobody would see the task."""
    result = RunResult()
    for birthday in await upcoming_birthdays(today, days):
        if birthday.owner_id is None:
            result.without_owner.append(birthday.contact_id)
            continue
        reminder = await _remind(birthday, actor)
        if reminder is None:
            result.already_reminded += 1
        else:
            result.created.append(reminder)
    return result


async def _remind(birthday: Birthday, actor: Actor) -> dict[str, Any] | None:
    async with write_transaction():
        if await Reminder.exists().where(Reminder.key == birthday.key):
            return None
        task = await create_task(
            {
                "subject": (
                    f"Birthday: {birthday.name} turns {birthday.age} on {birthday.occurs_on:%d %B}"
                ),
                "due_at": datetime.combine(birthday.occurs_on, REMIND_AT, tzinfo=UTC),
                "assignee_id": birthday.owner_id,
                "contact_id": birthday.contact_id,
                "meta": {"plugin": PLUGIN},
            },
            actor,
        )
        rows = await Reminder.insert(
            Reminder(
                contact=birthday.contact_id,
                occurs_on=birthday.occurs_on,
                key=birthday.key,
                task_id=task["id"],
            )
        )
        reminder = {
            "id": rows[0]["id"],
            "contact_id": birthday.contact_id,
            "occurs_on": birthday.occurs_on.isoformat(),
            "task_id": task["id"],
        }
        await record_audit(
            table=Reminder._meta.tablename,
            record_id=reminder["id"],
            action="create",
            changes={key: [None, value] for key, value in reminder.items() if key != "id"},
            actor=actor,
            plugin=PLUGIN,
        )
        await emit_event(f"{PLUGIN}.reminder_created", reminder)
    return reminder


async def reminders_of(contact_id: int) -> list[dict[str, Any]]:
    """The reminders sent for a contact, oldest first (privacy exports, the panel)."""
    rows = await Reminder.select(
        Reminder.id, Reminder.occurs_on, Reminder.task_id, Reminder.created_at
    ).where(Reminder.contact == contact_id)
    return [
        {
            "id": row["id"],
            "occurs_on": row["occurs_on"].isoformat(),
            "task_id": row["task_id"],
            "created_at": row["created_at"].isoformat(),
        }
        for row in sorted(rows, key=lambda row: row["id"])
    ]


async def erase_reminders(contact_id: int) -> None:
    await Reminder.delete().where(Reminder.contact == contact_id)


async def move_reminders(from_contact_id: int, to_contact_id: int) -> None:
    """After a merge the survivor keeps the merged contact's reminders, except for
    birthdays it was reminded of itself."""
    kept = {
        row["occurs_on"]
        for row in await Reminder.select(Reminder.occurs_on).where(
            Reminder.contact == to_contact_id
        )
    }
    for row in await Reminder.select(Reminder.id, Reminder.occurs_on).where(
        Reminder.contact == from_contact_id
    ):
        if row["occurs_on"] in kept:
            await Reminder.delete().where(Reminder.id == row["id"])
            continue
        await Reminder.update(
            {
                Reminder.contact: to_contact_id,
                Reminder.key: f"{to_contact_id}:{row['occurs_on'].isoformat()}",
            }
        ).where(Reminder.id == row["id"])
