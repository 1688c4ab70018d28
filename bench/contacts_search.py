"""Contact search and list-page latency at scale, against a raw sqlite3 baseline.

Loads ``--size`` contacts (default 1,000,000; English and Persian names, Iranian and
other phone numbers) through the bulk path (``bulk_insert_contacts``), then times
through the service layer (``list_contacts``, what the API and pages call):

* full-text search (``q=``): a Persian name fragment, a Latin name prefix, an exact
  email, a phone in local and in international format; p50 and p99 over ``--queries``;
* the first list page and page 5,000 (keyset cursor; the page size shrinks so that page
  5,000 exists: 20 per page at 100,000 contacts).

The baseline is the same data in a bare sqlite3 database built in the same run: one table
plus an FTS5 index over the same search text, queried with plain SQL and no framework.
Ratios are ours ÷ baseline (lower is better). Prints a table and writes JSON rows of
``name``, ``value``, ``baseline``, ``ratio``.

    python bench/contacts_search.py --size 100000 --json bench/contacts_search-100k.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from faker import Faker

CHUNK = 20_000
DEEP_PAGE = 5_000


# --------------------------------------------------------------------------- data


def name_pools(seed: int) -> dict[str, list[str]]:
    pools: dict[str, list[str]] = {}
    for locale in ("en_US", "fa_IR"):
        fake = Faker(locale)
        fake.seed_instance(seed)
        pools[f"{locale}.first"] = sorted({fake.first_name() for _ in range(600)})
        pools[f"{locale}.last"] = sorted({fake.last_name() for _ in range(600)})
    return pools


def generate(size: int, seed: int) -> list[dict[str, Any]]:
    """Contacts: 60% Persian names with Iranian mobiles, 40% English with US numbers."""
    rng = random.Random(seed)
    pools = name_pools(seed)
    rows = []
    for n in range(size):
        locale = "fa_IR" if rng.random() < 0.6 else "en_US"
        first = rng.choice(pools[f"{locale}.first"])
        last = rng.choice(pools[f"{locale}.last"])
        if locale == "fa_IR":
            phone = f"09{rng.choice((12, 13, 19, 35, 36, 37))}{n % 10_000_000:07d}"
        else:
            phone = f"+1 {rng.choice((212, 415, 617, 646))} 5{n % 1_000_000:06d}"
        rows.append(
            {
                "first_name": first,
                "last_name": last,
                "email": f"user{n}@{rng.choice(('example.com', 'mail.example', 'corp.example'))}",
                "phone": phone,
                "stage": rng.choice(("lead", "prospect", "customer")),
            }
        )
    return rows


def queries(rows: list[dict[str, Any]], count: int, seed: int) -> list[tuple[str, str]]:
    """(kind, text) pairs a person would type, drawn from the loaded contacts."""
    rng = random.Random(seed + 1)
    persian = [r for r in rows if not r["first_name"].isascii()]
    latin = [r for r in rows if r["first_name"].isascii()]
    iranian = [r for r in rows if r["phone"].startswith("09")]
    picked = []
    for i in range(count):
        kind = ("persian_fragment", "latin_prefix", "email", "phone_local", "phone_intl")[i % 5]
        if kind == "persian_fragment":
            picked.append((kind, rng.choice(persian)["first_name"][:3]))
        elif kind == "latin_prefix":
            row = rng.choice(latin)
            picked.append((kind, f"{row['first_name']} {row['last_name'][:3]}"))
        elif kind == "email":
            picked.append((kind, rng.choice(rows)["email"]))
        else:
            local = rng.choice(iranian)["phone"]
            text = local if kind == "phone_local" else f"+98 {local[1:4]} {local[4:7]} {local[7:]}"
            picked.append((kind, text))
    return picked


# --------------------------------------------------------------------------- ours


async def run_ours(args: argparse.Namespace, rows: list[dict[str, Any]], page_size: int,
                   searches: list[tuple[str, str]], workdir: Path) -> dict[str, Any]:  # fmt: skip
    from crmcore.db.migrate import migrate
    from crmcore.db.runtime import open_database
    from crmcore.plugins import get_plugin_manager
    from crmcore.services.actor import SYSTEM
    from crmcore.services.contacts import list_contacts
    from crmcore.services.contacts_bulk import bulk_insert_contacts
    from crmcore.services.pagination import encode_cursor
    from crmcore.services.records import fetch
    from crmcore.settings import load_settings

    url = args.database_url or f"sqlite:///{workdir / 'crm.sqlite'}"
    env = {"CRM_HOME": str(workdir), "CRM_DATABASE_URL": url, "CRM_SECRET_KEY": "bench"}
    settings = load_settings(home=workdir, env=env)
    pm = get_plugin_manager(settings, load_plugins=[])
    db = await open_database(url, pm)
    try:
        await migrate(db)
        started = time.perf_counter()
        for offset in range(0, len(rows), CHUNK):
            await bulk_insert_contacts(rows[offset : offset + CHUNK], SYSTEM)
            done = min(offset + CHUNK, len(rows))
            print(f"  loaded {done:,} / {len(rows):,}", file=sys.stderr, end="\r")
        load_s = time.perf_counter() - started
        print(file=sys.stderr)
        if db.is_sqlite:
            # What a settled instance looks like: statistics gathered, the WAL folded back.
            await db.engine.run_ddl("ANALYZE")
            await db.engine.run_ddl("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            await db.engine.run_ddl("ANALYZE")

        async def search(text: str) -> int:
            return len((await list_contacts(SYSTEM, q=text, limit=page_size)).items)

        # The first pass finds misses and warms the caches; the second is measured.
        misses = [text for _kind, text in searches if not await search(text)]
        search_ms = [await timed(search(text)) for _kind, text in searches]
        first_page = [await timed(list_contacts(SYSTEM, limit=page_size)) for _ in range(35)][5:]
        skip = (DEEP_PAGE - 1) * page_size - 1
        boundary = await fetch(f"SELECT id FROM contact ORDER BY id DESC LIMIT 1 OFFSET {skip}")
        cursor = encode_cursor(boundary[0]["id"])
        deep = await list_contacts(SYSTEM, cursor=cursor, limit=page_size)
        deep_page = [
            await timed(list_contacts(SYSTEM, cursor=cursor, limit=page_size)) for _ in range(35)
        ][5:]
        return {
            "engine": db.engine.engine_type,
            "load_s": load_s,
            "search_ms": search_ms,
            "search_misses": misses,
            "page1_ms": first_page,
            "page_deep_ms": deep_page,
            "deep_first_id": deep.items[0]["id"] if deep.items else None,
        }
    finally:
        await db.close()


async def timed(awaitable: Any) -> float:
    started = time.perf_counter()
    await awaitable
    return (time.perf_counter() - started) * 1000


# --------------------------------------------------------------------------- baseline


def run_baseline(rows: list[dict[str, Any]], page_size: int, searches: list[tuple[str, str]],
                 workdir: Path) -> dict[str, Any]:  # fmt: skip
    """The same contacts and search text in a bare sqlite3 file, queried with plain SQL."""
    from crmcore.services.normalize import normalize_email, normalize_phone
    from crmcore.services.search import contact_search_text, fts5_match

    path = workdir / "baseline.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE contact (id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, "
        "email TEXT, phone TEXT, stage TEXT, search_text TEXT)"
    )
    conn.execute(
        "CREATE VIRTUAL TABLE contact_fts USING fts5(search_text, content='contact', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3 4')"
    )
    # Timed from here: the baseline normalises and builds the same search text too, so the
    # load ratio measures the bulk path's overhead, not the cost of email/phone parsing.
    started = time.perf_counter()
    prepared = []
    for n, row in enumerate(rows, start=1):
        email = normalize_email(row["email"])
        phone = normalize_phone(row["phone"], "IR")
        text = contact_search_text(
            first_name=row["first_name"], last_name=row["last_name"], emails=[email],
            phones=[phone],
        )  # fmt: skip
        prepared.append((n, row["first_name"], row["last_name"], email, phone, row["stage"], text))
    with conn:
        conn.executemany("INSERT INTO contact VALUES (?, ?, ?, ?, ?, ?, ?)", prepared)
        conn.execute("INSERT INTO contact_fts (contact_fts) VALUES ('rebuild')")
    load_s = time.perf_counter() - started
    conn.execute("ANALYZE")

    def search(text: str) -> None:
        # The same query shape the service runs: the FTS5 index walked newest match first.
        match = fts5_match(text, "IR")
        assert match is not None
        conn.execute(
            "SELECT contact.* FROM contact_fts JOIN contact ON contact.id = contact_fts.rowid "
            f"WHERE contact_fts MATCH ? ORDER BY contact_fts.rowid DESC LIMIT {page_size}",
            (match,),
        ).fetchall()

    def ms(fn: Any, *a: Any) -> float:
        started = time.perf_counter()
        fn(*a)
        return (time.perf_counter() - started) * 1000

    for _kind, text in searches:
        search(text)
    search_ms = [ms(search, text) for _kind, text in searches]
    page1 = [
        ms(lambda: conn.execute(
            f"SELECT * FROM contact ORDER BY id DESC LIMIT {page_size}").fetchall())
        for _ in range(35)
    ][5:]  # fmt: skip
    (boundary,) = conn.execute(
        f"SELECT id FROM contact ORDER BY id DESC LIMIT 1 OFFSET {(DEEP_PAGE - 1) * page_size - 1}"
    ).fetchone()
    deep = [
        ms(lambda: conn.execute(
            f"SELECT * FROM contact WHERE id < ? ORDER BY id DESC LIMIT {page_size}",
            (boundary,)).fetchall())
        for _ in range(35)
    ][5:]  # fmt: skip
    conn.close()
    return {"load_s": load_s, "search_ms": search_ms, "page1_ms": page1, "page_deep_ms": deep}


# --------------------------------------------------------------------------- report


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def report(ours: dict[str, Any], base: dict[str, Any], meta: dict[str, Any]) -> list[dict]:
    def row(name: str, value: float, baseline: float) -> dict[str, Any]:
        return {"name": name, "value": round(value, 4), "baseline": round(baseline, 4),
                "ratio": round(value / baseline, 2) if baseline else None}  # fmt: skip

    return [
        row("search_p50_ms", percentile(ours["search_ms"], 50), percentile(base["search_ms"], 50)),
        row("search_p99_ms", percentile(ours["search_ms"], 99), percentile(base["search_ms"], 99)),
        row("list_page_1_ms", statistics.median(ours["page1_ms"]),
            statistics.median(base["page1_ms"])),
        row(f"list_page_{DEEP_PAGE}_ms", statistics.median(ours["page_deep_ms"]),
            statistics.median(base["page_deep_ms"])),
        row("load_contacts_per_s", meta["size"] / ours["load_s"], meta["size"] / base["load_s"]),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--database-url",
        default=None,
        help="an EMPTY database to fill (default: a temporary SQLite file)",
    )
    parser.add_argument("--json", default="contacts_search.json", help="where to write results")
    args = parser.parse_args()  # fmt: skip
    if args.size < DEEP_PAGE:
        parser.error(f"--size must be at least {DEEP_PAGE} (page {DEEP_PAGE} must exist)")
    page_size = max(1, min(50, args.size // DEEP_PAGE))
    print(f"generating {args.size:,} contacts…", file=sys.stderr)
    rows = generate(args.size, args.seed)
    searches = queries(rows, args.queries, args.seed)
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        workdir = Path(tmp)
        print("loading through the bulk path…", file=sys.stderr)
        ours = asyncio.run(run_ours(args, rows, page_size, searches, workdir))
        print("building the raw sqlite3 baseline…", file=sys.stderr)
        base = run_baseline(rows, page_size, searches, workdir)
    meta = {
        "size": args.size, "page_size": page_size, "deep_page": DEEP_PAGE,
        "queries": len(searches), "engine": ours["engine"], "sqlite": sqlite3.sqlite_version,
        "python": sys.version.split()[0], "search_misses": len(ours["search_misses"]),
    }  # fmt: skip
    results = report(ours, base, meta)
    print(f"\ncontacts: {args.size:,}  engine: {meta['engine']}  page size: {page_size}  "
          f"searches: {len(searches)} (misses: {meta['search_misses']})")  # fmt: skip
    print(f"{'measure':<24}{'ours':>14}{'raw sqlite3':>14}{'ratio':>9}")
    for r in results:
        print(f"{r['name']:<24}{r['value']:>14,.3f}{r['baseline']:>14,.3f}{r['ratio']:>9}")
    Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print(f"\nwrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
