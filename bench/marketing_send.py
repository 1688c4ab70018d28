"""Marketing: mails per second to a local SMTP sink, and segment counts over N contacts,
each against a baseline measured in the same run.

* **Sending**: a broadcast of ``--mails`` messages (default 5,000) through the plugin's
  sender (claim, render in the sandbox, tracked links, one-click unsubscribe headers, a
  ``sent`` commit per message) with ``--connections`` SMTP connections, against a raw
  ``aiosmtplib`` loop sending prebuilt messages over as many connections. The sink is
  ``aiosmtpd``'s Sink handler in its own process. Goal: at least 1,000 mails/s.
* **Segment count**: ``count_segment`` of a filter segment (has email and a tag, or not
  do-not-contact) over ``--size`` contacts (default 1,000,000), against the same count in
  raw SQL through the driver. Goal: under one second.

    python bench/marketing_send.py --size 100000
    python bench/marketing_send.py --size 100000 --database-url postgresql://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

CHUNK = 50_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sink(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
         "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the SMTP sink did not start")


async def raw_send(port: int, count: int, connections: int) -> float:
    """Baseline: prebuilt messages over ``connections`` aiosmtplib clients."""
    import aiosmtplib

    messages = []
    for i in range(count):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "b@x.test", f"r{i}@x.test", "Hi"
        message.set_content(f"Hello {i}")
        messages.append(message)
    queue: asyncio.Queue[EmailMessage] = asyncio.Queue()
    for message in messages:
        queue.put_nowait(message)

    async def worker() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
        await client.connect()
        while not queue.empty():
            await client.send_message(queue.get_nowait())
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return count / (time.perf_counter() - started)


async def load_contacts(size: int) -> float:
    from crmcore.services.actor import SYSTEM
    from crmcore.services.contacts_bulk import bulk_insert_contacts

    started = time.perf_counter()
    for start in range(0, size, CHUNK):
        rows = [
            {"first_name": f"C{i}", "email": f"c{i}@example.com",
             "tags": ["vip"] if i % 10 == 0 else []}
            for i in range(start, min(size, start + CHUNK))
        ]  # fmt: skip
        await bulk_insert_contacts(rows, SYSTEM)
    return time.perf_counter() - started


async def raw_count(url: str, sql: str) -> float:
    """The same count through the bare driver (no Piccolo, no filter compiler)."""
    if url.startswith("sqlite"):
        import sqlite3

        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        started = time.perf_counter()
        connection.execute(sql).fetchone()
        elapsed = time.perf_counter() - started
        connection.close()
        return elapsed
    import asyncpg

    connection = await asyncpg.connect(url)
    started = time.perf_counter()
    await connection.fetchval(sql)
    elapsed = time.perf_counter() - started
    await connection.close()
    return elapsed


async def run(args: argparse.Namespace, workdir: Path, port: int) -> dict[str, Any]:
    import os

    from crm_marketing import campaigns, segments, templates_store
    from crm_marketing.config import marketing_config
    from crm_marketing.sender import CampaignSender

    from crmcore.db.migrate import migrate
    from crmcore.db.runtime import open_database
    from crmcore.jobs import clock
    from crmcore.plugins import get_plugin_manager
    from crmcore.services.actor import SYSTEM
    from crmcore.services.records import fetch
    from crmcore.settings import load_settings

    url = args.database_url or f"sqlite:///{workdir / 'marketing.sqlite'}"
    os.environ["CRM_SMTP_URL"] = f"smtp://127.0.0.1:{port}?from=bench@example.com"
    os.environ["CRM_MARKETING_CONNECTIONS"] = str(args.connections)
    env = {"CRM_HOME": str(workdir), "CRM_DATABASE_URL": url, "CRM_SECRET_KEY": "bench"}
    settings = load_settings(home=workdir, env=env)
    pm = get_plugin_manager(settings, load_plugins=["marketing"])
    db = await open_database(url, pm)
    try:
        await migrate(db)
        load_s = await load_contacts(args.size)

        tree = {"and": [{"filter": "has_email"}, {"filter": "tag", "value": "vip"}]}
        segment = await segments.create_segment("vip", tree, SYSTEM)
        ours, counts = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            counts.append(await segments.count_segment(segment, mailable=True))
            ours.append(time.perf_counter() - started)
        raw_sql = (
            "SELECT count(*) FROM contact WHERE email IS NOT NULL AND EXISTS (SELECT 1 FROM "
            "contact_tag JOIN tag ON tag.id = contact_tag.tag WHERE contact_tag.contact = "
            "contact.id AND lower(tag.name) = 'vip') AND NOT EXISTS (SELECT 1 FROM "
            "marketing_do_not_contact d WHERE d.contact = contact.id AND d.channel = 'email')"
        )
        raw = [await raw_count(url, raw_sql) for _ in range(args.repeat)]

        mails = min(args.mails, args.size)
        listed = await segments.create_segment("bench list", None, SYSTEM, static=True)
        await fetch(
            "INSERT INTO marketing_segment_member (segment, contact, added_at) "
            "SELECT {}, id, {} FROM contact ORDER BY id LIMIT {}",
            [listed["id"], clock.now(), mails],
        )
        await templates_store.create_template(
            {"name": "bench", "subject": "Hello {{ contact.first_name | default('friend') }}",
             "html": '<p>Hi {{ contact.first_name }}</p><a href="https://example.org/">go</a>',
             "text": "Hi {{ contact.first_name }}"},
            SYSTEM,
        )  # fmt: skip
        campaign = await campaigns.create_campaign(
            {"segment": listed["id"], "template": "bench"}, SYSTEM
        )
        await campaigns.start_campaign(campaign["id"], SYSTEM)
        sender = CampaignSender(campaign["id"], marketing_config(settings))
        started = time.perf_counter()
        await sender.run(budget_s=3600)
        send_s = time.perf_counter() - started
        baseline_rate = await raw_send(port, mails, args.connections)
    finally:
        await db.close()
    rate = sender.sent / send_s
    return {
        "engine": "sqlite" if url.startswith("sqlite") else "postgres",
        "contacts": args.size,
        "load_s": round(load_s, 2),
        "segment_count": counts[0],
        "segment_count_p50_ms": round(statistics.median(ours) * 1000, 1),
        "raw_count_p50_ms": round(statistics.median(raw) * 1000, 1),
        "count_ratio": round(statistics.median(ours) / statistics.median(raw), 2),
        "mails": sender.sent,
        "connections": args.connections,
        "mails_per_s": round(rate, 1),
        "raw_aiosmtplib_per_s": round(baseline_rate, 1),
        "send_ratio": round(rate / baseline_rate, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="contacts to load")
    parser.add_argument("--mails", type=int, default=5_000, help="messages to send")
    parser.add_argument("--connections", type=int, default=8, help="SMTP connections")
    parser.add_argument("--repeat", type=int, default=5, help="timed segment counts")
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a temp SQLite file)")
    args = parser.parse_args()
    port = free_port()
    sink = start_sink(port)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = asyncio.run(run(args, Path(tmp), port))
    finally:
        sink.kill()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
