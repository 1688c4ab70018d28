"""``crm users create|list|disable|enable|set-password|set-role``.

Whoever runs the CLI on the server acts as the system (audit rows name the OS user).
Passwords are given with ``--password`` or typed at a prompt; there is only a prompt when
the option is missing and standard input is a terminal, so scripts never hang.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx
from crmcore.services.actor import Actor

T = TypeVar("T")


def cli_actor() -> Actor:
    """The system actor, labelled with the OS user who ran the command."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor(user_id=None, label=f"cli:{who}", permissions=frozenset({"*"}), is_system=True)


def run_service(obj: CLIContext, fn: Callable[[], Awaitable[T]]) -> T:
    """Run a service call with the database open; its errors become clean CLI errors."""
    from crmcore.errors import CRMError

    async def call(_db: Any) -> T:
        return await fn()

    try:
        return obj.run(call)
    except CRMError as exc:
        raise click.ClickException(exc.message) from exc


def password_from(value: str | None) -> str:
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise click.UsageError("give --password (no prompt: standard input is not a terminal)")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group()
def users() -> None:
    """People who sign in to the CRM."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--password", help="Prompted for when omitted on a terminal.")
@click.option(
    "--role",
    default="viewer",
    show_default=True,
    help="admin, manager, agent, viewer or a custom role.",
)
@click.option("--name", default="")
@click.option("--language", default="en", show_default=True, type=click.Choice(["en", "fa"]))
@click.option("--timezone", default="UTC", show_default=True, help="IANA name, e.g. Asia/Tehran.")
@pass_ctx
def create(
    obj: CLIContext,
    email: str,
    password: str | None,
    role: str,
    name: str,
    language: str,
    timezone: str,
) -> None:
    """Create a user."""
    from crmcore.services.users import create_user

    secret = password_from(password)
    user = run_service(
        obj,
        lambda: create_user(
            email=email,
            password=secret,
            role=role,
            name=name,
            language=language,
            timezone=timezone,
            actor=cli_actor(),
        ),
    )
    click.echo(f"Created user {user['email']} (id {user['id']}, role {user['role']}).")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def list_(obj: CLIContext, as_json: bool) -> None:
    """Every user with role and state."""
    from crmcore.services.users import list_users

    rows = run_service(obj, list_users)
    if as_json:
        echo_json(rows)
        return
    for user in rows:
        state = "active" if user["active"] else "disabled"
        click.echo(
            f"{user['id']:>5}  {user['email']:<40} {user['role'] or '-':<10} {state:<8} "
            f"{user['language']}  {user['name']}"
        )


def _set_active(obj: CLIContext, email: str, active: bool) -> dict[str, Any]:
    from crmcore.services.users import get_user_by_email, update_user

    async def go() -> dict[str, Any]:
        user = await get_user_by_email(email)
        return await update_user(user["id"], active=active, actor=cli_actor())

    return run_service(obj, go)


@users.command()
@click.argument("email")
@pass_ctx
def disable(obj: CLIContext, email: str) -> None:
    """Stop a user from signing in; their sessions end and their API tokens stop working."""
    user = _set_active(obj, email, False)
    click.echo(f"Disabled {user['email']}.")


@users.command()
@click.argument("email")
@pass_ctx
def enable(obj: CLIContext, email: str) -> None:
    """Let a disabled user sign in again."""
    user = _set_active(obj, email, True)
    click.echo(f"Enabled {user['email']}.")


@users.command("set-password")
@click.argument("email")
@click.option("--password", help="Prompted for when omitted on a terminal.")
@pass_ctx
def set_password_cmd(obj: CLIContext, email: str, password: str | None) -> None:
    """Replace a user's password (their sessions end)."""
    from crmcore.services.users import get_user_by_email, set_password

    secret = password_from(password)

    async def go() -> None:
        user = await get_user_by_email(email)
        await set_password(user["id"], secret, actor=cli_actor())

    run_service(obj, go)
    click.echo(f"Password of {email} changed.")


@users.command("set-role")
@click.argument("email")
@click.argument("role")
@pass_ctx
def set_role(obj: CLIContext, email: str, role: str) -> None:
    """Give a user another role."""
    from crmcore.services.users import get_user_by_email, update_user

    async def go() -> dict[str, Any]:
        user = await get_user_by_email(email)
        return await update_user(user["id"], role=role, actor=cli_actor())

    user = run_service(obj, go)
    click.echo(f"{user['email']} now has the role {user['role']}.")
