"""Tables of the `projects` plugin (names prefixed `projects_`).

A project template is a project with ``is_template`` set: templates reuse every table, and
creating a project from one copies its stages, goals, milestones and tasks.
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

from crmcore.tables import Company, Contact, Interaction, User

PROJECT_STATUSES = ("active", "on_hold", "completed", "cancelled")
TASK_STATUSES = ("todo", "in_progress", "done")
RISK_STATES = ("open", "mitigating", "closed")


class Project(Table, tablename="projects_project"):
    """A customer project, linked to a company."""

    id = Serial(primary_key=True)
    name = Varchar(length=300)
    company = ForeignKey(references=Company, null=True, on_delete=OnDelete.set_null, index=True)
    owner = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null, index=True)
    status = Varchar(length=16, default="active")
    strategy = Text(default="")
    start_date = Date(null=True, default=None)
    target_date = Date(null=True, default=None)
    budget = Numeric(digits=(14, 2), null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    description = Text(default="")
    currency = Varchar(length=3, default="")
    is_template = Boolean(default=False, index=True)
    stages = JSON(default=[])
    stage = Varchar(length=100, default="")
    template = Integer(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())


class ProjectMember(Table, tablename="projects_member"):
    """A person on the project: a CRM user (team) or a customer contact."""

    id = Serial(primary_key=True)
    project = ForeignKey(references=Project, null=False, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=User, null=True, on_delete=OnDelete.cascade, index=True)
    contact = ForeignKey(references=Contact, null=True, on_delete=OnDelete.cascade, index=True)
    role = Varchar(length=100, default="")


class Goal(Table, tablename="projects_goal"):
    id = Serial(primary_key=True)
    project = ForeignKey(references=Project, null=False, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=300)
    target_value = DoublePrecision(default=0.0)
    current_value = DoublePrecision(default=0.0)
    unit = Varchar(length=32, default="")


class Milestone(Table, tablename="projects_milestone"):
    id = Serial(primary_key=True)
    project = ForeignKey(references=Project, null=False, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=300)
    due_date = Date(null=True, default=None)
    reached_at = Timestamptz(null=True, default=None)
    position = Integer(default=0)


class ProjectTask(Table, tablename="projects_task"):
    """Work on a project. A task with an assignee and a due date also exists as a planned
    interaction of the core, so it shows in the assignee's tasks and calendar."""

    id = Serial(primary_key=True)
    project = ForeignKey(references=Project, null=False, on_delete=OnDelete.cascade, index=True)
    milestone = ForeignKey(references=Milestone, null=True, on_delete=OnDelete.set_null)
    name = Varchar(length=300)
    assignee = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null, index=True)
    estimate_hours = DoublePrecision(default=0.0)
    status = Varchar(length=16, default="todo")
    start_date = Date(null=True, default=None)
    due_date = Date(null=True, default=None)
    completed_at = Timestamptz(null=True, default=None)
    interaction = ForeignKey(
        references=Interaction, null=True, on_delete=OnDelete.set_null, index=True
    )


class TaskDependency(Table, tablename="projects_task_dependency"):
    """``task`` cannot start before ``depends_on`` is done."""

    id = Serial(primary_key=True)
    task = ForeignKey(references=ProjectTask, null=False, on_delete=OnDelete.cascade, index=True)
    depends_on = ForeignKey(
        references=ProjectTask, null=False, on_delete=OnDelete.cascade, index=True
    )


class Risk(Table, tablename="projects_risk"):
    id = Serial(primary_key=True)
    project = ForeignKey(references=Project, null=False, on_delete=OnDelete.cascade, index=True)
    title = Varchar(length=300)
    probability = Integer(default=3)
    impact = Integer(default=3)
    owner = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    response = Text(default="")
    state = Varchar(length=16, default="open")
    created_at = Timestamptz(default=TimestamptzNow())


class StatusUpdate(Table, tablename="projects_status_update"):
    id = Serial(primary_key=True)
    project = ForeignKey(references=Project, null=False, on_delete=OnDelete.cascade, index=True)
    at = Timestamptz(default=TimestamptzNow())
    author = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    health = Varchar(length=16, default="")
    percent_complete = DoublePrecision(default=0.0)
    summary = Text(default="")


class ProjectEvent(Table, tablename="projects_event"):
    """What happened on a project (created, milestone reached, risk raised…): shown on the
    timelines of the project's contacts and of its company's contacts."""

    id = Serial(primary_key=True)
    project = ForeignKey(references=Project, null=False, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=32)
    title = Varchar(length=500)
    at = Timestamptz(default=TimestamptzNow(), index=True)
    data = JSON(default={})


TABLES: list[type[Table]] = [
    Project,
    ProjectMember,
    Goal,
    Milestone,
    ProjectTask,
    TaskDependency,
    Risk,
    StatusUpdate,
    ProjectEvent,
]
