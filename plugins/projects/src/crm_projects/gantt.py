"""A timeline (Gantt-like) chart of milestones and tasks, as server-rendered SVG."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from markupsafe import Markup, escape

from crmcore.web.i18n import format_date, text_direction

ROW = 26
LABEL_WIDTH = 220
CHART_WIDTH = 640
STATUS_CLASS = {"done": "chart-c3", "in_progress": "chart-c1", "todo": "chart-c5"}


def _as_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def gantt_svg(
    project: dict[str, Any], today: date, *, lang: str = "en", today_label: str = "today"
) -> Markup:
    """Bars from each task's start to its due date, diamonds at milestones, a line at today.

    Tasks without dates are listed without a bar; the chart spans the project's dates and
    every dated item. In a right-to-left ``lang`` time runs from right to left; the dates in
    the tooltips are the reader's (Jalali in Persian), ``today_label`` is already translated.
    """
    rtl = text_direction(lang) == "rtl"

    def shown(day: date) -> str:
        return format_date(day, lang)

    items: list[tuple[str, date | None, date | None, str, bool]] = []
    for milestone in project["milestones"]:
        due = _as_date(milestone.get("due_date"))
        items.append((milestone["name"], due, due, "milestone", bool(milestone.get("reached_at"))))
    for task in project["tasks"]:
        start, due = _as_date(task.get("start_date")), _as_date(task.get("due_date"))
        items.append((task["name"], start or due, due or start, task["status"], False))
    dates = [d for _, a, b, _, _ in items for d in (a, b) if d]
    dates += [
        d for d in (_as_date(project.get("start_date")), _as_date(project.get("target_date"))) if d
    ]
    if not items:
        return Markup("")
    first = min(dates, default=today)
    last = max(dates, default=today + timedelta(days=30))
    span = max((last - first).days, 1)
    height = ROW * (len(items) + 1)
    width = LABEL_WIDTH + CHART_WIDTH

    def x(day: date) -> float:
        offset = CHART_WIDTH * (day - first).days / span
        return (CHART_WIDTH - offset) if rtl else (LABEL_WIDTH + offset)

    label_x = width - 6 if rtl else 6
    anchor = "end" if rtl else "start"
    parts = [
        f'<svg class="gantt" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(project["name"])}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(project['name'])}</title>",
    ]
    for i, (name, start, end, kind, reached) in enumerate(items):
        y = ROW * i + 4
        parts.append(
            f'<text x="{label_x}" y="{y + 14}" text-anchor="{anchor}" font-size="12">'
            f"{escape(name[:32])}</text>"
        )
        if start is None or end is None:
            continue
        if kind == "milestone":
            cx, cy = x(end), y + 9
            fill = "chart-c3" if reached else "chart-c2"
            parts.append(
                f'<polygon class="{fill}" points="{cx},{cy - 8} {cx + 8},{cy} {cx},{cy + 8} '
                f'{cx - 8},{cy}"><title>{escape(name)}: {shown(end)}</title></polygon>'
            )
            continue
        x1, x2 = sorted((x(start), x(end + timedelta(days=1))))
        parts.append(
            f'<rect class="{STATUS_CLASS.get(kind, "chart-c5")}" x="{x1:.1f}" y="{y + 2}" '
            f'width="{max(x2 - x1, 3):.1f}" height="14" rx="3">'
            f"<title>{escape(name)}: {shown(start)} – {shown(end)}</title></rect>"
        )
    if first <= today <= last:
        tx = x(today)
        parts.append(
            f'<line x1="{tx:.1f}" y1="0" x2="{tx:.1f}" y2="{height}" stroke="#c0392b" '
            f'stroke-dasharray="4 3"><title>{escape(today_label)}</title></line>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
