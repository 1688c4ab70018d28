"""Importing a generated contact file in one command, against raw driver inserts.

Generates ``--size`` contact rows (default 1,000,000: Persian and English names, unique
emails and Iranian mobile numbers, 2,000 companies, a tag on one row in five) as a CSV
file, then:

* **ours**: ``crm contacts import FILE`` in a subprocess, on a freshly migrated instance
  (wall time, CPU time of the command and its reader processes, peak RSS of the largest
  process);
* **baseline**: the very same contact rows (read back from our database, search text
  included) inserted into another freshly migrated database with the bare driver, in
  batches of the same size, one transaction each: ``sqlite3`` ``executemany`` on SQLite,
  asyncpg ``copy_records_to_table`` on PostgreSQL. Only the insert and commit calls are
  timed.

Ratios are ours ÷ baseline (lower is better; the goal is ≤ 2× with peak RSS < 300 MB).
Prints a table and writes JSON rows of ``name``, ``value``, ``baseline``, ``ratio``.

    python bench/import_bench.py --size 100000 --json bench/import-100k.json
    python bench/import_bench.py --size 100000 --db postgres postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

RSS_GOAL_MB = 300
RATIO_GOAL = 2.0

FIRST = {
    "fa": ["علی", "محمد", "زهرا", "فاطمه", "رضا", "مریم", "حسین", "سارا", "امیر", "نرگس"],
    "en": ["James", "Mary", "John", "Linda", "Robert", "Susan", "David", "Karen", "Paul", "Anna"],
}
LAST = {
    "fa": ["رضایی", "احمدی", "محمدی", "حسینی", "کریمی", "موسوی", "جعفری", "صادقی", "رحیمی"],
    "en": ["Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Clark", "Hall"],
}
LATIN = {"fa": ["ali", "mohammad", "zahra", "fatemeh", "reza", "maryam", "hossein", "sara",
                "amir", "narges"]}  # fmt: skip
CITIES = ["Tehran", "Tabriz", "Shiraz", "Isfahan", "Mashhad", "London", "Berlin", "Toronto"]
TAGS = ["vip", "newsletter", "trade-show", "partner", "مشتری ویژه"]
MOBILE_PREFIXES = ["0912", "0935", "0919", "0901", "0921"]


def generate(path: Path, size: int, seed: int = 7) -> None:
    """Write ``size`` rows: realistic enough that every row passes the import's checks."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["first_name", "last_name", "email", "phone", "company", "city", "tags"])
        for n in range(size):
            lang = "fa" if n % 5 < 3 else "en"
            index = rng.randrange(10)
            first = FIRST[lang][index]
            last = rng.choice(LAST[lang])
            latin = LATIN["fa"][index] if lang == "fa" else first.lower()
            email = f"{latin}.{n}@{rng.choice(('example.com', 'mail.example', 'corp.example'))}"
            phone = f"{MOBILE_PREFIXES[n % 5]}{n // 5:07d}"
            company = f"Company {rng.randrange(2000)}"
            tags = rng.choice(TAGS) if n % 5 == 0 else ""
            writer.writerow([first, last, email, phone, company, rng.choice(CITIES), tags])


def children_usage() -> tuple[float, int]:
    """CPU seconds and peak RSS (KiB) of finished child processes (and their children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def crm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from crmcore.cli.main import main; main()", *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"crm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def instance_env(home: Path, url: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "CRM_HOME": str(home),
        "CRM_DATABASE_URL": url,
        "CRM_SECRET_KEY": "bench",
        "CRM_LOAD_PLUGINS": "",
    }


# --------------------------------------------------------------------------- baselines


def sqlite_columns(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[1] for row in connection.execute("PRAGMA table_info(contact)")]


def sqlite_baseline(ours: Path, target: Path, batch: int) -> tuple[float, float]:
    """Insert our contact rows into ``target`` with raw executemany; (wall, cpu) seconds
    spent in the insert and commit calls."""
    columns = sqlite_columns(ours)
    names = ", ".join(f'"{c}"' for c in columns)
    insert = f"INSERT INTO contact ({names}) VALUES ({', '.join('?' for _ in columns)})"
    source = sqlite3.connect(ours)
    sink = sqlite3.connect(target, isolation_level=None)
    sink.execute("PRAGMA synchronous = NORMAL")
    sink.execute("PRAGMA foreign_keys = 1")
    # The companies the contacts point at exist before the timed part, as they did for us.
    companies = source.execute("SELECT * FROM company").fetchall()
    if companies:
        marks = ", ".join("?" for _ in companies[0])
        sink.execute("BEGIN")
        sink.executemany(f"INSERT INTO company VALUES ({marks})", companies)
        sink.execute("COMMIT")
    wall = cpu = 0.0
    cursor = source.execute(f"SELECT {names} FROM contact ORDER BY id")
    while rows := cursor.fetchmany(batch):
        started, started_cpu = time.perf_counter(), time.thread_time()
        sink.execute("BEGIN IMMEDIATE")
        sink.executemany(insert, rows)
        sink.execute("COMMIT")
        wall += time.perf_counter() - started
        cpu += time.thread_time() - started_cpu
    source.close()
    sink.close()
    return wall, cpu


async def postgres_baseline(ours_url: str, target_url: str, batch: int) -> tuple[float, float]:
    import asyncpg

    source = await asyncpg.connect(ours_url)
    sink = await asyncpg.connect(target_url)
    try:
        columns = [
            r["column_name"]
            for r in await source.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'contact' "
                "AND is_generated = 'NEVER' ORDER BY ordinal_position"
            )
        ]
        names = ", ".join(f'"{c}"' for c in columns)
        companies = [tuple(r) for r in await source.fetch("SELECT * FROM company")]
        if companies:
            company_columns = list((await source.fetch("SELECT * FROM company LIMIT 1"))[0].keys())
            await sink.copy_records_to_table("company", records=companies, columns=company_columns)
        wall = cpu = 0.0
        async with source.transaction():
            cursor = await source.cursor(f"SELECT {names} FROM contact ORDER BY id")
            while rows := await cursor.fetch(batch):
                records = [tuple(r) for r in rows]
                started, started_cpu = time.perf_counter(), time.process_time()
                async with sink.transaction():
                    await sink.copy_records_to_table("contact", records=records, columns=columns)
                wall += time.perf_counter() - started
                cpu += time.process_time() - started_cpu
        return wall, cpu
    finally:
        await source.close()
        await sink.close()


async def postgres_database(base_url: str, name: str, drop: bool = False) -> str:
    import asyncpg

    admin = await asyncpg.connect(base_url)
    try:
        if drop:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return base_url.rsplit("/", 1)[0] + "/" + name


async def postgres_count(url: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval("SELECT COUNT(*) FROM contact"))
    finally:
        await connection.close()


# --------------------------------------------------------------------------- the run


def run(size: int, batch: int, db: list[str], workdir: Path) -> list[dict[str, Any]]:
    data = workdir / "contacts.csv"
    started = time.perf_counter()
    generate(data, size)
    print(f"generated {size:,} rows ({data.stat().st_size / 1e6:.1f} MB) in "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)  # fmt: skip

    postgres = db[0] == "postgres"
    created: list[str] = []
    if postgres:
        if len(db) < 2:
            raise SystemExit("--db postgres needs a URL: --db postgres postgresql://USER@HOST/DB")
        suffix = uuid.uuid4().hex[:8]
        ours_url = asyncio.run(postgres_database(db[1], f"bench_import_{suffix}"))
        base_url = asyncio.run(postgres_database(db[1], f"bench_baseline_{suffix}"))
        created = [f"bench_import_{suffix}", f"bench_baseline_{suffix}"]
    else:
        ours_url = f"sqlite:///{workdir / 'ours' / 'crm.sqlite'}"
        base_url = f"sqlite:///{workdir / 'baseline' / 'crm.sqlite'}"
    try:
        ours_env = instance_env(workdir / "ours", ours_url)
        base_env = instance_env(workdir / "baseline", base_url)
        crm(ours_env, "db", "migrate")
        crm(base_env, "db", "migrate")

        load_ours = os.getloadavg()[0]
        cpu_before, _rss = children_usage()
        started = time.perf_counter()
        result = crm(ours_env, "contacts", "import", str(data), "--no-progress",
                     "--batch-size", str(batch), "--json")  # fmt: skip
        wall = time.perf_counter() - started
        cpu_after, peak_kib = children_usage()
        outcome = json.loads(result.stdout)
        if outcome["created"] != size:
            raise SystemExit(f"expected {size} contacts, the import created {outcome['created']}")

        load_ours = max(load_ours, os.getloadavg()[0])
        load_base = os.getloadavg()[0]
        if postgres:
            assert asyncio.run(postgres_count(ours_url)) == size
            base_wall, base_cpu = asyncio.run(postgres_baseline(ours_url, base_url, batch))
        else:
            base_wall, base_cpu = sqlite_baseline(
                workdir / "ours" / "crm.sqlite", workdir / "baseline" / "crm.sqlite", batch
            )
        load_base = max(load_base, os.getloadavg()[0])
    finally:
        for name in created:
            asyncio.run(postgres_database(db[1], name, drop=True))

    engine = "postgresql copy_records_to_table" if postgres else "sqlite3 executemany"
    cpu_name = "import CPU seconds (all processes)"
    if postgres:
        cpu_name = "client CPU seconds (the database server's own work is not counted)"
    cpu = cpu_after - cpu_before
    peak_mb = peak_kib / 1024
    return [
        {"name": f"import {size:,} rows: seconds (baseline: {engine})", "value": round(wall, 2),
         "baseline": round(base_wall, 2), "ratio": round(wall / base_wall, 2)},
        {"name": "import rows/s", "value": round(size / wall),
         "baseline": round(size / base_wall), "ratio": round(base_wall / wall, 3)},
        {"name": cpu_name, "value": round(cpu, 2),
         "baseline": round(base_cpu, 2), "ratio": round(cpu / base_cpu, 2)},
        {"name": "peak RSS MB (largest process; baseline: goal)", "value": round(peak_mb, 1),
         "baseline": RSS_GOAL_MB, "ratio": round(peak_mb / RSS_GOAL_MB, 2)},
        # Wall times on a shared machine follow its load: the CPU-seconds ratio is the one
        # to compare across runs; the load average says how busy the machine was.
        {"name": f"machine load average (on {os.cpu_count()} CPUs)", "value": round(load_ours, 1),
         "baseline": round(load_base, 1), "ratio": round(load_ours / max(load_base, 0.01), 2)},
    ]  # fmt: skip


def print_table(rows: list[dict[str, Any]]) -> None:
    width = max(len(r["name"]) for r in rows)
    print(f"{'measure':<{width}}  {'ours':>12}  {'baseline':>12}  {'ratio':>7}")
    for row in rows:
        print(f"{row['name']:<{width}}  {row['value']:>12,}  {row['baseline']:>12,}  "
              f"{row['ratio']:>7}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="rows to generate")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--db",
        nargs="+",
        default=["sqlite"],
        metavar="ENGINE [URL]",
        help="sqlite (default) or: postgres postgresql://USER@HOST/DB (databases are "
        "created next to it and dropped afterwards)",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--workdir", type=Path, help="keep files here (default: a temp dir)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="crm-import-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        rows = run(args.size, args.batch_size, args.db, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
