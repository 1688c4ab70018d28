"""``crm webhooks add|list|remove|deliveries|inbound-add|inbound-list|inbound-remove``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import click

from crmcore.cli.context import CLIContext, echo_json, fail, pass_ctx


def run_service(obj: CLIContext, fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run a service call as the system; refused input exits 2, a missing record 1."""
    from crmcore.errors import CRMError, ValidationError

    async def go(_database: Any) -> Any:
        return await fn()

    try:
        return obj.run(go)
    except ValidationError as exc:
        fail(exc.message, code=2)
    except CRMError as exc:
        fail(exc.message)


@click.group()
def webhooks() -> None:
    """Outgoing webhooks (signed event deliveries) and inbound webhook sources."""


@webhooks.command("add")
@click.argument("url")
@click.option("--events", required=True, help="Comma-separated names or patterns: 'contact.*'.")
@click.option("--secret", help="Signing secret (default: a new random one, printed once).")
@click.option("--description", default="")
@pass_ctx
def add(obj: CLIContext, url: str, events: str, secret: str | None, description: str) -> None:
    """Send events matching --events to URL, signed with HMAC-SHA256."""
    from crmcore.services.actor import SYSTEM
    from crmcore.services.webhooks import add_webhook

    hook = run_service(
        obj, lambda: add_webhook(url, events, SYSTEM, secret=secret, description=description)
    )
    click.echo(f"Webhook {hook['id']} sends {', '.join(hook['events'])} to {hook['url']}")
    click.echo(f"Secret: {hook['secret']}")
    click.echo("Keep the secret: it verifies the X-CRM-Signature header and is not shown again.")


@webhooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def list_(obj: CLIContext, as_json: bool) -> None:
    """Webhook subscriptions."""
    from crmcore.services.webhooks import list_webhooks

    hooks = run_service(obj, list_webhooks)
    if as_json:
        echo_json(hooks)
        return
    if not hooks:
        click.echo("No webhooks.")
    for hook in hooks:
        state = "" if hook["active"] else "  (inactive)"
        click.echo(f"{hook['id']:>4}  {hook['url']}  {', '.join(hook['events'])}{state}")


@webhooks.command()
@click.argument("webhook_id", type=int)
@pass_ctx
def remove(obj: CLIContext, webhook_id: int) -> None:
    """Remove a webhook and its delivery log."""
    from crmcore.services.actor import SYSTEM
    from crmcore.services.webhooks import remove_webhook

    run_service(obj, lambda: remove_webhook(webhook_id, SYSTEM))
    click.echo(f"Removed webhook {webhook_id}.")


@webhooks.command()
@click.option("--webhook", "webhook_id", type=int, help="Only this webhook's deliveries.")
@click.option("--limit", default=20, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def deliveries(obj: CLIContext, webhook_id: int | None, limit: int, as_json: bool) -> None:
    """Recent deliveries, each with its attempts."""
    from crmcore.services.webhooks import list_deliveries

    rows = run_service(obj, lambda: list_deliveries(webhook_id, limit=limit))
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['uid']}  webhook {row['webhook_id']}  {row['event']}  {row['status']}")
        for attempt in row["attempt_log"]:
            code = attempt["response_code"] or "-"
            click.echo(
                f"    #{attempt['attempt']} {attempt['at']:%Y-%m-%d %H:%M:%S}  {code}  "
                f"{attempt['duration_ms']} ms  {attempt['error']}"
            )


@webhooks.command("inbound-add")
@click.argument("source")
@click.option("--secret", help="Signing secret (default: a new random one, printed once).")
@pass_ctx
def inbound_add(obj: CLIContext, source: str, secret: str | None) -> None:
    """Let SOURCE post interactions to /api/v1/inbound/SOURCE, signed with its secret."""
    from crmcore.services.actor import SYSTEM
    from crmcore.services.inbound import add_inbound_source

    created = run_service(obj, lambda: add_inbound_source(source, SYSTEM, secret=secret))
    click.echo(f"Inbound source {created['name']}: POST /api/v1/inbound/{created['name']}")
    click.echo(f"Secret: {created['secret']}")


@webhooks.command("inbound-list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def inbound_list(obj: CLIContext, as_json: bool) -> None:
    """Inbound webhook sources."""
    from crmcore.services.inbound import list_inbound_sources

    sources = run_service(obj, list_inbound_sources)
    if as_json:
        echo_json(sources)
        return
    if not sources:
        click.echo("No inbound sources.")
    for source in sources:
        click.echo(f"{source['name']}  /api/v1/inbound/{source['name']}")


@webhooks.command("inbound-remove")
@click.argument("source")
@pass_ctx
def inbound_remove(obj: CLIContext, source: str) -> None:
    """Stop accepting posts from SOURCE."""
    from crmcore.services.actor import SYSTEM
    from crmcore.services.inbound import remove_inbound_source

    run_service(obj, lambda: remove_inbound_source(source, SYSTEM))
    click.echo(f"Removed inbound source {source}.")
