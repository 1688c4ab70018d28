"""Tables of the `marketing` plugin (names prefixed `marketing_`)."""

from __future__ import annotations

from piccolo.columns import JSON, Boolean, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Segment(Table, tablename="marketing_segment"):
    """A saved filter tree over contacts, or a static list."""

    id = Serial(primary_key=True)
    name = Varchar(length=200, unique=True)
    filter = JSON(default={})
    static = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())


TABLES: list[type[Table]] = [Segment]
