"""The import engine: millions of contact rows from a CSV or XLSX file, resumable and undoable.

How it keeps its promises:

* **Same rules as one contact.** Every row goes through the checks ``create_contact``
  applies (``normalize_email``/``normalize_phone``, field lengths, stage, country, birthday,
  ``validate_custom``, the plugins' ``validate_contact``); rows matching an existing contact
  are changed by ``update_contact`` itself. A rejected row never stops the others: it goes
  to the error report with its reason.
* **Bounded memory, batched transactions.** The file is streamed; each batch of rows is one
  ``write_transaction()``. New contacts are written through the transaction's own driver
  connection (``executemany`` on SQLite, ``COPY`` on PostgreSQL), with the search text,
  contact points, tags and stage history ``create_contact`` would write; the full-text index
  follows through the database's own triggers / generated column.
* **Resumable.** The import record's ``position`` (rows done) is committed in the same
  transaction as the batch, so a killed run loses at most an uncommitted batch and a re-run
  on the same file (same SHA-256) continues from there without repeating a row.
* **Undoable.** Each created contact is listed in ``data_import_row``; ``revert_import``
  deletes exactly those (contacts the import only updated are left alone; restoring their
  earlier values is out of scope, the audit log has them).
* **Audit.** Bulk-created contacts get one audit entry per batch (action ``import`` on the
  import record, listing the created ids as ranges) instead of one per contact; updated
  contacts get update_contact's own per-contact entries. The outbox receives
  ``import.completed`` when the file is done.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import multiprocessing
import os
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from crmcore.data_app.tables import DataImport
from crmcore.db.runtime import current_database
from crmcore.errors import Conflict, PermissionDenied, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.audit import record_audit
from crmcore.services.custom_fields import list_fields
from crmcore.services.import_records import (
    default_error_report_path,
    get_import,
    import_errors,
    list_imports,
    load_record,
    record_dict,
    require_import,
    revert_import,
    write_error_report,
)
from crmcore.services.import_rows import (
    PreparedBatch,
    RowPlan,
    next_batch,
    prepared_batches,
    start_reader,
)
from crmcore.services.import_sources import (
    IGNORE,
    IMPORT_FIELDS,
    ImportSource,
    count_data_rows,
    file_hash,
    open_source,
    preview,
    resolve_mapping,
)
from crmcore.services.import_writer import (
    MAX_BATCH,
    BatchImporter,
    Counts,
    LeaseLost,
    utc_now,
)
from crmcore.services.outbox import emit_event
from crmcore.services.records import default_region, fetch
from crmcore.services.transaction import write_transaction

log = logging.getLogger("crmcore.imports")

__all__ = [
    "KEYS",
    "MODES",
    "ImportProgress",
    "ImportResult",
    "NothingImported",
    "configure_import",
    "create_import_record",
    "get_import",
    "import_errors",
    "import_job",
    "list_imports",
    "preview_import",
    "revert_import",
    "run_import",
    "start_import",
    "write_error_report",
]

MODES = ("create", "update", "upsert")
KEYS = ("email", "phone", "external_id")
ERROR_SAMPLE = 20
UNFINISHED = ("pending", "queued", "running", "failed")


class NothingImported(ValidationError):
    """The file could not be processed at all (no rows, no usable columns, every row bad).

    ``result`` holds what the run did when it got as far as reading rows (each row's
    reason is in the import's error report).
    """

    def __init__(
        self,
        message: str,
        errors: dict[str, str] | None = None,
        result: ImportResult | None = None,
    ) -> None:
        super().__init__(message, errors)
        self.result = result


@dataclass
class ImportProgress:
    """Where an import stands after a batch (for progress bars and the import page)."""

    import_id: int | None
    rows: int
    created: int
    updated: int
    skipped: int
    failed: int
    fraction: float | None
    total_rows: int | None


@dataclass
class ImportResult:
    """What an import did. ``rows`` counts data rows handled (the header excluded)."""

    import_id: int | None
    status: str
    file_name: str
    mode: str
    key: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    duplicates: int = 0
    resumed_from: int = 0
    error_report: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- import records


def _check_options(mode: str, key: str, batch_size: int) -> None:
    if mode not in MODES:
        raise ValidationError.for_field("mode", f"must be one of {', '.join(MODES)}.")
    if key not in KEYS:
        raise ValidationError.for_field("key", f"must be one of {', '.join(KEYS)}.")
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValidationError.for_field("batch_size", f"must be between 1 and {MAX_BATCH}.")


async def create_import_record(
    path: str | Path,
    *,
    actor: Actor,
    file_name: str | None = None,
    mode: str = "create",
    key: str = "email",
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    digest: str | None = None,
    count_rows: bool = False,
) -> dict[str, Any]:
    """Register an import of ``path`` without running it (the API does this, then queues
    the run). Checks the options and the header mapping first, so mistakes show at once.
    With ``count_rows`` the file's rows are counted, so progress can be shown in percent."""
    require_import(actor)
    _check_options(mode, key, 1)
    path = Path(path)
    with open_source(path) as source:
        custom = {f["key"]: f["label"] for f in await list_fields("contact")}
        resolved = resolve_mapping(source.headers, mapping, custom)
        _check_plan(source, resolved, mode, key)
        file_format = source.format
    digest = digest or file_hash(path)
    async with write_transaction():
        rows = await DataImport.insert(
            DataImport(
                user=actor.user_id,
                actor_label=actor.label[:320],
                file_name=(file_name or path.name)[:300],
                file_path=str(path),
                file_hash=digest,
                file_format=file_format,
                mode=mode,
                key=key,
                mapping=resolved,
                dry_run=dry_run,
                total_rows=count_data_rows(path) if count_rows else None,
            )
        )
    return await load_record(rows[0]["id"])


async def preview_import(import_id: int, actor: Actor, rows: int = 5) -> dict[str, Any]:
    """What the mapping screen shows for a pending import: the record, the file's headers,
    its first rows and the fields a column can be mapped to."""
    record = await get_import(import_id, actor)
    headers, sample = preview(record["file_path"], rows)
    custom = [f"custom.{f['key']}" for f in await list_fields("contact")]
    return {
        "import": record,
        "headers": headers,
        "rows": sample,
        "mapping": record["mapping"],
        "fields": [*IMPORT_FIELDS, *custom],
    }


async def configure_import(
    import_id: int,
    actor: Actor,
    *,
    mode: str,
    key: str,
    mapping: dict[str, str],
    dry_run: bool,
) -> dict[str, Any]:
    """Change the options of an import that has not started yet (the mapping screen)."""
    require_import(actor)
    _check_options(mode, key, 1)
    record = await get_import(import_id, actor)
    if record["status"] != "pending":
        raise Conflict(f"import {import_id} has already started; its options are fixed")
    with open_source(record["file_path"]) as source:
        custom = {f["key"]: f["label"] for f in await list_fields("contact")}
        resolved = resolve_mapping(source.headers, mapping, custom)
        _check_plan(source, resolved, mode, key)
    async with write_transaction():
        await DataImport.update(
            {
                DataImport.mode: mode,
                DataImport.key: key,
                DataImport.mapping: resolved,
                DataImport.dry_run: dry_run,
                DataImport.updated_at: utc_now(),
            }
        ).where(DataImport.id == import_id)
    return await get_import(import_id, actor)


# Imports running as plain asyncio tasks (when no job runner is set up); kept referenced
# so they are not garbage-collected mid-run.
_background: set[asyncio.Task[Any]] = set()


async def start_import(import_id: int, actor: Actor) -> str:
    """Run a registered import in the background: as the ``data.import`` job when the job
    system is available (a worker or ``crm serve`` runs it and retries it, and a retry
    resumes), else as an asyncio task of this process. Returns how it was started."""
    record = await get_import(import_id, actor)
    if record["status"] not in ("pending", "failed"):
        raise Conflict(f"import {import_id} is {record['status']}; it cannot be started")
    async with write_transaction():
        await DataImport.update(
            {DataImport.status: "queued", DataImport.updated_at: utc_now()}
        ).where(DataImport.id == import_id)
    payload = {"import_id": import_id, "user_id": actor.user_id}
    pm = current_database().pm
    try:
        from crmcore.jobs import enqueue, registry_for

        if pm is not None and "data.import" in registry_for(pm):
            await enqueue("data.import", payload, key=f"data.import:{import_id}")
            return "job"
    except ImportError:
        pass
    task = asyncio.create_task(_run_in_background(import_id, actor))
    _background.add(task)
    task.add_done_callback(_background.discard)
    return "task"


async def _run_in_background(import_id: int, actor: Actor) -> None:
    try:
        await run_import(import_id=import_id, actor=actor)
    except NothingImported:
        return  # the record holds the reason
    except Exception:
        log.exception("import %s failed; run it again to continue", import_id)


async def import_job(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """The ``data.import`` job: run (or resume) an import as the user who started it."""
    actor = await _actor_of(payload.get("user_id"))
    try:
        result = await run_import(import_id=int(payload["import_id"]), actor=actor)
    except NothingImported as exc:
        return {"import_id": payload["import_id"], "status": "completed", "message": exc.message}
    return {"import_id": result.import_id, "status": result.status, "created": result.created}


async def _actor_of(user_id: int | None) -> Actor:
    from crmcore.services.actor import SYSTEM

    if user_id is None:
        return SYSTEM
    from crmcore.auth.identity import actor_for_user
    from crmcore.services.users import load_user_for_request

    user = await load_user_for_request(int(user_id))
    if user is None:
        raise PermissionDenied(f"user {user_id} who started the import is no longer active")
    return actor_for_user(user)


def _check_plan(source: ImportSource, mapping: dict[str, str], mode: str, key: str) -> None:
    if not source.headers:
        raise NothingImported("the file is empty: it has no header row", {"file": "is empty"})
    targets = set(mapping.values()) - {IGNORE}
    if not targets:
        raise NothingImported(
            "none of the columns could be matched to a contact field "
            f"(columns: {', '.join(source.headers)}); map them with --map 'COLUMN=field'",
            {"mapping": "no column is mapped"},
        )
    if mode != "create":
        needed = {"email": {"email", "other_emails"}, "phone": {"phone", "other_phones"}}.get(
            key, {key}
        )
        if not targets & needed:
            raise NothingImported(
                f"mode {mode} finds contacts by {key}, but no column is mapped to {key}",
                {"key": f"map a column to {key}"},
            )


async def _find_resumable(digest: str, mode: str, key: str) -> dict[str, Any] | None:
    rows = await fetch(
        'SELECT * FROM data_import WHERE file_hash = {} AND mode = {} AND "key" = {} '
        "AND dry_run = {} ORDER BY id DESC LIMIT 1",
        [digest, mode, key, False],
    )
    return record_dict(rows[0]) if rows else None


async def _claim(import_id: int, runner: str) -> None:
    async with write_transaction():
        await fetch(
            "UPDATE data_import SET status = 'running', runner = {}, message = '', "
            "updated_at = {} WHERE id = {}",
            [runner, utc_now(), import_id],
        )


def _result(record: dict[str, Any], resumed_from: int = 0) -> ImportResult:
    mapping = record.get("mapping") or {}
    return ImportResult(
        import_id=record["id"],
        status=record["status"],
        file_name=record["file_name"],
        mode=record["mode"],
        key=record["key"],
        dry_run=record["dry_run"],
        rows=record["position"],
        created=record["created"],
        updated=record["updated"],
        skipped=record["skipped"],
        failed=record["failed"],
        duplicates=record["duplicate_count"],
        resumed_from=resumed_from,
        error_report=record.get("error_report_path") or None,
        mapping=mapping,
        unmapped=[h for h, t in mapping.items() if t == IGNORE],
        message=record.get("message") or "",
    )


async def run_import(
    path: str | Path | None = None,
    *,
    actor: Actor,
    mode: str = "create",
    key: str = "email",
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    progress: Callable[[ImportProgress], Any] | None = None,
    batch_size: int = 1000,
    error_report: str | Path | None = None,
    import_id: int | None = None,
    again: bool = False,
    file_name: str | None = None,
    parallel: bool | None = None,
) -> ImportResult:
    """Import contacts from a CSV or XLSX file (see the module docstring for guarantees).

    ``mode`` ``create`` adds every row; ``update`` changes contacts found by ``key`` and
    skips the rest; ``upsert`` does both. ``mapping`` overrides the guessed column mapping
    (``{"ایمیل": "email"}``). Re-running the same file continues an unfinished import;
    a finished one is not repeated unless ``again``. With ``import_id`` the run continues
    that import record (the API creates it first). ``parallel`` forces reader processes
    on (True) or off (False); by default large files get them. Raises :class:`NothingImported` when
    the file cannot be processed at all.
    """
    require_import(actor)
    _check_options(mode, key, batch_size)
    if import_id is not None:
        record = await load_record(import_id)
        if record["status"] in ("completed", "reverted"):
            return _result(record)
        path = Path(record["file_path"])
    else:
        if path is None:
            raise ValidationError.for_field("file", "give the file to import")
        path = Path(path)
        record = None
    with open_source(path) as source:
        custom_fields = await list_fields("contact")
        custom_labels = {f["key"]: f["label"] for f in custom_fields}
        digest = None
        if record is None and not dry_run:
            digest = file_hash(path)
            previous = await _find_resumable(digest, mode, key)
            if previous is not None and previous["status"] in UNFINISHED:
                record = previous
            elif (
                previous is not None
                and previous["status"] == "completed"
                and (previous["created"] or previous["updated"])
                and not again
            ):
                result = _result(previous)
                result.status = "already_imported"
                result.message = (
                    f"this file was already imported (import {previous['id']}, "
                    f"{previous['created']} created, {previous['updated']} updated); "
                    "nothing was done. Use --again to import it once more."
                )
                return result
        if record is None:
            record = await create_import_record(
                path,
                actor=actor,
                file_name=file_name,
                mode=mode,
                key=key,
                mapping=mapping,
                dry_run=dry_run,
                digest=digest,
            )
        resolved = record["mapping"] or resolve_mapping(source.headers, mapping, custom_labels)
        _check_plan(source, resolved, record["mode"], record["key"])
        plan = RowPlan(
            source.headers,
            resolved,
            record["mode"],
            record["key"],
            default_region(),
            source.encoding,
            {f["key"]: f for f in custom_fields},
        )
        runner = uuid.uuid4().hex
        await _claim(record["id"], runner)
        importer = BatchImporter(
            record=record,
            plan=plan,
            actor=actor,
            runner=runner,
        )
        resumed_from = record["position"]
        try:
            readers = reader_count(parallel, source.size)
            await _run_batches(importer, source, resumed_from, batch_size, progress, readers)
        except LeaseLost:
            raise
        except BaseException as exc:
            await _mark_failed(record["id"], runner, exc)
            raise
    return await _finish(record["id"], runner, actor, source.headers, error_report, resumed_from)


# Files smaller than this are checked in the importing process itself; larger ones by
# reader processes, which pays off once the file outweighs their start-up time.
PARALLEL_MIN_BYTES = 4 * 1024 * 1024
MAX_READERS = 4


def reader_count(parallel: bool | None, size: int) -> int:
    """How many reader processes check rows while this process writes (0: none).

    ``CRM_IMPORT_READERS`` sets the number for large files (0 turns readers off); by
    default there is one per CPU but one (the writer's), up to ``MAX_READERS``. (On two
    CPUs a second reader made a 100,000-row import 17% slower: it competes with the
    writer.)
    """
    if parallel is False or (parallel is None and size < PARALLEL_MIN_BYTES):
        return 0
    configured = os.environ.get("CRM_IMPORT_READERS", "").strip()
    if configured.isdigit():
        count = min(MAX_READERS, int(configured))
        return max(1, count) if parallel else count
    return max(1, min(MAX_READERS, (os.cpu_count() or 2) - 1))


async def _run_batches(
    importer: BatchImporter,
    source: ImportSource,
    skip: int,
    batch_size: int,
    progress: Callable[[ImportProgress], Any] | None,
    readers: int,
) -> None:
    """Feed checked batches to the writer, in file order.

    Reading, normalising and building search text is Python work that the database writes
    need not wait for: with ``readers`` processes it runs beside the writing process
    (processes, not threads: a busy thread would hold the GIL the database driver needs
    between rows), so an import costs about what its slower half costs, not the sum.
    """
    totals = Counts()
    record = importer.record
    for name in ("created", "updated", "skipped", "failed"):
        setattr(totals, name, record[name])
    totals.rows = skip
    if readers:
        try:
            await _run_with_readers(importer, source, skip, batch_size, progress, readers, totals)
            return
        except _ReadersUnavailable as exc:
            log.warning(
                "import %s: reader processes unavailable (%s); reading in-process",
                importer.import_id,
                exc,
            )
    for batch in prepared_batches(source, importer.plan, skip, batch_size):
        if batch is not None:
            await _one_batch(importer, batch, totals, source, progress)


class _ReadersUnavailable(Exception):
    """Reader processes could not start (e.g. the main module cannot be re-imported)."""


async def _run_with_readers(
    importer: BatchImporter,
    source: ImportSource,
    skip: int,
    batch_size: int,
    progress: Callable[[ImportProgress], Any] | None,
    readers: int,
    totals: Counts,
) -> None:
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    pools = [
        ProcessPoolExecutor(
            max_workers=1,
            mp_context=context,
            initializer=start_reader,
            initargs=(str(source.path), importer.plan.args, skip, batch_size, readers, index),
        )
        for index in range(readers)
    ]
    # Two batches in flight per reader: one being checked, one waiting to be written.
    ahead = deque(loop.run_in_executor(pools[i % readers], next_batch) for i in range(2 * readers))
    asked = len(ahead)
    written = 0
    try:
        while ahead:
            try:
                batch = await ahead.popleft()
            except BrokenProcessPool as exc:
                if written == 0:
                    raise _ReadersUnavailable(str(exc)) from exc
                raise
            if batch is None:
                break
            ahead.append(loop.run_in_executor(pools[asked % readers], next_batch))
            asked += 1
            await _one_batch(importer, batch, totals, source, progress)
            written += 1
    finally:
        for future in ahead:
            future.cancel()
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)


async def _one_batch(
    importer: BatchImporter,
    batch: PreparedBatch,
    totals: Counts,
    source: ImportSource,
    progress: Callable[[ImportProgress], Any] | None,
) -> None:
    outcome = await importer.run_batch(batch)
    totals.add(outcome.counts)
    if progress is not None:
        report = progress(
            ImportProgress(
                import_id=importer.import_id,
                rows=totals.rows,
                created=totals.created,
                updated=totals.updated,
                skipped=totals.skipped,
                failed=totals.failed,
                fraction=batch.fraction,
                total_rows=source.total_rows,
            )
        )
        if inspect.isawaitable(report):
            await report


async def _mark_failed(import_id: int, runner: str, exc: BaseException) -> None:
    message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    try:
        async with write_transaction():
            await fetch(
                "UPDATE data_import SET status = 'failed', message = {}, updated_at = {} "
                "WHERE id = {} AND runner = {}",
                [
                    f"stopped: {message}; run the same import again to continue",
                    utc_now(),
                    import_id,
                    runner,
                ],
            )
    except Exception:  # noqa: BLE001 - the original error is what the caller must see
        return


async def _finish(
    import_id: int,
    runner: str,
    actor: Actor,
    headers: list[str],
    error_report: str | Path | None,
    resumed_from: int,
) -> ImportResult:
    record = await load_record(import_id)
    report_path = ""
    if record["failed"] or record["skipped"]:
        target = Path(error_report) if error_report else default_error_report_path(import_id)
        written = await write_error_report(import_id, target, headers)
        report_path = str(target) if written else ""
    processed = record["created"] + record["updated"]
    message = ""
    if record["position"] == 0:
        message = "the file has a header row but no data rows; nothing to import"
    elif processed == 0 and record["failed"] and not record["dry_run"]:
        message = "no row could be imported; each row's reason is in the error report"
    async with write_transaction():
        await fetch(
            "UPDATE data_import SET status = 'completed', finished_at = {}, updated_at = {}, "
            "error_report_path = {}, message = {} WHERE id = {} AND runner = {}",
            [utc_now(), utc_now(), report_path, message, import_id, runner],
        )
        if not record["dry_run"]:
            counts = {
                name: record[name]
                for name in ("created", "updated", "skipped", "failed", "duplicate_count")
            }
            await record_audit(
                table="data_import",
                record_id=import_id,
                action="complete",
                changes={
                    "file_name": [None, record["file_name"]],
                    **{k: [None, v] for k, v in counts.items()},
                },
                actor=actor,
                plugin="data",
            )
            await emit_event(
                "import.completed",
                {
                    "import_id": import_id,
                    "file_name": record["file_name"],
                    "mode": record["mode"],
                    "rows": record["position"],
                    **counts,
                },
            )
    result = _result(await load_record(import_id), resumed_from)
    result.errors = [
        {"row": e["row"], "reason": e["reason"]}
        for e in await import_errors(import_id, limit=ERROR_SAMPLE)
    ]
    if message:
        raise NothingImported(message, {"file": message}, result)
    return result
