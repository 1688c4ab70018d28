"""``crm interactions log``: record a touchpoint from the command line.

Commands act as the user named by ``--as EMAIL`` (or ``$CRM_USER``), with that user's role
and record scope; without it they act as the system, like any admin task on the server.
"""

from __future__ import annotations

from typing import Any

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx

as_user_option = click.option(
    "--as",
    "as_user",
    envvar="CRM_USER",
    metavar="EMAIL",
    help="Act as this user (default: the system). Env: CRM_USER.",
)


async def cli_actor(as_user: str | None) -> Any:
    """The Actor a command runs as: the named active user, or the system."""
    from crmcore.auth.identity import actor_for_user
    from crmcore.services.actor import SYSTEM
    from crmcore.services.users import get_user_by_email, load_user_for_request

    if not as_user:
        return SYSTEM
    user = await load_user_for_request((await get_user_by_email(as_user))["id"])
    if user is None:
        raise click.ClickException(f"user {as_user!r} is deactivated")
    return actor_for_user(user)


def service_error(exc: Exception) -> click.ClickException:
    """A service error as the CLI shows it: the message, then each field's problem."""
    message = getattr(exc, "message", str(exc))
    lines = [message]
    for name, problem in (getattr(exc, "errors", None) or {}).items():
        if f"{name}: {problem}" not in message:
            lines.append(f"  {name}: {problem}")
    return click.ClickException("\n".join(lines))


@click.group()
def interactions() -> None:
    """Touchpoints with contacts and companies: calls, emails, meetings, purchases…"""


@interactions.command("log")
@click.option("--contact", "contact_id", type=int, help="Contact id.")
@click.option("--company", "company_id", type=int, help="Company id (default: the contact's).")
@click.option(
    "--channel",
    required=True,
    help="email, phone, sms, web, social, meeting, chat, note, purchase or support.",
)
@click.option(
    "--direction", help="inbound, outbound or internal (default: outbound; internal for notes)."
)
@click.option("--subject", default="")
@click.option("--body", default="")
@click.option("--at", "occurred_at", help="When it happened, ISO 8601 (default: now).")
@click.option("--value", help="Amount, e.g. 1250000 (with --currency; required for purchases).")
@click.option("--currency", help="ISO 4217 code, e.g. IRR or USD.")
@click.option("--source", help="The system the interaction comes from (with --external-id).")
@click.option("--external-id", help="Its id in that system: logged once per source.")
@click.option("--json", "as_json", is_flag=True, help="Print the stored interaction as JSON.")
@as_user_option
@pass_ctx
def log_command(obj: CLIContext, as_json: bool, as_user: str | None, **fields: Any) -> None:
    """Record an interaction. Logging the same --source/--external-id twice stores it once
    and fails the second time."""
    from crmcore.errors import CRMError
    from crmcore.services.interactions import log_interaction

    data = {key: value for key, value in fields.items() if value not in (None, "")}

    async def go(_db: Any) -> dict[str, Any]:
        return await log_interaction(data, await cli_actor(as_user))

    try:
        item = obj.run(go)
    except CRMError as exc:
        raise service_error(exc) from exc
    if as_json:
        echo_json(item)
    else:
        click.echo(f"Logged interaction {item['id']} ({item['channel']}, {item['occurred_at']}).")
