"""The dashboard: the core's cards and every plugin's, in one grid.

The core's cards answer what a person checks first thing in the morning: who is new, what
is due, what happened lately, and two charts (interactions per week by channel, contacts by
stage). The counts are aggregated in SQL so the page costs the same with 10 or 10 million
rows; record scope is applied, so an agent's dashboard shows their own records only.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import jdatetime
from babel.dates import format_date as babel_format_date
from litestar import Request, get
from litestar.response import Template
from markupsafe import Markup
from piccolo.query.functions.aggregate import Count

from crmcore.services.actor import Actor
from crmcore.services.interactions import as_dict, visible_to
from crmcore.services.tasks import list_tasks
from crmcore.tables import CHANNELS, STAGES, Contact, Interaction
from crmcore.web.charts import donut_chart, stacked_bar_chart
from crmcore.web.hooks import Card, by_order
from crmcore.web.i18n import to_persian_digits
from crmcore.web.templating import translator_for
from crmcore.web.views.labels import code_label
from crmcore.web.views.language import request_language
from crmcore.web.views.rendering import render
from crmcore.web.views.session import request_actor

__all__ = ["core_dashboard_cards", "dashboard"]

CHART_WEEKS = 8  # as many week labels as fit under the bars in Persian too
NEW_CONTACT_DAYS = 30
DUE_SOON = dt.timedelta(days=7)
LIST_SIZE = 6


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _owned(actor: Actor, column: Any) -> Any:
    """The scope condition for an ``own``-scope actor on ``column`` (an owner column)."""
    return None if actor.sees_all_records else column == (actor.user_id or 0)


async def contact_names(ids: set[int]) -> dict[int, str]:
    """Display names for a set of contact ids, in one query."""
    if not ids:
        return {}
    rows = await Contact.select(Contact.id, Contact.first_name, Contact.last_name).where(
        Contact.id.is_in(sorted(ids))
    )
    return {
        row["id"]: f"{row['first_name']} {row['last_name']}".strip() or f"#{row['id']}"
        for row in rows
    }


async def _new_contacts(actor: Actor) -> tuple[int, list[dict[str, Any]]]:
    since = _now() - dt.timedelta(days=NEW_CONTACT_DAYS)
    scope = _owned(actor, Contact.owner)
    count = Contact.count().where(Contact.created_at >= since)
    newest = (
        Contact.select(Contact.id, Contact.first_name, Contact.last_name, Contact.created_at)
        .where(Contact.created_at >= since)
        .order_by(Contact.created_at, ascending=False)
        .limit(LIST_SIZE)
    )
    if scope is not None:
        count, newest = count.where(scope), newest.where(scope)
    return await count, await newest


async def _stage_counts(actor: Actor) -> dict[str, int]:
    query = Contact.select(Contact.stage, Count(Contact.id, alias="n")).group_by(Contact.stage)
    scope = _owned(actor, Contact.owner)
    if scope is not None:
        query = query.where(scope)
    return {row["stage"]: row["n"] for row in await query}


async def recent_interactions(actor: Actor, count: int) -> list[dict[str, Any]]:
    """The latest interactions that happened (logged ones and completed tasks).

    Walks the ``occurred_at`` index from now backwards and skips the few planned or
    cancelled tasks on the way, which stays fast however many interactions there are.
    """
    query = (
        Interaction.select(*Interaction.all_columns())
        .where(Interaction.occurred_at <= _now())
        .order_by(Interaction.occurred_at, Interaction.id, ascending=False)
        .limit(count * 8)
        .output(load_json=True)
    )
    condition = visible_to(actor)
    if condition is not None:
        query = query.where(condition)
    happened = [row for row in await query if row["status"] in (None, "done")]
    return [as_dict(row) for row in happened[:count]]


def week_start(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week (ISO weeks, in UTC like the stored timestamps)."""
    return day - dt.timedelta(days=day.weekday())


# The period each row of the weekly count stands for: a day on SQLite (a prefix of the stored
# ISO text, the cheapest expression there), the week itself on PostgreSQL (date_trunc weeks
# start on Monday, like week_start()).
PERIOD_SQL = {
    "sqlite": "substr(occurred_at, 1, 10)",
    "postgres": "date_trunc('week', occurred_at AT TIME ZONE 'UTC')",
}


def _period_day(value: Any) -> dt.date:
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        return value.date()
    return value


async def weekly_channel_counts(actor: Actor, weeks: int) -> tuple[list[dt.date], dict]:
    """Interactions that happened per (week, channel) over the last ``weeks`` weeks.

    Aggregated in SQL (at most a few hundred rows come back) and folded into weeks here.
    """
    first_week = week_start(_now().date()) - dt.timedelta(weeks=weeks - 1)
    since = dt.datetime.combine(first_week, dt.time(), tzinfo=dt.UTC)
    period = PERIOD_SQL.get(Interaction._meta.db.engine_type, PERIOD_SQL["postgres"])
    scope_sql, args = "", [since]
    if not actor.sees_all_records:
        scope_sql = (
            " AND (author = {} OR assignee = {} OR contact IN "
            "(SELECT id FROM contact WHERE owner = {}) OR company IN "
            "(SELECT id FROM company WHERE owner = {}))"
        )
        args += [actor.user_id or 0] * 4
    rows = await Interaction.raw(
        f"SELECT {period} AS period, channel, count(*) AS n FROM interaction "
        # coalesce() rather than "status IS NULL OR …": without table statistics SQLite
        # would pick the status index for the OR, and nearly every row has no status.
        "WHERE occurred_at >= {} AND coalesce(status, 'done') = 'done'"
        f"{scope_sql} GROUP BY 1, 2",
        *args,
    )
    starts = [first_week + dt.timedelta(weeks=i) for i in range(weeks)]
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * weeks)
    for row in rows:
        index = (week_start(_period_day(row["period"])) - first_week).days // 7
        if 0 <= index < weeks:
            counts[row["channel"]][index] += int(row["n"])
    return starts, counts


def week_label(day: dt.date, lang: str) -> str:
    """A short axis label for the week starting on ``day``: ``16 Nov`` / ``۲۵ آبان``."""
    if lang == "fa":
        jalali = jdatetime.date.fromgregorian(date=day)
        return to_persian_digits(f"{jalali.day} {jdatetime.date.j_months_fa[jalali.month - 1]}")
    return babel_format_date(day, "d MMM", locale="en")


async def _charts(request: Request[Any, Any, Any], actor: Actor) -> list[Card]:
    lang = request_language(request)
    catalog = translator_for(request)
    _ = catalog.gettext
    starts, counts = await weekly_channel_counts(actor, CHART_WEEKS)
    series = {
        code_label("channel", channel, catalog): counts[channel]
        for channel in CHANNELS
        if channel in counts
    }
    weekly_title = _("Interactions per week by channel")
    weekly = stacked_bar_chart(
        [week_label(start, lang) for start in starts], series, weekly_title, lang=lang
    )
    stages = await _stage_counts(actor)
    stage_title = _("Contacts by stage")
    donut = donut_chart(
        [code_label("stage", stage, catalog) for stage in STAGES],
        [stages.get(stage, 0) for stage in STAGES],
        stage_title,
        lang=lang,
    )
    empty = Markup('<p class="field-hint">{}</p>').format(_("No data yet"))
    donut_box = Markup('<div class="chart-box-donut">{}</div>').format(donut)
    return [
        Card(weekly_title, weekly if series else empty, order=40, width=2),
        Card(stage_title, donut_box if stages else empty, order=50, width=2),
    ]


async def core_dashboard_cards(request: Request[Any, Any, Any]) -> list[Card]:
    """The core's cards (called through the ``dashboard_cards`` hook of ``builtins.web``)."""
    actor = request_actor(request)
    if actor is None or not actor.can("contacts.read"):
        return []
    _ = translator_for(request).gettext
    env = request.app.template_engine.engine
    now = _now()

    new_count, newest = await _new_contacts(actor)
    due = await list_tasks(
        actor,
        assignee="me" if actor.user_id else None,
        due_before=now + DUE_SOON,
        limit=LIST_SIZE,
    )
    recent = await recent_interactions(actor, LIST_SIZE)
    names = await contact_names(
        {item["contact_id"] for item in [*due.items, *recent] if item["contact_id"]}
    )

    def card(template: str, **values: Any) -> Markup:
        html = env.get_template(f"core/cards/{template}.html").render(
            request=request, names=names, now=now, **values
        )
        return Markup(html)

    cards = [
        Card(_("New contacts"), card("new_contacts", count=new_count, contacts=newest), order=10),
        Card(_("Due tasks"), card("due_tasks", tasks=due.items), order=20),
        Card(_("Recent interactions"), card("recent", interactions=recent), order=30),
    ]
    return cards + await _charts(request, actor)


@get("/", name="dashboard")
async def dashboard(request: Request[Any, Any, Any]) -> Template:
    pm = request.app.state.pm
    cards = by_order(await pm.acall_flat("dashboard_cards", request=request), Card)
    return await render(request, "core/dashboard.html", {"cards": cards})
