"""Backups and restores of the instance's database, and the check that a copy is usable.

* SQLite: the online backup API (``sqlite3.Connection.backup``) copies a consistent snapshot
  while the CRM keeps running; restoring copies the file back the same way.
* PostgreSQL: ``pg_dump -Fc`` (custom format); restoring streams ``pg_restore --clean
  --if-exists`` into ``psql --single-transaction``, so a failed restore changes nothing.
  ``pg_dump``, ``pg_restore`` and ``psql`` must be on PATH (package ``postgresql-client``).

After a restore, :func:`verify_database` opens the restored database, applies any pending
migration (a backup made by an older version) and reports what ``crm db status`` would.
Stop ``crm serve`` and ``crm worker`` before restoring: a restore replaces everything.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crmcore.db.engine import sqlite_path

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    engine: str


def default_backup_path(settings: Any) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    suffix = "sqlite" if settings.is_sqlite else "pgdump"
    return settings.home / "backups" / f"crm-{stamp}.{suffix}"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} was not found on PATH; install the PostgreSQL client tools "
            "(e.g. `apt install postgresql-client`, same major version as the server)"
        )
    return path


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip()}")


def _libpq_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def _sqlite_copy(source: str, target: str) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _sqlite_check(path: str) -> None:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (result,) = connection.execute("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a usable SQLite database: {exc}") from exc
    finally:
        connection.close()
    if result != "ok":
        raise BackupError(f"{path} failed the integrity check: {result}")


def file_kind(path: Path) -> str:
    """``sqlite`` or ``postgres`` from the file's first bytes."""
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgres"
    raise BackupError(f"{path} is neither a SQLite backup nor a pg_dump custom-format file")


def create_backup(settings: Any, target: Path | None = None) -> BackupResult:
    """Write a consistent copy of the database to ``target`` and check that it reads back."""
    target = Path(target or default_backup_path(settings)).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise BackupError(f"{target} already exists; choose another file name")
    if settings.is_sqlite:
        source = sqlite_path(settings.database_url)
        if not Path(source).exists():
            raise BackupError(f"the database file {source} does not exist")
        _sqlite_copy(source, str(target))
        _sqlite_check(str(target))
        engine = "sqlite"
    else:
        dump = _tool("pg_dump")
        url = _libpq_url(settings.database_url)
        _run([dump, "-Fc", "--no-owner", "-f", str(target), "-d", url])
        _run([_tool("pg_restore"), "--list", str(target)])
        engine = "postgres"
    os.chmod(target, 0o600)
    return BackupResult(path=target, size=target.stat().st_size, engine=engine)


def restore_backup(settings: Any, source: Path) -> None:
    """Replace the instance's database with the backup in ``source``."""
    source = Path(source).resolve()
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    kind = file_kind(source)
    engine = "sqlite" if settings.is_sqlite else "postgres"
    if kind != engine:
        raise BackupError(
            f"{source} is a {kind} backup but this instance uses {engine}; restore it into an "
            f"instance configured for {kind}"
        )
    if kind == "sqlite":
        _sqlite_check(str(source))
        target = sqlite_path(settings.database_url)
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(str(source), target)
    else:
        _pg_restore(settings.database_url, source)


# pg_dump pins the restore session's search_path to '' (a safe default for untrusted dumps).
# Extension functions that look their own types up through search_path then break: an index
# on earthdistance's ll_to_earth() (the geo plugin's) cannot be rebuilt ("type earth does not
# exist"). The dump names every object with its schema, so restoring with the default path
# changes nothing else.
_EMPTY_PATH = b"SELECT pg_catalog.set_config('search_path', '', false);"
_DEFAULT_PATH = b"SELECT pg_catalog.set_config('search_path', 'public', false);"


def _pg_restore(database_url: str, source: Path) -> None:
    """Stream the dump as SQL (``pg_restore -f -``) into ``psql`` in one transaction."""
    restore_tool, psql_tool = _tool("pg_restore"), _tool("psql")
    url = _libpq_url(database_url)
    env = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
    with (
        tempfile.TemporaryFile() as dump_log,
        tempfile.TemporaryFile() as psql_log,
        subprocess.Popen(
            [restore_tool, "--clean", "--if-exists", "--no-owner", "-f", "-", str(source)],
            stdout=subprocess.PIPE,
            stderr=dump_log,
        ) as dump,
        subprocess.Popen(
            [psql_tool, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-d", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=psql_log,
            env=env,
        ) as psql,
    ):
        assert dump.stdout is not None and psql.stdin is not None
        try:
            for line in dump.stdout:
                if line.rstrip() == _EMPTY_PATH:
                    line = _DEFAULT_PATH + b"\n"
                psql.stdin.write(line)
        except BrokenPipeError:
            pass  # psql stopped at an error; its log says which
        finally:
            psql.stdin.close()
        dump.wait()
        psql.wait()
        dump_log.seek(0)
        psql_log.seek(0)
        dump_errors = dump_log.read().decode(errors="replace").strip()
        psql_errors = psql_log.read().decode(errors="replace").strip()
    if dump.returncode != 0:
        raise BackupError(f"pg_restore failed: {dump_errors}")
    if psql.returncode != 0:
        raise BackupError(f"restoring into the database failed (nothing changed): {psql_errors}")


async def verify_database(settings: Any, pm: Any) -> dict[str, Any]:
    """Open the database, apply pending migrations, and report the migration status."""
    from crmcore.db.migrate import migrate, migration_status
    from crmcore.db.runtime import open_database

    db = await open_database(settings.database_url, pm)
    try:
        applied = await migrate(db)
        statuses = await migration_status(db)
    finally:
        await db.close()
    pending = [f"{s.app}:{m}" for s in statuses for m in s.pending]
    if pending:
        raise BackupError(f"the restored database still has pending migrations: {pending}")
    return {"applied": applied, "apps": [s.as_dict() for s in statuses], "pending": pending}
