"""``crm contacts add|show|list|search``: contacts from the command line.

Commands act as the system actor and go through the same service functions as the API,
so an invalid email or phone is refused with the same message (exit code 2). Other
built-ins add subcommands to this same group object (``crm contacts import`` …).
Only click is imported at module level: ``crm --help`` loads this module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import click

from crmcore.cli.context import CLIContext, echo_json, fail, pass_ctx

STAGES = ("lead", "prospect", "customer", "churned")
EXIT_INVALID = 2


@click.group()
def contacts() -> None:
    """Add, show, list and search contacts."""


def _run(obj: CLIContext, fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run a service call; refused input exits 2 and a missing record 1, with its message."""
    from crmcore.errors import CRMError, ValidationError

    async def go(_database: Any) -> Any:
        return await fn()

    try:
        return obj.run(go)
    except ValidationError as exc:
        fail(exc.message, code=EXIT_INVALID)
    except CRMError as exc:
        fail(exc.message)


def _table(items: list[dict[str, Any]]) -> None:
    if not items:
        click.echo("No contacts.")
        return
    rows = [
        (
            str(c["id"]),
            c.get("name") or "",
            c.get("email") or "",
            c.get("phone") or "",
            c.get("stage") or "",
            c.get("company_name") or "",
        )
        for c in items
    ]
    headers = ("ID", "NAME", "EMAIL", "PHONE", "STAGE", "COMPANY")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for row in (headers, *rows):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def _show(contact: dict[str, Any]) -> None:
    click.echo(f"#{contact['id']} {contact['name']}")
    for label, key in (
        ("Emails", "emails"),
        ("Phones", "phones"),
        ("Tags", "tags"),
    ):
        if contact.get(key):
            click.echo(f"  {label}: {', '.join(contact[key])}")
    for label, key in (
        ("Company", "company_name"),
        ("Title", "title"),
        ("Stage", "stage"),
        ("City", "city"),
        ("Country", "country"),
        ("Source", "source"),
    ):
        if contact.get(key):
            click.echo(f"  {label}: {contact[key]}")
    for key, value in (contact.get("custom") or {}).items():
        click.echo(f"  {key}: {value}")


@contacts.command("add")
@click.option("--first-name", default="", help="Given name.")
@click.option("--last-name", default="", help="Family name.")
@click.option("--email", multiple=True, help="Email address (repeat for several).")
@click.option("--phone", multiple=True, help="Phone number, national or +international.")
@click.option("--company", default=None, help="Company name (created if new).")
@click.option("--title", default=None, help="Job title.")
@click.option("--stage", type=click.Choice(STAGES), default=None, help="Lifecycle stage.")
@click.option("--source", default=None, help="Where the contact came from.")
@click.option("--country", default=None, help="Two-letter country code (IR, DE).")
@click.option("--tag", "tags", multiple=True, help="Tag (repeat for several).")
@click.option("--json", "as_json", is_flag=True, help="Print the contact as JSON.")
@pass_ctx
def add(
    obj: CLIContext,
    first_name: str,
    last_name: str,
    email: tuple[str, ...],
    phone: tuple[str, ...],
    company: str | None,
    title: str | None,
    stage: str | None,
    source: str | None,
    country: str | None,
    tags: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create a contact."""
    from crmcore.services.actor import SYSTEM
    from crmcore.services.contacts import create_contact

    data: dict[str, Any] = {
        "first_name": first_name,
        "last_name": last_name,
        "emails": list(email),
        "phones": list(phone),
        "tags": list(tags),
    }
    optional = {
        "company": company,
        "title": title,
        "stage": stage,
        "source": source,
        "country": country,
    }
    data.update({key: value for key, value in optional.items() if value is not None})
    contact = _run(obj, lambda: create_contact(data, SYSTEM))
    if as_json:
        echo_json(contact)
    else:
        click.echo(f"Created contact #{contact['id']} {contact['name']}")


@contacts.command("show")
@click.argument("contact_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the contact as JSON.")
@pass_ctx
def show(obj: CLIContext, contact_id: int, as_json: bool) -> None:
    """Show one contact."""
    from crmcore.services.actor import SYSTEM
    from crmcore.services.contacts import get_contact

    contact = _run(obj, lambda: get_contact(contact_id, SYSTEM))
    if as_json:
        echo_json(contact)
    else:
        _show(contact)


async def _collect(limit: int, **kwargs: Any) -> list[dict[str, Any]]:
    """Up to ``limit`` contacts, newest first, following cursors past one page."""
    from crmcore.services.actor import SYSTEM
    from crmcore.services.contacts import list_contacts
    from crmcore.services.pagination import MAX_LIMIT

    items: list[dict[str, Any]] = []
    cursor = None
    while len(items) < limit:
        page = await list_contacts(
            SYSTEM, cursor=cursor, limit=min(MAX_LIMIT, limit - len(items)), **kwargs
        )
        items.extend(page.items)
        if page.next is None:
            break
        cursor = page.next
    return items


@contacts.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--stage", type=click.Choice(STAGES), default=None)
@click.option("--tag", default=None, help="Only contacts with this tag.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of contacts.")
@pass_ctx
def list_(obj: CLIContext, limit: int, stage: str | None, tag: str | None, as_json: bool) -> None:
    """List contacts, newest first."""
    items = _run(obj, lambda: _collect(limit, stage=stage, tag=tag))
    if as_json:
        echo_json(items)
    else:
        _table(items)


@contacts.command("search")
@click.argument("text")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of contacts.")
@pass_ctx
def search(obj: CLIContext, text: str, limit: int, as_json: bool) -> None:
    """Find contacts by name (or part of it), email or phone in any format."""
    items = _run(obj, lambda: _collect(limit, q=text))
    if as_json:
        echo_json(items)
    else:
        _table(items)
