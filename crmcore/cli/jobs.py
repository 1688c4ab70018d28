"""``crm jobs list|retry|cancel|enqueue``: look at and steer the background job queue."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx


def run_with_queue(obj: CLIContext, fn: Any) -> Any:
    """Open the database, run ``fn(backend)``, close SAQ connections; errors become messages."""
    from crmcore.errors import CRMError
    from crmcore.jobs import JobError, close_backends, current_backend

    async def go(_db: Any) -> Any:
        try:
            return await fn(current_backend())
        finally:
            await close_backends()

    try:
        return obj.run(go)
    except (CRMError, JobError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def jobs() -> None:
    """Background jobs: list them, retry dead ones, cancel queued ones."""


@jobs.command("list")
@click.option("--status", type=click.Choice(["queued", "running", "done", "dead", "cancelled"]))
@click.option("--name", help="Only jobs of this name (e.g. automation.deliver_webhook).")
@click.option("--limit", default=50, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def list_jobs(
    obj: CLIContext, status: str | None, name: str | None, limit: int, as_json: bool
) -> None:
    """Newest jobs first."""
    infos = run_with_queue(
        obj, lambda backend: backend.list_jobs(status=status, name=name, limit=limit)
    )
    if as_json:
        echo_json([info.as_dict() for info in infos])
        return
    if not infos:
        click.echo("No jobs.")
    for info in infos:
        when = info.run_at.strftime("%Y-%m-%d %H:%M:%S") if info.run_at else "-"
        click.echo(
            f"{info.id:>8}  {info.status:<9} {info.attempts}/{info.max_attempts}  {when}  "
            f"{info.name}"
        )
        if info.last_error and info.status in ("dead", "queued"):
            click.echo(f"          last error: {info.last_error.strip().splitlines()[-1]}")


@jobs.command()
@click.argument("job_id")
@pass_ctx
def retry(obj: CLIContext, job_id: str) -> None:
    """Put a dead (or cancelled) job back in the queue with a fresh set of attempts."""
    info = run_with_queue(obj, lambda backend: backend.retry(job_id))
    click.echo(f"Job {info.id} ({info.name}) is {info.status} again.")


@jobs.command()
@click.argument("job_id")
@pass_ctx
def cancel(obj: CLIContext, job_id: str) -> None:
    """Cancel a queued, running or dead job."""
    info = run_with_queue(obj, lambda backend: backend.cancel(job_id))
    click.echo(f"Job {info.id} ({info.name}) is {info.status}.")


@jobs.command()
@click.argument("name")
@click.option("--payload", default="{}", help="The job's JSON payload.")
@click.option("--at", "at", help="Run at this ISO time (with a timezone) instead of now.")
@click.option("--key", help="Deduplication key: an existing job with it is kept instead.")
@pass_ctx
def enqueue(obj: CLIContext, name: str, payload: str, at: str | None, key: str | None) -> None:
    """Queue job NAME (prints the job id)."""
    from crmcore.jobs import enqueue as enqueue_job

    try:
        data = json.loads(payload)
        when = datetime.fromisoformat(at) if at else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if not isinstance(data, dict):
        raise click.BadParameter("--payload must be a JSON object")
    job_id = run_with_queue(obj, lambda _backend: enqueue_job(name, data, at=when, key=key))
    click.echo(job_id)
