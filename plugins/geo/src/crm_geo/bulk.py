"""Bulk geocoding: give every contact and company without a location one from its address.

A *run* (``geo_geocode_run``) records the progress, so ``crm geo geocode-all``, the API and
the job runner all report the same numbers. The work goes in batches by id: each batch is
geocoded (answers cached per distinct address, since a million contacts live in a few
thousand towns) and written in one transaction with the run's counters, so a run stopped
half-way resumes where it was and never geocodes a record twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from crm_geo.auto_geocode import location_label
from crm_geo.gazetteer import GeocodeResult
from crm_geo.geocoding import address_text, city_text, geocode_address
from crm_geo.tables import GeocodeRun, Location
from crmcore.errors import NotFound
from crmcore.jobs import Job, JobContext, clock, enqueue
from crmcore.services.actor import SYSTEM, Actor
from crmcore.services.audit import record_audit
from crmcore.services.outbox import emit_event
from crmcore.services.records import fetch, iso, plugin_manager, require
from crmcore.services.transaction import write_transaction

__all__ = ["JOBS", "get_run", "list_runs", "locate_records", "run_geocode", "start_geocode_run"]

log = logging.getLogger("crm_geo.bulk")

READ = "geo.read"
WRITE = "geo.write"
JOB_NAME = "geo.geocode_all"
BATCH = 500

Progress = Callable[[dict[str, Any]], Awaitable[None] | None]


def _pending_sql(table: str) -> str:
    return (
        f"FROM {table} r WHERE (r.city <> '' OR r.region <> '') AND NOT EXISTS "
        f"(SELECT 1 FROM geo_location l WHERE l.{table} = r.id)"
    )


def as_dict(row: dict[str, Any]) -> dict[str, Any]:
    total = row["total"]
    return {
        "id": row["id"],
        "status": row["status"],
        "total": total,
        "processed": row["processed"],
        "geocoded": row["geocoded"],
        "not_found": row["not_found"],
        "percent": round(100.0 * row["processed"] / total, 1) if total else 100.0,
        "error": row["error"],
        "job_id": row["job_id"],
        "created_at": iso(row["created_at"]),
        "started_at": iso(row["started_at"]),
        "finished_at": iso(row["finished_at"]),
    }


async def _run_row(run_id: int) -> dict[str, Any]:
    rows = await fetch("SELECT * FROM geo_geocode_run WHERE id = {}", [int(run_id)])
    if not rows:
        raise NotFound(f"geocoding run {run_id} does not exist")
    return rows[0]


async def get_run(run_id: int, actor: Actor) -> dict[str, Any]:
    require(actor, READ)
    return as_dict(await _run_row(run_id))


async def list_runs(actor: Actor, limit: int = 20) -> list[dict[str, Any]]:
    require(actor, READ)
    rows = await fetch(f"SELECT * FROM geo_geocode_run ORDER BY id DESC LIMIT {int(limit)}")
    return [as_dict(row) for row in rows]


async def start_geocode_run(actor: Actor, *, background: bool = True) -> dict[str, Any]:
    """Create a run; with ``background`` also queue the job that performs it (in the same
    transaction, so the run and its job exist together or not at all)."""
    require(actor, WRITE)
    async with write_transaction():
        rows = await GeocodeRun.insert(GeocodeRun(status="queued", created_by=actor.user_id))
        run_id = rows[0]["id"]
        if background:
            job_id = await enqueue(JOB_NAME, {"run_id": run_id}, key=f"{JOB_NAME}:{run_id}")
            await GeocodeRun.update({GeocodeRun.job_id: str(job_id)}).where(GeocodeRun.id == run_id)
    return as_dict(await _run_row(run_id))


async def _count_pending() -> int:
    total = 0
    for table in ("contact", "company"):
        rows = await fetch(f"SELECT count(*) AS n {_pending_sql(table)}")
        total += int(rows[0]["n"])
    return total


async def _geocode_batch(
    table: str, records: list[dict[str, Any]], cache: dict[tuple[str, str], Any], pm: Any
) -> list[Location]:
    found: list[Location] = []
    for record in records:
        key = (address_text(record), city_text(record))
        if key not in cache:
            cache[key] = await geocode_address(record, pm)
        result: GeocodeResult | None = cache[key]
        if result is not None:
            found.append(
                Location(
                    **{table: record["id"]},
                    lat=result.lat,
                    lon=result.lon,
                    source="geocoded",
                    precision_m=int(result.precision_km * 1000),
                    label=location_label(result),
                    recorded_at=clock.now(),
                )
            )
    return found


async def _still_unlocated(table: str, locations: list[Location]) -> list[Location]:
    """Drop records that got a location while the batch was geocoded (a check-in, an edit)."""
    if not locations:
        return locations
    ids = [getattr(location, table) for location in locations]
    taken = {
        row[table]
        for row in await fetch(
            f"SELECT {table} FROM geo_location WHERE {table} IN ({', '.join('{}' for _ in ids)})",
            ids,
        )
    }
    return [location for location in locations if getattr(location, table) not in taken]


async def _report(progress: Progress | None, run_id: int) -> None:
    if progress is not None:
        outcome = progress(as_dict(await _run_row(run_id)))
        if outcome is not None:
            await outcome


async def run_geocode(run_id: int, progress: Progress | None = None) -> dict[str, Any]:
    """Perform a run: geocode, in batches, every record still without a location.

    ``progress`` is called with the run after each batch (the CLI draws its bar from it).
    """
    run = await _run_row(run_id)
    if run["status"] == "done":
        return as_dict(run)
    pm = plugin_manager()
    processed = run["processed"]
    await GeocodeRun.update(
        {
            GeocodeRun.status: "running",
            GeocodeRun.error: "",
            GeocodeRun.started_at: run["started_at"] or clock.now(),
            GeocodeRun.total: processed + await _count_pending(),
        }
    ).where(GeocodeRun.id == run_id)
    await _report(progress, run_id)
    cache: dict[tuple[str, str], Any] = {}
    try:
        for table in ("contact", "company"):
            after = 0
            while True:
                records = await fetch(
                    "SELECT r.id, r.street, r.city, r.region, r.postal_code, r.country "
                    f"{_pending_sql(table)} AND r.id > {{}} ORDER BY r.id LIMIT {BATCH}",
                    [after],
                )
                if not records:
                    break
                after = records[-1]["id"]
                locations = await _geocode_batch(table, records, cache, pm)
                async with write_transaction():
                    locations = await _still_unlocated(table, locations)
                    if locations:
                        await Location.insert(*locations)
                    await GeocodeRun.update(
                        {
                            GeocodeRun.processed: GeocodeRun.processed + len(records),
                            GeocodeRun.geocoded: GeocodeRun.geocoded + len(locations),
                            GeocodeRun.not_found: GeocodeRun.not_found
                            + (len(records) - len(locations)),
                        }
                    ).where(GeocodeRun.id == run_id)
                await _report(progress, run_id)
    except Exception as exc:
        await GeocodeRun.update(
            {GeocodeRun.status: "failed", GeocodeRun.error: f"{type(exc).__name__}: {exc}"}
        ).where(GeocodeRun.id == run_id)
        raise
    return await _finish(run_id)


async def locate_records(table: str, ids: list[int]) -> int:
    """Geocode the ``contact`` or ``company`` rows ``ids`` that have an address and no
    location yet, as a run does but for just these rows (records written in bulk, such as
    the demo's); returns how many got a location."""
    if table not in ("contact", "company"):
        raise ValueError(f"table must be 'contact' or 'company', not {table!r}")
    pm = plugin_manager()
    cache: dict[tuple[str, str], Any] = {}
    located = 0
    for start in range(0, len(ids), BATCH):
        chunk = [int(i) for i in ids[start : start + BATCH]]
        records = await fetch(
            "SELECT r.id, r.street, r.city, r.region, r.postal_code, r.country "
            f"{_pending_sql(table)} AND r.id IN ({', '.join('{}' for _ in chunk)})",
            chunk,
        )
        locations = await _geocode_batch(table, records, cache, pm)
        async with write_transaction():
            locations = await _still_unlocated(table, locations)
            if locations:
                await Location.insert(*locations)
        located += len(locations)
    return located


async def _finish(run_id: int) -> dict[str, Any]:
    async with write_transaction():
        await GeocodeRun.update(
            {GeocodeRun.status: "done", GeocodeRun.finished_at: clock.now()}
        ).where(GeocodeRun.id == run_id)
        run = as_dict(await _run_row(run_id))
        await record_audit(
            table="geo_geocode_run",
            record_id=run_id,
            action="update",
            changes={
                "status": ["running", "done"],
                "geocoded": [0, run["geocoded"]],
                "not_found": [0, run["not_found"]],
            },
            actor=SYSTEM,
            plugin="geo",
        )
        await emit_event("geo.geocode_run_finished", run)
    return run


async def _geocode_all_job(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    run = await run_geocode(int(payload["run_id"]))
    log.info("geocoding run %s: %s of %s geocoded", run["id"], run["geocoded"], run["total"])
    return {"geocoded": run["geocoded"], "not_found": run["not_found"]}


JOBS: tuple[Job, ...] = (Job(name=JOB_NAME, func=_geocode_all_job, retries=3, timeout_s=6 * 3600),)
