"""Benchmark data: N contacts with companies and ~10 interactions each, seeded, en + fa.

The people, companies and histories are those of ``crm demo`` (``crmcore.demo``: Persian
and English names, Iranian and US phones, tags, custom fields, dated stage history), drawn
for any size and streamed in chunks so memory stays flat at a million contacts:

* **database** (default): companies first, then per chunk one write transaction with the
  contacts through the project's bulk path (``bulk_insert_contacts``: normalised
  addresses, search text, audit) and their interactions, stage history and note search
  text through the same writers the demo uses;
* ``--csv FILE``: the contacts as an import file (no database), for import benchmarks.

Reports rows per second. ``N // 10`` companies; interactions average ~10 per contact.

    python bench/generate.py --size 100000 --database-url sqlite:////tmp/bench/crm.sqlite
    python bench/generate.py --size 1000000 --csv /tmp/contacts-1m.csv
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CHUNK = 10_000
CSV_COLUMNS = (
    "first_name", "last_name", "title", "email", "phone", "company", "street", "city",
    "region", "postal_code", "country", "stage", "source", "language", "birthday", "tags",
)  # fmt: skip


def _generator(seed: int) -> Any:
    """The demo's generator with ~10 interactions per contact (the demo draws ~6.75) and a
    company pick that does not scan every company for every person."""
    from crmcore.demo import _Generator

    class BenchGenerator(_Generator):
        companies_by_side: dict[bool, list[dict[str, Any]]]

        def person(self, index: int, owners: list[int], companies: list[dict[str, Any]]) -> Any:
            person = super().person(index, owners, [])
            side = self.companies_by_side.get(person.persian) or []
            if side and self.rng.random() < 0.7:
                company = self.rng.choice(side)
                person.row["company_id"] = person.company_id = company["id"]
                person.row["_company_name"] = company["name"]
            return person

        def interactions(self, person: Any) -> list[dict[str, Any]]:
            items = super().interactions(person)
            if self.rng.random() < 0.5:
                items += super().interactions(person)
            return items

    gen = BenchGenerator(seed, datetime.now(UTC))
    gen.companies_by_side = {}
    return gen


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def generate_database(size: int, seed: int, progress: bool = True) -> dict[str, Any]:
    """Fill the open database (``open_database`` first) with ``size`` contacts."""
    from crmcore.demo import (
        DemoReport,
        _backdate_contacts,
        _ensure_custom_fields,
        _ensure_users,
        _index_notes,
        _insert_companies,
        _insert_interactions,
    )
    from crmcore.services.actor import SYSTEM
    from crmcore.services.contacts_bulk import bulk_insert_contacts
    from crmcore.services.transaction import write_transaction

    gen = _generator(seed)
    report = DemoReport()
    started = time.perf_counter()
    owners = await _ensure_users(report)
    await _ensure_custom_fields(SYSTEM, report)
    companies: list[dict[str, Any]] = []
    for offset in range(0, max(size // 10, 1), CHUNK):
        count = min(CHUNK, max(size // 10, 1) - offset)
        async with write_transaction() as txn:
            companies += await _insert_companies(txn.connection, gen, count, owners)
    for company in companies:
        gen.companies_by_side.setdefault(company["persian"], []).append(company)
    contacts = interactions = 0
    for offset in range(0, size, CHUNK):
        people = [gen.person(i, owners, []) for i in range(offset, min(size, offset + CHUNK))]
        for person in people:
            person.row.pop("_company_name", None)
        async with write_transaction() as txn:
            ids = await bulk_insert_contacts([p.row for p in people], SYSTEM)
            for person, contact_id in zip(people, ids, strict=True):
                person.id = contact_id
            await _backdate_contacts(txn.connection, gen, people)
            before = report.interactions + report.tasks
            notes = await _insert_interactions(txn.connection, gen, people, owners, report)
            await _index_notes(txn.connection, notes)
        contacts += len(ids)
        interactions += report.interactions + report.tasks - before
        if progress:
            rate = contacts / (time.perf_counter() - started)
            _say(f"  {contacts:,} / {size:,} contacts ({rate:,.0f}/s)")
    seconds = time.perf_counter() - started
    rows = len(companies) + contacts + interactions
    return {
        "contacts": contacts,
        "companies": len(companies),
        "interactions": interactions,
        "seconds": round(seconds, 2),
        "contacts_per_s": round(contacts / seconds, 1),
        "rows_per_s": round(rows / seconds, 1),
    }


def generate_csv(size: int, seed: int, path: Path) -> dict[str, Any]:
    """Write ``size`` contacts as an import CSV (companies by name, tags ``;``-separated)."""
    gen = _generator(seed)
    companies = [gen.company(i, []) for i in range(max(size // 10, 1))]
    for n, company in enumerate(companies, start=1):
        company["id"] = n
        gen.companies_by_side.setdefault(company["persian"], []).append(company)
    started = time.perf_counter()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for index in range(size):
            row = gen.person(index, [], []).row
            row["company"] = row.pop("_company_name", "")
            row["tags"] = ";".join(row.get("tags") or [])
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in CSV_COLUMNS])
    seconds = time.perf_counter() - started
    return {"contacts": size, "seconds": round(seconds, 2), "rows_per_s": round(size / seconds, 1)}


async def _main_database(args: argparse.Namespace) -> dict[str, Any]:
    from crmcore.db.migrate import migrate
    from crmcore.db.runtime import open_database
    from crmcore.plugins import get_plugin_manager
    from crmcore.settings import load_settings

    home = args.home
    url = args.database_url or f"sqlite:///{home / 'crm.sqlite'}"
    env = {"CRM_HOME": str(home), "CRM_DATABASE_URL": url, "CRM_SECRET_KEY": "bench"}
    settings = load_settings(home=home, env=env)
    pm = get_plugin_manager(settings, load_plugins=[])
    db = await open_database(url, pm)
    try:
        await migrate(db)
        result = await generate_database(args.size, args.seed)
        if db.is_sqlite:
            await db.engine.run_ddl("PRAGMA wal_checkpoint(TRUNCATE)")
        await db.engine.run_ddl("ANALYZE")
        return {"database_url": url, **result}
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="contacts")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database-url", help="database to fill (default: SQLite in --home)")
    parser.add_argument("--home", help="instance folder (default: ./bench-home)")
    parser.add_argument("--csv", type=Path, help="write an import CSV here instead")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args()
    if args.csv:
        result = generate_csv(args.size, args.seed, args.csv)
    else:
        args.home = Path(args.home or Path.cwd() / "bench-home")
        args.home.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(_main_database(args))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
