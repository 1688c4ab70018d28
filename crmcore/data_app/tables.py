"""Tables of the data feature (import, export, duplicates, merge), named ``data_…``.

An import is a record people can look at and undo: who ran it, on which file (by hash, so
re-running the same file resumes it), how far it got (``position`` is committed in the same
transaction as each batch) and what it did.
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from crmcore.tables import Contact, User

IMPORT_STATUSES = ("pending", "running", "completed", "failed", "reverted")


class DataImport(Table, tablename="data_import"):
    """One import of one file: its options, progress and counts."""

    id = Serial(primary_key=True)
    user = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    actor_label = Varchar(length=320, default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    updated_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)
    file_name = Varchar(length=300, default="")
    file_path = Text(default="")
    file_hash = Varchar(length=64, index=True)
    file_format = Varchar(length=8, default="csv")
    mode = Varchar(length=8, default="create")
    key = Varchar(length=16, default="email")
    mapping = JSON(default={})
    dry_run = Boolean(default=False)
    status = Varchar(length=16, default="pending", index=True)
    # Data rows (header excluded) fully handled and committed; a resumed run skips them.
    position = Integer(default=0)
    total_rows = Integer(null=True, default=None)
    created = Integer(default=0)
    updated = Integer(default=0)
    skipped = Integer(default=0)
    failed = Integer(default=0)
    duplicate_count = Integer(default=0)
    # A sample of rows that look like existing contacts: [{row, contact_id, reason}, …].
    duplicates = JSON(default=[])
    error_report_path = Text(default="")
    message = Text(default="")
    # The run that owns the import: a run that finds another runner's token here stops
    # before committing, so two processes never import the same rows.
    runner = Varchar(length=64, default="")


class DataImportRow(Table, tablename="data_import_row"):
    """Which contact a row of an import created or updated (revert deletes the created)."""

    id = Serial(primary_key=True)
    data_import = ForeignKey(
        references=DataImport, null=False, on_delete=OnDelete.cascade, index=True
    )
    row = Integer()
    contact = ForeignKey(references=Contact, null=False, on_delete=OnDelete.cascade, index=True)
    action = Varchar(length=8, default="created")


class DataImportError(Table, tablename="data_import_error"):
    """A rejected row, stored with the batch it belongs to so a resumed run never loses
    or repeats one; the downloadable error report is written from these rows."""

    id = Serial(primary_key=True)
    data_import = ForeignKey(
        references=DataImport, null=False, on_delete=OnDelete.cascade, index=True
    )
    row = Integer()
    reason = Text(default="")
    values = JSON(default=[])


class DataExternalId(Table, tablename="data_external_id"):
    """A contact's identifier in another system, the ``external_id`` key of imports."""

    id = Serial(primary_key=True)
    contact = ForeignKey(references=Contact, null=False, on_delete=OnDelete.cascade, index=True)
    external_id = Varchar(length=200, unique=True)


DATA_TABLES: list[type[Table]] = [DataImport, DataImportRow, DataImportError, DataExternalId]
