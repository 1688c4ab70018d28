"""Tasks (planned interactions): the list with done buttons, the new-task form, and the
month calendar of what is planned.

The calendar is laid out in the user's calendar: Jalali months starting on Saturday for
Persian, Gregorian months starting on Monday otherwise. Tasks are placed on the day they are
due in the user's timezone.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

import jdatetime
from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Template

from crmcore.errors import CRMError, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.tasks import complete_task, create_task, list_tasks
from crmcore.services.users import list_users
from crmcore.web.i18n import gregorian_month_grid, jalali_month_grid
from crmcore.web.templating import translator_for
from crmcore.web.views.dashboard import contact_names
from crmcore.web.views.forms import field_errors, local_datetime, safe_next
from crmcore.web.views.language import request_language, request_timezone
from crmcore.web.views.rendering import FormValues, is_htmx, read_form, redirect, render
from crmcore.web.views.session import CurrentActor

__all__ = ["calendar_page", "new_task", "task_done", "tasks_page"]

PAGE_SIZE = 50
CALENDAR_LIMIT = 500  # one service page; a month holding more shows the first 500
CALENDAR_PER_DAY = 4  # more on one day is summed up as "+N more"
STATUS_FILTERS = ("planned", "done", "cancelled", "all")


async def user_names() -> dict[int, str]:
    """Display names of every user (a CRM has tens of users, not millions)."""
    return {user["id"]: user["name"] or user["email"] for user in await list_users()}


async def _tasks_context(
    actor: Actor, *, mine: bool, status: str, cursor: str | None = None
) -> dict[str, Any]:
    page = await list_tasks(
        actor,
        assignee="me" if mine and actor.user_id else None,
        status=None if status == "all" else status,
        cursor=cursor or None,
        limit=PAGE_SIZE,
    )
    return {
        "tasks": page.items,
        "next_cursor": page.next,
        "mine": mine,
        "status": status,
        "statuses": STATUS_FILTERS,
        "names": await contact_names({t["contact_id"] for t in page.items if t["contact_id"]}),
        "users": await user_names(),
        "now": dt.datetime.now(dt.UTC),
        "values": FormValues([("channel", "phone")]),
        "errors": {},
    }


@get("/tasks", name="tasks")
async def tasks_page(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    mine: FromQuery[bool] = True,
    status: FromQuery[str] = "planned",
    cursor: FromQuery[str | None] = None,
) -> Template:
    status = status if status in STATUS_FILTERS else "planned"
    context = await _tasks_context(actor, mine=mine, status=status, cursor=cursor)
    if cursor and is_htmx(request):
        return await render(request, "core/task_rows.html", context)
    return await render(request, "core/tasks.html", context)


def task_input(form: FormValues, tz: str) -> dict[str, Any]:
    """Service input for a new task from the task form (contact page or tasks page)."""
    data: dict[str, Any] = {
        "subject": form.text("subject"),
        "channel": form.text("channel") or None,
        "body": form.get("body", ""),
        "contact_id": form.text("contact_id") or None,
        "assignee_id": form.text("assignee_id") or None,
    }
    try:
        data["due_at"] = local_datetime(form.get("due_at", ""), tz)
    except ValueError:
        raise ValidationError.for_field("due_at", "Invalid date") from None
    return data


@post("/tasks", name="task-create")
async def new_task(
    request: Request[Any, Any, Any], actor: CurrentActor
) -> Response[Any] | Template:
    form = await read_form(request)
    try:
        await create_task(task_input(form, request_timezone(request)), actor)
    except ValidationError as exc:
        context = await _tasks_context(actor, mine=True, status="planned")
        errors = field_errors(
            exc,
            translator_for(request),
            request_language(request),
            form_fields=("subject", "due_at", "channel", "assignee_id", "body"),
        )
        context.update(values=form, errors=errors)
        return await render(request, "core/tasks.html", context, status_code=422)
    return redirect("/tasks", "task_created")


@post("/tasks/{task_id:int}/done", name="task-done")
async def task_done(
    request: Request[Any, Any, Any], actor: CurrentActor, task_id: FromPath[int]
) -> Response[Any]:
    form = await read_form(request)
    try:
        await complete_task(task_id, actor)
    except CRMError as exc:
        if exc.status_code != 409:  # already done by someone else: nothing left to do
            raise
    return redirect(safe_next(form.get("next"), "/tasks"), "task_done")


# --------------------------------------------------------------------------- calendar


def _current_month(lang: str, today: dt.date) -> tuple[int, int]:
    if lang == "fa":
        jalali = jdatetime.date.fromgregorian(date=today)
        return jalali.year, jalali.month
    return today.year, today.month


def _in_calendar_of(lang: str, year: int, month: int) -> tuple[int, int]:
    """A month from a link made in the other calendar (the language was switched since):
    Jalali years are below 1700 and Gregorian ones above, so the year tells which it is."""
    if lang == "fa" and year > 1700:
        jalali = jdatetime.date.fromgregorian(date=dt.date(year, month, 15))
        return jalali.year, jalali.month
    if lang != "fa" and year < 1700:
        gregorian = jdatetime.date(year, month, 15).togregorian()
        return gregorian.year, gregorian.month
    return year, month


def _shift(year: int, month: int, step: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + step
    return index // 12, index % 12 + 1


@get("/calendar", name="calendar")
async def calendar_page(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    year: FromQuery[int | None] = None,
    month: FromQuery[int | None] = None,
    mine: FromQuery[bool] = True,
) -> Template:
    lang = request_language(request)
    tz = request_timezone(request)
    today = dt.datetime.now(ZoneInfo(tz)).date()
    if year is None or month is None or not 1 <= month <= 12 or not 1 <= year <= 9999:
        year, month = _current_month(lang, today)
    year, month = _in_calendar_of(lang, year, month)
    grid = (jalali_month_grid if lang == "fa" else gregorian_month_grid)(year, month)
    days = [day for week in grid.weeks for day in week if day is not None]
    start = dt.datetime.combine(days[0], dt.time(), tzinfo=ZoneInfo(tz))
    end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), tzinfo=ZoneInfo(tz))
    page = await list_tasks(
        actor,
        assignee="me" if mine and actor.user_id else None,
        due_after=start,
        due_before=end,
        status=None,
        limit=CALENDAR_LIMIT,
    )
    by_day: dict[dt.date, list[dict[str, Any]]] = defaultdict(list)
    for task in page.items:
        if task["status"] != "cancelled" and task["due_at"] is not None:
            due = task["due_at"]
            due = due if due.tzinfo else due.replace(tzinfo=dt.UTC)
            by_day[due.astimezone(ZoneInfo(tz)).date()].append(task)
    previous, following = _shift(year, month, -1), _shift(year, month, 1)
    return await render(
        request,
        "core/calendar.html",
        {
            "grid": grid,
            "by_day": by_day,
            "today": today,
            "previous": previous,
            "following": following,
            "truncated": page.next is not None,
            "mine": mine,
            "per_day": CALENDAR_PER_DAY,
            "grid_year": year,
            "grid_month": month,
        },
    )
