"""``crm worker``: a process that runs background jobs."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlparse

import click

from crmcore.cli.context import CLIContext, pass_ctx


@click.command()
@click.option("--concurrency", default=4, show_default=True, type=int, help="Jobs at once.")
@click.option("--burst", is_flag=True, help="Exit once no job is due (for cron or tests).")
@pass_ctx
def worker(obj: CLIContext, concurrency: int, burst: bool) -> None:
    """Run background jobs: the embedded queue in the CRM database, or the SAQ queue at
    CRM_QUEUE_URL. Stops cleanly on SIGTERM/SIGINT; jobs it was running go back to the
    queue."""
    from crmcore.jobs.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    backend = "embedded"
    if obj.settings.queue_url:
        parts = urlparse(obj.settings.queue_url)
        backend = f"SAQ ({parts.scheme}://{parts.hostname}:{parts.port or ''})"
    click.echo(f"crm worker: {backend} queue, concurrency {concurrency}", err=True)

    async def go(_db: Any) -> int:
        return await run_worker(obj.settings, obj.pm, concurrency=concurrency, burst=burst)

    processed = obj.run(go)
    click.echo(f"crm worker: stopped after {processed} job(s)", err=True)
