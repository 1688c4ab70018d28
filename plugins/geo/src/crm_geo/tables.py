"""Tables of the `geo` plugin (names prefixed `geo_`)."""

from __future__ import annotations

from piccolo.columns import DoublePrecision, ForeignKey, Integer, OnDelete, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from crmcore.tables import Contact, Company


class Location(Table, tablename="geo_location"):
    """Where a contact or company is, from which source and how precisely."""

    id = Serial(primary_key=True)
    contact = ForeignKey(references=Contact, null=True, on_delete=OnDelete.cascade, index=True)
    company = ForeignKey(references=Company, null=True, on_delete=OnDelete.cascade, index=True)
    lat = DoublePrecision()
    lon = DoublePrecision()
    source = Varchar(length=16, default="manual")  # geocoded | gps | manual | ip
    precision_m = Integer(default=0)
    label = Varchar(length=300, default="")
    recorded_at = Timestamptz(default=TimestamptzNow())


TABLES: list[type[Table]] = [Location]
