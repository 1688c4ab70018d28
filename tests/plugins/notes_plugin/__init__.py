"""``notes``: a small test-only plugin that keeps notes about contacts in its own table.

It is what a real plugin holding rows about contacts must do when two contacts are merged:
implement ``contact_merged`` and move its rows from the merged contact to the survivor
inside the merge transaction. Its table is created by the tests that load it
(``await create_tables()``), on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from typing import Any

from piccolo.columns import ForeignKey, OnDelete, Serial, Text
from piccolo.table import Table

from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest
from crmcore.tables import Contact

manifest = Manifest(name="notes", description="Notes about contacts (test plugin)")


class Note(Table, tablename="notes_note"):
    """A note about a contact; deleting the contact deletes its notes (so a merge that
    forgot them would lose them: the test would see it)."""

    id = Serial(primary_key=True)
    contact = ForeignKey(references=Contact, null=False, on_delete=OnDelete.cascade)
    text = Text(default="")


async def create_tables() -> None:
    await Note.create_table(if_not_exists=True)


async def add_note(contact_id: int, text: str) -> None:
    await Note.insert(Note(contact=contact_id, text=text))


@hookimpl
async def contact_merged(survivor_id: int, merged_id: int, actor: Any) -> None:
    await Note.update({Note.contact: survivor_id}).where(Note.contact == merged_id)
