"""The reminders already sent, so that no birthday is ever reminded twice.

Table names start with the plugin name: all plugins share one namespace of tables.
"""

from __future__ import annotations

from crmcore.tables import Contact
from piccolo.columns import Date, ForeignKey, Integer, OnDelete, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Reminder(Table, tablename="birthdays_reminder"):
    """One birthday of one contact that its owner was reminded of.

    ``key`` is ``"<contact id>:<birthday date>"`` and unique: even two reminder runs racing
    each other create one task per birthday, because the loser's transaction (task included)
    fails on this constraint and rolls back.
    """

    id = Serial(primary_key=True)
    contact = ForeignKey(references=Contact, null=False, on_delete=OnDelete.cascade, index=True)
    occurs_on = Date()
    key = Varchar(length=64, unique=True)
    task_id = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


TABLES: list[type[Table]] = [Reminder]
