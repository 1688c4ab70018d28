"""The test plugin's one table."""

from __future__ import annotations

from piccolo.columns import Serial, Varchar
from piccolo.table import Table


class ProbeNote(Table, tablename="probe_notes_note"):
    id = Serial(primary_key=True)
    text = Varchar(length=200)


TABLES: list[type[Table]] = [ProbeNote]
