"""Tests of the `birthdays` plugin, written only against crmcore's public interfaces and
its pytest fixtures (they run on SQLite, and on PostgreSQL with CRM_TEST_DATABASE_URL)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from crmcore.errors import ValidationError
from crmcore.jobs import clock, registry_for
from crmcore.jobs.embedded import EmbeddedRunner
from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact
from crmcore.services.merge import merge_contacts
from crmcore.services.tasks import list_tasks
from crmcore.services.users import create_user

from crm_birthdays.reminders import (
    occurrence,
    reminders_of,
    send_reminders,
    upcoming_birthdays,
)

pytestmark = pytest.mark.crm_plugins("birthdays")


async def new_owner(email: str = "owner@example.com") -> int:
    user = await create_user(email=email, password="a long enough password", role="agent")
    return user["id"]


async def new_contact(first_name: str, birthday: str | None, owner_id: int | None = None) -> int:
    data = {"first_name": first_name, "last_name": "Example", "birthday": birthday}
    if owner_id is not None:
        data["owner_id"] = owner_id
    contact = await create_contact(data, SYSTEM)
    return contact["id"]


def test_leap_day_birthdays_fall_on_28_february_in_other_years():
    assert occurrence(date(2000, 2, 29), 2027) == date(2027, 2, 28)
    assert occurrence(date(2000, 2, 29), 2028) == date(2028, 2, 29)
    assert occurrence(date(1990, 3, 12), 2026) == date(2026, 3, 12)


async def test_upcoming_birthdays_span_the_turn_of_the_year(crm_db):
    ada = await new_contact("Ada", "1990-01-02")
    await new_contact("Bea", "1985-01-05")
    cai = await new_contact("Cai", "1970-12-31")
    await new_contact("Dan", None)

    found = await upcoming_birthdays(date(2026, 12, 28), 5)

    assert [(b.contact_id, b.occurs_on, b.age) for b in found] == [
        (cai, date(2026, 12, 31), 56),
        (ada, date(2027, 1, 2), 37),
    ]
    with pytest.raises(ValidationError):
        await upcoming_birthdays(date(2026, 12, 28), 61)


async def test_leap_day_birthdays_are_found_on_28_february(crm_db):
    leap = await new_contact("Leah", "2000-02-29")
    found = await upcoming_birthdays(date(2027, 2, 27), 1)
    assert [(b.contact_id, b.occurs_on) for b in found] == [(leap, date(2027, 2, 28))]


async def test_owner_gets_one_task_per_birthday(crm_db):
    owner = await new_owner()
    ada = await new_contact("Ada", "1990-03-12", owner)
    nobody = await new_contact("Nobody", "1991-03-13")

    first = await send_reminders(date(2026, 3, 10), 7)
    again = await send_reminders(date(2026, 3, 11), 7)

    assert [r["contact_id"] for r in first.created] == [ada]
    assert first.without_owner == [nobody]
    assert again.created == [] and again.already_reminded == 1
    tasks = (await list_tasks(SYSTEM, contact_id=ada, status="planned")).items
    assert len(tasks) == 1
    assert tasks[0]["assignee_id"] == owner
    assert tasks[0]["subject"] == "Birthday: Ada Example turns 36 on 12 March"
    assert tasks[0]["due_at"].date() == date(2026, 3, 12)


async def test_the_daily_job_reminds_when_the_birthday_comes_within_reach(crm_pm, crm_db):
    owner = await new_owner()
    ada = await new_contact("Ada", "1990-03-12", owner)
    job = registry_for(crm_pm).get("birthdays.remind")
    assert job.schedule == "0 6 * * *"
    runner = EmbeddedRunner(registry_for(crm_pm), concurrency=1)

    with clock.frozen_clock(datetime(2026, 3, 4, 6, 0, tzinfo=UTC)) as now:
        await runner.run_until_idle()
        assert await reminders_of(ada) == []  # 12 March is 8 days away
        now.advance(days=1)
        await runner.run_until_idle()
        assert len(await reminders_of(ada)) == 1
        now.advance(days=1)
        await runner.run_until_idle()
        assert len(await reminders_of(ada)) == 1


async def test_contact_page_shows_the_next_birthday(crm_client):
    owner = await new_owner()
    ada = await new_contact("Ada", "1990-03-12", owner)
    with clock.frozen_clock(datetime(2026, 3, 10, 8, 0, tzinfo=UTC)):
        await send_reminders(date(2026, 3, 10), 7)
        response = await crm_client.get(f"/contacts/{ada}")
    assert response.status_code == 200, response.text
    assert "Turns 36 on 12 March 2026 (in 2 days)." in response.text
    assert "The owner has a reminder task for it." in response.text


async def test_privacy_export_erase_and_merge_cover_reminders(crm_pm, crm_db):
    owner = await new_owner()
    ada = await new_contact("Ada", "1990-03-12", owner)
    twin = await new_contact("Ada", "1990-03-12", owner)
    await send_reminders(date(2026, 3, 10), 7)

    exported = dict(await crm_pm.acall("export_contact_data", contact_id=ada))
    assert [r["occurs_on"] for r in exported["birthdays"]["reminders"]] == ["2026-03-12"]

    await merge_contacts(ada, twin, SYSTEM)
    assert len(await reminders_of(ada)) == 1  # the same birthday is kept once

    await crm_pm.acall("erase_contact_data", contact_id=ada)
    assert await reminders_of(ada) == []


def test_command_lists_and_reminds(crm_run, crm_cli):
    owner = crm_run(new_owner())
    ada = crm_run(new_contact("Ada", "1990-03-12", owner))

    listed = crm_cli("birthdays", "upcoming", "--today", "2026-03-10", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output)[0]["contact_id"] == ada

    reminded = crm_cli("birthdays", "remind", "--today", "2026-03-10", "--json")
    assert reminded.exit_code == 0, reminded.output
    assert [r["contact_id"] for r in json.loads(reminded.output)["created"]] == [ada]
    again = crm_cli("birthdays", "remind", "--today", "2026-03-10")
    assert "0 reminder(s) created, 1 already sent." in again.output
