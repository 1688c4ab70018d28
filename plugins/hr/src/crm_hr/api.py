"""The HR REST API, mounted under ``/api/v1/hr/``. Access rules live in the services."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import msgspec
from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Response

from crm_hr import benefits, departments, employees, leave, reviews
from crmcore.auth.guards import requires
from crmcore.services.actor import Actor

# Employees act on their own records (ask for leave, rate and acknowledge their review) even
# when their role is otherwise read-only; the services check that it is their own.
SELF_SERVICE = {"self_service": True}
# Managers decide on their reports' leave and reviews with ``hr.view``; the services check
# that the record is one of their reports (or that the actor is HR).
MANAGERS = requires("hr.view")


def _sent(struct: msgspec.Struct) -> dict[str, Any]:
    return {
        f: getattr(struct, f)
        for f in struct.__struct_fields__
        if getattr(struct, f) is not msgspec.UNSET
    }


Unset = msgspec.UnsetType


class EmployeeIn(msgspec.Struct, forbid_unknown_fields=True):
    employee_number: str
    first_name: str = ""
    last_name: str = ""
    job_title: str = ""
    department_id: int | None = None
    manager_id: int | None = None
    user_id: int | None = None
    contact_id: int | None = None
    employment_type: str = "full_time"
    start_date: str | None = None
    end_date: str | None = None
    salary: str | float | None = None
    salary_currency: str = ""
    national_id: str = ""
    bank_account: str = ""
    emergency_contact: str = ""
    health_notes: str = ""


class EmployeePatch(msgspec.Struct, forbid_unknown_fields=True):
    first_name: str | Unset = msgspec.UNSET
    last_name: str | Unset = msgspec.UNSET
    job_title: str | Unset = msgspec.UNSET
    department_id: int | None | Unset = msgspec.UNSET
    manager_id: int | None | Unset = msgspec.UNSET
    user_id: int | None | Unset = msgspec.UNSET
    contact_id: int | None | Unset = msgspec.UNSET
    employment_type: str | Unset = msgspec.UNSET
    end_date: str | None | Unset = msgspec.UNSET
    salary: str | float | None | Unset = msgspec.UNSET
    salary_currency: str | Unset = msgspec.UNSET
    national_id: str | Unset = msgspec.UNSET
    bank_account: str | Unset = msgspec.UNSET
    emergency_contact: str | Unset = msgspec.UNSET
    health_notes: str | Unset = msgspec.UNSET
    effective_date: str | Unset = msgspec.UNSET
    note: str | Unset = msgspec.UNSET


class DepartmentIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    parent_id: int | None = None
    head_id: int | None = None


class CycleIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    start_date: str
    end_date: str


class GoalIn(msgspec.Struct):
    name: str
    weight: float = 1.0


class ReviewIn(msgspec.Struct, forbid_unknown_fields=True):
    employee_id: int
    cycle_id: int | None = None
    goals: list[GoalIn] = []


class RatingIn(msgspec.Struct, forbid_unknown_fields=True):
    ratings: dict[str, int] = {}
    comments: str | Unset = msgspec.UNSET


class PlanIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    kind: str = "other"
    description: str = ""


class EnrolmentIn(msgspec.Struct, forbid_unknown_fields=True):
    employee_id: int
    plan_id: int
    start_date: str
    end_date: str | None = None
    dependants: list[dict[str, Any]] = []


class LeaveTypeIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    paid: bool = True


class AllocationIn(msgspec.Struct, forbid_unknown_fields=True):
    employee_id: int
    leave_type_id: int
    year: int
    days: float


class LeaveRequestIn(msgspec.Struct, forbid_unknown_fields=True):
    leave_type_id: int
    start_date: str
    end_date: str
    employee_id: int | None = None
    reason: str = ""


class EmployeeController(Controller):
    path = "/employees"
    tags = ["hr"]

    @get("/")
    async def list_employees(
        self,
        actor: NamedDependency[Actor],
        q: FromQuery[str | None] = None,
        department: FromQuery[int | None] = None,
    ) -> dict[str, Any]:
        return {"items": await employees.list_employees(actor, q=q, department_id=department)}

    @get("/export.csv")
    async def export_csv(self, actor: NamedDependency[Actor]) -> Response[str]:
        """Employees the caller may see, restricted columns left out unless permitted."""
        rows = await employees.list_employees(actor)
        columns = sorted({key for row in rows for key in row}) or ["id"]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        return Response(buffer.getvalue(), media_type="text/csv")

    @post("/")
    async def create(
        self, actor: NamedDependency[Actor], data: JSONBody[EmployeeIn]
    ) -> dict[str, Any]:
        return await employees.create_employee(_sent(data), actor)

    @get("/{employee_id:int}")
    async def show(
        self, actor: NamedDependency[Actor], employee_id: FromPath[int]
    ) -> dict[str, Any]:
        return await employees.get_employee(employee_id, actor)

    @patch("/{employee_id:int}")
    async def update(
        self,
        actor: NamedDependency[Actor],
        employee_id: FromPath[int],
        data: JSONBody[EmployeePatch],
    ) -> dict[str, Any]:
        return await employees.update_employee(employee_id, _sent(data), actor)

    @get("/{employee_id:int}/history")
    async def history(
        self, actor: NamedDependency[Actor], employee_id: FromPath[int]
    ) -> list[dict[str, Any]]:
        return await employees.employee_history(employee_id, actor)

    @get("/{employee_id:int}/reviews")
    async def employee_reviews(
        self, actor: NamedDependency[Actor], employee_id: FromPath[int]
    ) -> list[dict[str, Any]]:
        return await reviews.reviews_of(employee_id, actor)

    @get("/{employee_id:int}/enrolments")
    async def employee_enrolments(
        self, actor: NamedDependency[Actor], employee_id: FromPath[int]
    ) -> list[dict[str, Any]]:
        return await benefits.enrolments_of(employee_id, actor)

    @get("/{employee_id:int}/leave-balance")
    async def leave_balance(
        self,
        actor: NamedDependency[Actor],
        employee_id: FromPath[int],
        leave_type: FromQuery[int],
        year: FromQuery[int],
    ) -> dict[str, Any]:
        return await leave.employee_balance(employee_id, leave_type, year, actor)


class OrgController(Controller):
    path = "/"
    tags = ["hr"]

    @get("/departments")
    async def department_tree(self, actor: NamedDependency[Actor]) -> list[dict[str, Any]]:
        from crm_hr.access import check_can_read_tree

        check_can_read_tree(actor)
        return await departments.department_tree()

    @post("/departments")
    async def create_department(
        self, actor: NamedDependency[Actor], data: JSONBody[DepartmentIn]
    ) -> dict[str, Any]:
        return await departments.create_department(_sent(data), actor)

    @post("/review-cycles")
    async def create_cycle(
        self, actor: NamedDependency[Actor], data: JSONBody[CycleIn]
    ) -> dict[str, Any]:
        return await reviews.create_cycle(_sent(data), actor)

    @post("/reviews", guards=[MANAGERS])
    async def create_review(
        self, actor: NamedDependency[Actor], data: JSONBody[ReviewIn]
    ) -> dict[str, Any]:
        body = _sent(data)
        body["goals"] = [msgspec.structs.asdict(g) for g in data.goals]
        return await reviews.create_review(body, actor)

    @get("/reviews/{review_id:int}")
    async def show_review(
        self, actor: NamedDependency[Actor], review_id: FromPath[int]
    ) -> dict[str, Any]:
        return await reviews.get_review(review_id, actor)

    @post("/reviews/{review_id:int}/ratings", opt=SELF_SERVICE)
    async def rate_review(
        self, actor: NamedDependency[Actor], review_id: FromPath[int], data: JSONBody[RatingIn]
    ) -> dict[str, Any]:
        return await reviews.rate(review_id, _sent(data), actor)

    @post("/reviews/{review_id:int}/submit", guards=[MANAGERS])
    async def submit_review(
        self, actor: NamedDependency[Actor], review_id: FromPath[int]
    ) -> dict[str, Any]:
        return await reviews.submit(review_id, actor)

    @post("/reviews/{review_id:int}/acknowledge", opt=SELF_SERVICE)
    async def acknowledge_review(
        self, actor: NamedDependency[Actor], review_id: FromPath[int]
    ) -> dict[str, Any]:
        return await reviews.acknowledge(review_id, actor)

    @post("/benefit-plans")
    async def create_plan(
        self, actor: NamedDependency[Actor], data: JSONBody[PlanIn]
    ) -> dict[str, Any]:
        return await benefits.create_plan(_sent(data), actor)

    @post("/enrolments")
    async def enrol(
        self, actor: NamedDependency[Actor], data: JSONBody[EnrolmentIn]
    ) -> dict[str, Any]:
        return await benefits.enrol(_sent(data), actor)

    @post("/leave-types")
    async def create_leave_type(
        self, actor: NamedDependency[Actor], data: JSONBody[LeaveTypeIn]
    ) -> dict[str, Any]:
        return await leave.create_leave_type(_sent(data), actor)

    @post("/leave-allocations")
    async def allocate(
        self, actor: NamedDependency[Actor], data: JSONBody[AllocationIn]
    ) -> dict[str, Any]:
        return await leave.allocate(_sent(data), actor)

    @post("/leave-requests", opt=SELF_SERVICE)
    async def request_leave(
        self, actor: NamedDependency[Actor], data: JSONBody[LeaveRequestIn]
    ) -> dict[str, Any]:
        return await leave.request_leave(_sent(data), actor)

    @post("/leave-requests/{request_id:int}/approve", guards=[MANAGERS])
    async def approve(
        self, actor: NamedDependency[Actor], request_id: FromPath[int]
    ) -> dict[str, Any]:
        return await leave.decide(request_id, True, actor)

    @post("/leave-requests/{request_id:int}/reject", guards=[MANAGERS])
    async def reject(
        self, actor: NamedDependency[Actor], request_id: FromPath[int]
    ) -> dict[str, Any]:
        return await leave.decide(request_id, False, actor)

    @get("/away")
    async def away(
        self, actor: NamedDependency[Actor], start: FromQuery[date], end: FromQuery[date]
    ) -> list[dict[str, Any]]:
        return await leave.away_between(start, end, actor)
