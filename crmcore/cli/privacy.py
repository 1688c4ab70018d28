"""``crm privacy export|erase``: a person's data, exported as one JSON document or erased."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx
from crmcore.cli.webhooks import run_service


@click.group()
def privacy() -> None:
    """Privacy requests: export or erase everything stored about a person."""


@privacy.command()
@click.argument("contact_id", type=int)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
@pass_ctx
def export(obj: CLIContext, contact_id: int, output: str | None) -> None:
    """Everything the CRM and its plugins store about CONTACT_ID, as one JSON document."""
    from crmcore.services.actor import SYSTEM
    from crmcore.services.privacy import export_contact

    document = run_service(obj, lambda: export_contact(contact_id, SYSTEM))
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        click.echo(f"Wrote the data of contact {contact_id} to {output}.", err=True)
    else:
        click.echo(text)


@privacy.command()
@click.argument("contact_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_ctx
def erase(obj: CLIContext, contact_id: int, yes: bool, as_json: bool) -> None:
    """Erase CONTACT_ID everywhere (core and plugins). This cannot be undone; an audit entry
    records that an erasure happened, without the data."""
    from crmcore.services.actor import SYSTEM
    from crmcore.services.privacy import erase_contact

    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("erasing cannot be undone: pass --yes to confirm")
        click.confirm(f"Erase contact {contact_id} and everything about them?", abort=True)
    summary = run_service(obj, lambda: erase_contact(contact_id, SYSTEM))
    if as_json:
        echo_json(summary)
        return
    click.echo(
        f"Erased contact {contact_id}: {summary['interactions']} interaction(s), "
        f"{summary['audit_rows_scrubbed']} audit row(s) scrubbed, "
        f"{summary['events_scrubbed']} event(s) scrubbed; plugins: "
        f"{', '.join(summary['plugins']) or 'none'}."
    )
