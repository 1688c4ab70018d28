"""Planned interactions: creating, completing, listing with scope, the CLI and the iCal feed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest

from crmcore.errors import Conflict, NotFound, ValidationError
from crmcore.hookspecs import hookimpl
from crmcore.services.actor import SYSTEM, Actor
from crmcore.services.contacts import create_contact
from crmcore.services.ical import calendar_token, fold_line, render_calendar
from crmcore.services.tasks import cancel_task, complete_task, create_task, list_tasks
from crmcore.services.users import create_user
from crmcore.tables import OutboxEvent
from crmcore.testing.plugin import run_sync

pytestmark = pytest.mark.anyio

NOW = datetime.now(UTC).replace(microsecond=0)


def as_agent(user: dict[str, Any]) -> Actor:
    return Actor(
        user_id=user["id"],
        label=user["email"],
        permissions=frozenset({"contacts.read", "interactions.write"}),
        record_scope="own",
    )


def as_admin(user: dict[str, Any]) -> Actor:
    return Actor(user_id=user["id"], label=user["email"], permissions=frozenset({"*"}))


@pytest.fixture
async def contact(crm_db: Any) -> dict[str, Any]:
    return await create_contact({"first_name": "Nima", "last_name": "Rahimi"}, SYSTEM)


async def test_a_task_is_planned_for_the_actor_by_default(crm_client, crm_user, contact):
    due = (NOW + timedelta(days=2)).isoformat()
    response = await crm_client.post(
        "/api/v1/tasks",
        json={"subject": "Call about renewal", "due_at": due, "contact_id": contact["id"]},
    )
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["status"] == "planned"
    assert task["assignee_id"] == crm_user["id"]
    assert task["channel"] == "phone"
    assert datetime.fromisoformat(task["due_at"]) == NOW + timedelta(days=2)


async def test_a_task_needs_a_subject_a_due_date_and_a_real_assignee(crm_user):
    admin = as_admin(crm_user)
    with pytest.raises(ValidationError) as raised:
        await create_task({"subject": " "}, admin)
    assert set(raised.value.errors) == {"subject", "due_at"}
    with pytest.raises(ValidationError) as raised:
        await create_task({"subject": "x", "due_at": NOW, "assignee_id": 999}, admin)
    assert raised.value.errors["assignee_id"] == "no user with id 999"


async def test_completing_a_task_records_who_and_when_and_fires_the_hook(
    crm_client, crm_user, contact, register_test_plugin
):
    completed: list[dict[str, Any]] = []

    class Listener:
        @hookimpl
        def task_completed(self, interaction, actor):
            completed.append({"id": interaction["id"], "by": actor.user_id})

    register_test_plugin(Listener(), "listener")
    task = await create_task(
        {"subject": "Send contract", "due_at": NOW, "contact_id": contact["id"]},
        as_admin(crm_user),
    )
    before = datetime.now(UTC)
    response = await crm_client.post(f"/api/v1/tasks/{task['id']}/done")
    assert response.status_code == 200, response.text
    done = response.json()
    assert done["status"] == "done"
    assert done["completed_by_id"] == crm_user["id"]
    completed_at = datetime.fromisoformat(done["completed_at"])
    assert before <= completed_at <= datetime.now(UTC)
    # A done task is history: it sits at the moment it was completed.
    assert done["occurred_at"] == done["completed_at"]
    assert completed == [{"id": task["id"], "by": crm_user["id"]}]
    events = (
        await OutboxEvent.select(OutboxEvent.event)
        .where(OutboxEvent.event.like("task.%"))
        .order_by(OutboxEvent.id)
    )
    assert [e["event"] for e in events] == ["task.created", "task.completed"]
    again = await crm_client.post(f"/api/v1/tasks/{task['id']}/done")
    assert again.status_code == 409
    assert "already done" in again.json()["detail"]


async def test_a_logged_interaction_is_not_a_task(crm_user, contact):
    from crmcore.services.interactions import log_interaction

    item = await log_interaction({"contact_id": contact["id"], "channel": "note"}, SYSTEM)
    with pytest.raises(Conflict):
        await complete_task(item["id"], as_admin(crm_user))


async def test_a_task_can_be_rescheduled_and_reassigned_but_a_logged_call_cannot(
    crm_client, crm_user, contact
):
    admin = as_admin(crm_user)
    colleague = await create_user(email="c@example.com", password="a-long-password-5")
    task = await create_task({"subject": "Reminder", "due_at": NOW}, admin)
    later = NOW + timedelta(days=7)
    response = await crm_client.patch(
        f"/api/v1/interactions/{task['id']}",
        json={"due_at": later.isoformat(), "assignee_id": colleague["id"]},
    )
    assert response.status_code == 200, response.text
    moved = response.json()
    assert datetime.fromisoformat(moved["due_at"]) == later
    assert datetime.fromisoformat(moved["occurred_at"]) == later
    assert moved["assignee_id"] == colleague["id"]
    from crmcore.services.interactions import log_interaction

    call = await log_interaction({"contact_id": contact["id"], "channel": "phone"}, SYSTEM)
    refused = await crm_client.patch(
        f"/api/v1/interactions/{call['id']}", json={"due_at": later.isoformat()}
    )
    assert refused.status_code == 422
    assert "only a task" in refused.json()["errors"]["due_at"]


async def test_cancelled_tasks_leave_the_planned_list(crm_user):
    admin = as_admin(crm_user)
    task = await create_task({"subject": "Visit", "due_at": NOW}, admin)
    await cancel_task(task["id"], admin)
    assert (await list_tasks(admin, assignee="me")).items == []
    cancelled = await list_tasks(admin, assignee="me", status="cancelled")
    assert [t["id"] for t in cancelled.items] == [task["id"]]


async def test_listing_filters_by_due_date_soonest_first_across_pages(crm_client, crm_user):
    admin = as_admin(crm_user)
    for offset in (5, -3, 1, -1, 3, 8):
        await create_task(
            {"subject": f"due {offset:+d}", "due_at": NOW + timedelta(days=offset)}, admin
        )
    params = {"assignee": "me", "due_before": (NOW + timedelta(days=4)).isoformat(), "limit": 2}
    subjects, cursor = [], None
    while True:
        response = await crm_client.get(
            "/api/v1/tasks", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        subjects += [t["subject"] for t in response.json()["items"]]
        cursor = response.json()["next"]
        if cursor is None:
            break
    assert subjects == ["due -3", "due -1", "due +1", "due +3"]
    overdue = await list_tasks(admin, assignee="me", due_before=NOW)
    assert [t["subject"] for t in overdue.items] == ["due -3", "due -1"]
    upcoming = await list_tasks(admin, due_after=NOW + timedelta(days=4))
    assert [t["subject"] for t in upcoming.items] == ["due +5", "due +8"]


async def test_agents_see_tasks_assigned_to_them_or_on_contacts_they_own(crm_user):
    admin = as_admin(crm_user)
    alice = await create_user(email="alice@example.com", password="a-long-password-1", role="agent")
    bob = await create_user(email="bob@example.com", password="a-long-password-2", role="agent")
    alices_contact = await create_contact({"first_name": "Leila", "owner_id": alice["id"]}, SYSTEM)
    assigned = await create_task(
        {"subject": "for alice", "due_at": NOW, "assignee_id": alice["id"]}, admin
    )
    on_her_contact = await create_task(
        {
            "subject": "bob calls alice's contact",
            "due_at": NOW + timedelta(hours=1),
            "assignee_id": bob["id"],
            "contact_id": alices_contact["id"],
        },
        admin,
    )
    elsewhere = await create_task(
        {"subject": "for bob", "due_at": NOW, "assignee_id": bob["id"]}, admin
    )
    page = await list_tasks(as_agent(alice))
    assert [t["id"] for t in page.items] == [assigned["id"], on_her_contact["id"]]
    delegated = await create_task(
        {"subject": "alice asks bob", "due_at": NOW + timedelta(hours=2), "assignee_id": bob["id"]},
        as_agent(alice),
    )
    page = await list_tasks(as_agent(alice))
    assert [t["id"] for t in page.items][-1] == delegated["id"]
    assert [t["id"] for t in (await list_tasks(as_agent(alice), assignee="me")).items] == [
        assigned["id"]
    ]
    with pytest.raises(NotFound):
        await complete_task(elsewhere["id"], as_agent(alice))
    done = await complete_task(assigned["id"], as_agent(alice))
    assert done["completed_by_id"] == alice["id"]


# --------------------------------------------------------------------------- iCal feed


def test_folding_keeps_lines_within_75_octets_and_never_splits_a_character():
    line = "SUMMARY:" + "تماس با مشتری درباره تمدید قرارداد " * 6
    folded = fold_line(line)
    physical = folded.split("\r\n")
    assert len(physical) > 1
    assert all(len(part.encode("utf-8")) <= 75 for part in physical)
    assert all(part.startswith(" ") for part in physical[1:])
    assert "".join([physical[0], *[p[1:] for p in physical[1:]]]) == line
    for part in physical:
        part.encode("utf-8").decode("utf-8")  # each line is whole UTF-8 on its own


def test_a_calendar_is_crlf_terminated_and_escapes_text():
    text = render_calendar(
        [
            {
                "id": 7,
                "subject": "Call; bring notes, price list",
                "body": "line one\nline two",
                "channel": "phone",
                "due_at": datetime(2026, 1, 2, 9, 30, tzinfo=UTC),
            }
        ],
        name="Tasks",
        domain="crm.example.com",
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert "SUMMARY:Call\\; bring notes\\, price list\r\n" in text
    assert "DESCRIPTION:line one\\nline two\r\n" in text
    assert "DTSTART:20260102T093000Z\r\n" in text
    assert "UID:task-7@crm.example.com\r\n" in text


async def test_the_feed_lists_the_users_planned_tasks_for_a_calendar_app(
    crm_client, crm_anon_client, crm_user, contact
):
    admin = as_admin(crm_user)
    long_subject = "پیگیری سفارش و هماهنگی ارسال محموله برای مشتری در شهر اصفهان " * 2
    planned = await create_task(
        {
            "subject": long_subject.strip(),
            "body": "Ask about delivery, invoice; confirm",
            "due_at": NOW + timedelta(days=1),
            "contact_id": contact["id"],
            "channel": "meeting",
        },
        admin,
    )
    done = await create_task({"subject": "already done", "due_at": NOW}, admin)
    await complete_task(done["id"], admin)
    other = await create_user(email="other@example.com", password="a-long-password-3")
    await create_task({"subject": "not mine", "due_at": NOW, "assignee_id": other["id"]}, admin)

    feed = (await crm_client.get("/api/v1/calendar")).json()
    assert feed["token"] == calendar_token(crm_user["id"], "test-secret")
    path = feed["url"].split("testserver", 1)[1]
    response = await crm_anon_client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    raw = response.content
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))

    calendar = icalendar.Calendar.from_ical(raw)
    assert str(calendar["VERSION"]) == "2.0"
    assert calendar["PRODID"]
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    assert str(event["UID"]) == f"task-{planned['id']}@testserver"
    assert str(event["SUMMARY"]) == f"{long_subject.strip()} — Nima Rahimi"
    assert str(event["DESCRIPTION"]) == "Ask about delivery, invoice; confirm"
    assert event.decoded("DTSTART") == NOW + timedelta(days=1)
    assert event["DTSTAMP"]
    assert str(event["STATUS"]) == "CONFIRMED"


@pytest.mark.parametrize("token", ["", "wrong", "0" * 40])
async def test_the_feed_is_404_without_the_right_token(crm_anon_client, crm_user, token):
    response = await crm_anon_client.get(
        f"/api/v1/calendar/{crm_user['id']}.ics", params={"token": token}
    )
    assert response.status_code == 404


async def test_one_users_token_does_not_open_another_users_feed(crm_anon_client, crm_user):
    other = await create_user(email="other@example.com", password="a-long-password-3")
    token = calendar_token(crm_user["id"], "test-secret")
    response = await crm_anon_client.get(
        f"/api/v1/calendar/{other['id']}.ics", params={"token": token}
    )
    assert response.status_code == 404
    own = await crm_anon_client.get(
        f"/api/v1/calendar/{crm_user['id']}.ics", params={"token": token}
    )
    assert own.status_code == 200


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def instance_with_a_task(crm_settings, crm_pm, _crm_template_dir) -> dict[str, Any]:
    """A migrated instance holding one user and one task due yesterday (for CLI tests)."""
    from crmcore.testing.databases import open_test_database

    async def prepare() -> dict[str, Any]:
        db = await open_test_database(crm_settings.database_url, crm_pm, _crm_template_dir)
        try:
            user = await create_user(
                email="agent@example.com", password="a-long-password-4", role="agent"
            )
            task = await create_task(
                {"subject": "Call Parisa", "due_at": NOW - timedelta(days=1)}, as_admin(user)
            )
            return {"user": user, "task": task}
        finally:
            await db.close()

    return run_sync(prepare())


def test_cli_lists_and_completes_tasks(crm_cli, instance_with_a_task):
    task = instance_with_a_task["task"]
    listed = crm_cli("tasks", "list", "--assignee", "agent@example.com", "--json")
    assert listed.exit_code == 0, listed.output
    assert [t["id"] for t in json.loads(listed.output)] == [task["id"]]
    mine = crm_cli("tasks", "list", "--assignee", "me", "--as", "agent@example.com", "--json")
    assert [t["subject"] for t in json.loads(mine.output)] == ["Call Parisa"]
    done = crm_cli("tasks", "done", str(task["id"]), "--as", "agent@example.com", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["completed_by_id"] == instance_with_a_task["user"]["id"]
    again = crm_cli("tasks", "done", str(task["id"]))
    assert again.exit_code == 1
    assert "already done" in again.output
    assert json.loads(crm_cli("tasks", "list", "--json").output) == []
