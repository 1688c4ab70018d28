"""Tables of the `hr` plugin (names prefixed `hr_`)."""

from __future__ import annotations

from piccolo.columns import ForeignKey, OnDelete, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Department(Table, tablename="hr_department"):
    """A node of the organisation tree."""

    id = Serial(primary_key=True)
    name = Varchar(length=200)
    parent = ForeignKey(references="self", null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


TABLES: list[type[Table]] = [Department]
