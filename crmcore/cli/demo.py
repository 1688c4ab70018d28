"""``crm demo``: fill an empty instance with realistic, seeded demo data."""

from __future__ import annotations

from typing import Any

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx


def run_demo(
    obj: CLIContext,
    *,
    contacts: int = 500,
    seed: int = 42,
    force: bool = False,
    as_json: bool = False,
    strict: bool = False,
) -> None:
    """Generate the demo data and print what was made.

    On an instance that already has contacts (and without ``force``) ``strict`` fails the
    command (``crm demo``); otherwise the demo is skipped with a note, so ``crm init --demo``
    stays safe to run twice.
    """
    from crmcore.demo import DemoRefused, generate_demo

    def progress(message: str) -> None:
        if not as_json:
            click.echo(message, err=True)

    async def go(_db: Any) -> Any:
        return await generate_demo(contacts, seed, force=force, progress=progress)

    try:
        report = obj.run(go)
    except DemoRefused as exc:
        if strict:
            raise click.ClickException(exc.message) from exc
        click.echo(f"Demo data skipped: {exc.message}")
        return
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(
        f"Created {report.contacts:,} contacts, {report.companies:,} companies, "
        f"{report.interactions:,} interactions and {report.tasks:,} tasks "
        f"in {report.seconds:.1f} s."
    )
    if report.users:
        click.echo(f"Demo users (password {report.password}): {', '.join(report.users)}")


@click.command()
@click.option("--contacts", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same data.")
@click.option("--force", is_flag=True, help="Add demo data even if the instance has contacts.")
@click.option("--json", "as_json", is_flag=True, help="Print what was created as JSON.")
@pass_ctx
def demo(obj: CLIContext, contacts: int, seed: int, force: bool, as_json: bool) -> None:
    """Fill the instance with demo contacts (Persian and English), companies, owners, tags,
    custom fields, two years of interactions and purchases, and tasks around today.

    Refuses to run on an instance that already has contacts, unless --force.
    """
    run_demo(obj, contacts=contacts, seed=seed, force=force, as_json=as_json, strict=True)
