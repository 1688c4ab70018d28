"""Tables of the `hr` plugin (names prefixed `hr_`).

Restricted columns (national ID, bank details, emergency contacts, health notes, salary)
are declared to the core's field-level access rules in plugin.py; readers without the
permission never receive them.
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    Numeric,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from crmcore.tables import Contact, User

EMPLOYMENT_TYPES = ("full_time", "part_time", "contractor", "intern")
REVIEW_STATUSES = ("draft", "submitted", "acknowledged")
LEAVE_STATUSES = ("requested", "approved", "rejected", "cancelled")
BENEFIT_KINDS = ("health", "pension", "insurance", "meal", "transport", "other")


class Department(Table, tablename="hr_department"):
    """A node of the organisation tree."""

    id = Serial(primary_key=True)
    name = Varchar(length=200)
    parent = ForeignKey(references="self", null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    # The employee heading the department (an id, to avoid a circular foreign key).
    head = Integer(null=True, default=None)


class Employee(Table, tablename="hr_employee"):
    id = Serial(primary_key=True)
    user = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null, unique=True)
    contact = ForeignKey(references=Contact, null=True, on_delete=OnDelete.set_null, index=True)
    employee_number = Varchar(length=32, unique=True)
    first_name = Varchar(length=150, default="")
    last_name = Varchar(length=150, default="")
    job_title = Varchar(length=200, default="")
    department = ForeignKey(
        references=Department, null=True, on_delete=OnDelete.set_null, index=True
    )
    manager = ForeignKey(references="self", null=True, on_delete=OnDelete.set_null, index=True)
    employment_type = Varchar(length=16, default="full_time")
    start_date = Date(null=True, default=None)
    end_date = Date(null=True, default=None)
    salary = Numeric(digits=(14, 2), null=True, default=None)
    salary_currency = Varchar(length=3, default="")
    national_id = Varchar(length=32, default="")
    bank_account = Varchar(length=64, default="")
    emergency_contact = Text(default="")
    health_notes = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())


class JobChange(Table, tablename="hr_job_change"):
    """Dated history of job, contract and compensation changes."""

    id = Serial(primary_key=True)
    employee = ForeignKey(references=Employee, null=False, on_delete=OnDelete.cascade, index=True)
    effective_date = Date()
    kind = Varchar(length=16)  # job | contract | compensation
    job_title = Varchar(length=200, default="")
    department = Integer(null=True, default=None)
    employment_type = Varchar(length=16, default="")
    salary = Numeric(digits=(14, 2), null=True, default=None)
    salary_currency = Varchar(length=3, default="")
    note = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())


class ReviewCycle(Table, tablename="hr_review_cycle"):
    id = Serial(primary_key=True)
    name = Varchar(length=200)
    start_date = Date()
    end_date = Date()


class Review(Table, tablename="hr_review"):
    id = Serial(primary_key=True)
    employee = ForeignKey(references=Employee, null=False, on_delete=OnDelete.cascade, index=True)
    cycle = ForeignKey(references=ReviewCycle, null=True, on_delete=OnDelete.set_null)
    reviewer = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    status = Varchar(length=16, default="draft")
    self_comments = Text(default="")
    manager_comments = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    submitted_at = Timestamptz(null=True, default=None)
    acknowledged_at = Timestamptz(null=True, default=None)


class ReviewGoal(Table, tablename="hr_review_goal"):
    """A goal or KPI of a review with its weight and both ratings (1–5)."""

    id = Serial(primary_key=True)
    review = ForeignKey(references=Review, null=False, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=300)
    weight = DoublePrecision(default=1.0)
    self_rating = Integer(null=True, default=None)
    manager_rating = Integer(null=True, default=None)


class BenefitPlan(Table, tablename="hr_benefit_plan"):
    id = Serial(primary_key=True)
    name = Varchar(length=200, unique=True)
    kind = Varchar(length=16, default="other")
    description = Text(default="")
    active = Boolean(default=True)


class Enrolment(Table, tablename="hr_enrolment"):
    id = Serial(primary_key=True)
    employee = ForeignKey(references=Employee, null=False, on_delete=OnDelete.cascade, index=True)
    plan = ForeignKey(references=BenefitPlan, null=False, on_delete=OnDelete.cascade)
    start_date = Date()
    end_date = Date(null=True, default=None)
    dependants = JSON(default=[])


class LeaveType(Table, tablename="hr_leave_type"):
    id = Serial(primary_key=True)
    name = Varchar(length=100, unique=True)
    paid = Boolean(default=True)


class LeaveAllocation(Table, tablename="hr_leave_allocation"):
    id = Serial(primary_key=True)
    employee = ForeignKey(references=Employee, null=False, on_delete=OnDelete.cascade, index=True)
    leave_type = ForeignKey(references=LeaveType, null=False, on_delete=OnDelete.cascade)
    year = Integer()
    days = DoublePrecision(default=0.0)


class LeaveRequest(Table, tablename="hr_leave_request"):
    id = Serial(primary_key=True)
    employee = ForeignKey(references=Employee, null=False, on_delete=OnDelete.cascade, index=True)
    leave_type = ForeignKey(references=LeaveType, null=False, on_delete=OnDelete.cascade)
    start_date = Date(index=True)
    end_date = Date()
    status = Varchar(length=16, default="requested")
    reason = Text(default="")
    approver = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    decided_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


TABLES: list[type[Table]] = [
    Department,
    Employee,
    JobChange,
    ReviewCycle,
    Review,
    ReviewGoal,
    BenefitPlan,
    Enrolment,
    LeaveType,
    LeaveAllocation,
    LeaveRequest,
]
