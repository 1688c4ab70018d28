"""Performance reviews: cycles, weighted goals, self and manager ratings, a status workflow.

draft → submitted (by the reviewer, with manager ratings) → acknowledged (by the employee).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crm_hr.access import check_can_manage, check_can_read, own_employee_id
from crm_hr.tables import Employee, Review, ReviewCycle, ReviewGoal
from crm_hr.values import day, jsonable_row, rating, text
from crmcore.errors import NotFound, PermissionDenied, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import diff, record_audit
from crmcore.services.transaction import write_transaction

RENAME = {
    "employee": "employee_id",
    "cycle": "cycle_id",
    "reviewer": "reviewer_id",
    "review": "review_id",
}


async def create_cycle(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    check_can_manage(actor)
    values = {
        "name": text(data, "name", 200, required=True),
        "start_date": day(data, "start_date", required=True),
        "end_date": day(data, "end_date", required=True),
    }
    if values["end_date"] < values["start_date"]:
        raise ValidationError.for_field("end_date", "must not be before the start date.")
    rows = await ReviewCycle.insert(ReviewCycle(**values)).returning(ReviewCycle.id)
    return jsonable_row({"id": rows[0]["id"], **values}, {})


async def _is_manager_of(actor: Actor, employee_id: int) -> bool:
    own = await own_employee_id(actor)
    row = await Employee.select(Employee.manager).where(Employee.id == employee_id).first()
    return own is not None and row is not None and row["manager"] == own


async def create_review(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Open a review for an employee (HR or the employee's manager), with weighted goals."""
    employee_id = int(data.get("employee_id") or 0)
    if not actor.can("hr.manage") and not await _is_manager_of(actor, employee_id):
        raise PermissionDenied("Only HR or the employee's manager can open a review.")
    if not await Employee.exists().where(Employee.id == employee_id):
        raise ValidationError.for_field("employee_id", f"no employee with id {employee_id}.")
    goals = data.get("goals") or []
    async with write_transaction():
        rows = await Review.insert(
            Review(employee=employee_id, cycle=data.get("cycle_id"), reviewer=actor.user_id)
        ).returning(Review.id)
        review_id = rows[0]["id"]
        for goal in goals:
            weight = float(goal.get("weight", 1.0))
            if weight <= 0:
                raise ValidationError.for_field("goals", "weights must be positive.")
            await ReviewGoal.insert(
                ReviewGoal(
                    review=review_id, name=text(goal, "name", 300, required=True), weight=weight
                )
            )
        await record_audit(
            table="hr_review",
            record_id=review_id,
            action="create",
            changes=diff(None, {"employee": employee_id}),
            actor=actor,
            plugin="hr",
        )
    return await get_review(review_id, actor)


async def get_review(review_id: int, actor: Actor) -> dict[str, Any]:
    row = await Review.select().where(Review.id == review_id).first()
    if row is None:
        raise NotFound(f"Review {review_id} does not exist.")
    await check_can_read(actor, row["employee"])
    goals = await ReviewGoal.select().where(ReviewGoal.review == review_id).order_by(ReviewGoal.id)
    return {
        **jsonable_row(row, RENAME),
        "goals": [jsonable_row(g, RENAME) for g in goals],
        "self_score": weighted_score(goals, "self_rating"),
        "manager_score": weighted_score(goals, "manager_rating"),
    }


def weighted_score(goals: list[dict[str, Any]], key: str) -> float | None:
    rated = [g for g in goals if g.get(key) is not None]
    if not rated:
        return None
    weight = sum(g["weight"] for g in rated)
    return round(sum(g[key] * g["weight"] for g in rated) / weight, 2)


async def rate(review_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """The employee rates themselves (``self_rating``); the reviewer gives ``manager_rating``.
    ``data``: ``{"ratings": {goal_id: n}, "comments": "…"}``; only while in draft."""
    row = await Review.select().where(Review.id == review_id).first()
    if row is None:
        raise NotFound(f"Review {review_id} does not exist.")
    is_self = await own_employee_id(actor) == row["employee"]
    is_reviewer = row["reviewer"] == actor.user_id or actor.can("hr.manage")
    if row["status"] != "draft":
        raise ValidationError.for_field(
            "status", "ratings can only change while the review is a draft."
        )
    if not (is_self or is_reviewer):
        raise PermissionDenied("Only the employee or the reviewer can rate this review.")
    column = "self_rating" if is_self else "manager_rating"
    async with write_transaction():
        for goal_id, value in (data.get("ratings") or {}).items():
            await ReviewGoal.update({column: rating(value, "ratings")}).where(
                (ReviewGoal.id == int(goal_id)) & (ReviewGoal.review == review_id)
            )
        if "comments" in data:
            field = "self_comments" if is_self else "manager_comments"
            await Review.update({field: text(data, "comments", 10_000)}).where(
                Review.id == review_id
            )
    return await get_review(review_id, actor)


async def submit(review_id: int, actor: Actor) -> dict[str, Any]:
    return await _move(review_id, actor, "draft", "submitted", reviewer=True)


async def acknowledge(review_id: int, actor: Actor) -> dict[str, Any]:
    return await _move(review_id, actor, "submitted", "acknowledged", reviewer=False)


async def _move(
    review_id: int, actor: Actor, source: str, target: str, reviewer: bool
) -> dict[str, Any]:
    row = await Review.select().where(Review.id == review_id).first()
    if row is None:
        raise NotFound(f"Review {review_id} does not exist.")
    if row["status"] != source:
        raise ValidationError.for_field("status", f"the review is {row['status']}, not {source}.")
    if reviewer and not (row["reviewer"] == actor.user_id or actor.can("hr.manage")):
        raise PermissionDenied("Only the reviewer or HR can submit this review.")
    if not reviewer and await own_employee_id(actor) != row["employee"]:
        raise PermissionDenied("Only the reviewed employee can acknowledge the review.")
    stamp = "submitted_at" if target == "submitted" else "acknowledged_at"
    async with write_transaction():
        await Review.update({Review.status: target, stamp: datetime.now(UTC)}).where(
            Review.id == review_id
        )
        await record_audit(
            table="hr_review",
            record_id=review_id,
            action="update",
            changes={"status": [source, target]},
            actor=actor,
            plugin="hr",
        )
    return await get_review(review_id, actor)


async def reviews_of(employee_id: int, actor: Actor) -> list[dict[str, Any]]:
    await check_can_read(actor, employee_id)
    rows = await Review.select(Review.id).where(Review.employee == employee_id).order_by(Review.id)
    return [await get_review(r["id"], actor) for r in rows]
