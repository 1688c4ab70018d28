"""Project arithmetic with no database: roll-up, schedule health, risk matrix, cycles.

Kept pure so the rules people argue about (what "at risk" means) are easy to read and test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

# Schedule health compares actual progress with the share of the schedule already used.
AT_RISK_GAP = 10.0  # percentage points behind plan before a project is "at risk"
OFF_TRACK_GAP = 25.0  # … and before it is "off track"


def percent_complete(tasks: Iterable[Mapping[str, Any]]) -> float:
    """Done work as a percentage of all work, weighted by estimate.

    Tasks without an estimate weigh as much as the average estimated task (or 1 when no task
    has one), so adding an unestimated task still moves the figure.
    """
    tasks = list(tasks)
    if not tasks:
        return 0.0
    estimates = [float(t.get("estimate_hours") or 0) for t in tasks]
    known = [e for e in estimates if e > 0]
    fallback = sum(known) / len(known) if known else 1.0
    weights = [e if e > 0 else fallback for e in estimates]
    done = sum(w for w, t in zip(weights, tasks, strict=True) if t.get("status") == "done")
    return round(100.0 * done / sum(weights), 1)


def planned_percent(start: date | None, target: date | None, today: date) -> float | None:
    """Share of the schedule elapsed by ``today`` (None without both dates)."""
    if start is None or target is None:
        return None
    span = (target - start).days
    if span <= 0:
        return 100.0 if today >= target else 0.0
    elapsed = (today - start).days
    return max(0.0, min(100.0, 100.0 * elapsed / span))


def schedule_health(
    percent: float, start: date | None, target: date | None, today: date, status: str = "active"
) -> str:
    """``on_track``, ``at_risk`` or ``off_track`` (``done`` once complete)."""
    if status == "completed" or percent >= 100.0:
        return "done"
    if target is not None and today > target:
        return "off_track"
    planned = planned_percent(start, target, today)
    if planned is None:
        return "on_track"
    gap = planned - percent
    if gap >= OFF_TRACK_GAP:
        return "off_track"
    if gap >= AT_RISK_GAP:
        return "at_risk"
    return "on_track"


def risk_score(probability: int, impact: int) -> int:
    return int(probability) * int(impact)


def risk_level(score: int) -> str:
    """The band a score falls in on a 5×5 matrix."""
    if score >= 15:
        return "high"
    if score >= 8:
        return "medium"
    return "low"


def risk_matrix(risks: Iterable[Mapping[str, Any]]) -> list[list[list[Mapping[str, Any]]]]:
    """A 5×5 grid ``matrix[impact-1][probability-1]`` holding the risks of that cell."""
    grid: list[list[list[Mapping[str, Any]]]] = [[[] for _ in range(5)] for _ in range(5)]
    for risk in risks:
        grid[int(risk["impact"]) - 1][int(risk["probability"]) - 1].append(risk)
    return grid


def sort_risks(risks: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Highest score first; ties by impact, then oldest first."""
    return sorted(risks, key=lambda r: (-r["score"], -int(r["impact"]), r["id"]))


def find_cycle(edges: Mapping[int, Iterable[int]]) -> list[int] | None:
    """A dependency cycle in ``task -> depends_on`` edges, as a path, or None."""
    state: dict[int, str] = {}
    stack: list[int] = []

    def visit(node: int) -> list[int] | None:
        state[node] = "visiting"
        stack.append(node)
        for nxt in edges.get(node, ()):
            if state.get(nxt) == "visiting":
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in list(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None
