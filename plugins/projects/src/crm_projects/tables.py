"""Tables of the `projects` plugin (names prefixed `projects_`)."""

from __future__ import annotations

from piccolo.columns import Date, ForeignKey, Numeric, OnDelete, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from crmcore.tables import Company, User


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


TABLES: list[type[Table]] = [Project]
