"""``crm tokens create|list|revoke``: API tokens for ``Authorization: Bearer``.

``create`` prints only the token on standard output, so scripts can capture it
(``TOKEN=$(crm tokens create --user me@example.com)``); it is never shown again.
"""

from __future__ import annotations

from typing import Any

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx
from crmcore.cli.users import cli_actor, run_service


@click.group()
def tokens() -> None:
    """API tokens (only their hashes are stored)."""


@tokens.command()
@click.option("--user", "email", required=True, help="Email of the user the token acts as.")
@click.option("--name", default="", help="What the token is for.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="Limit the token to this permission (repeatable; patterns like contacts.* allowed).",
)
@click.option("--expires", help="A duration (30d, 12h, 2w) or an ISO date; default: never.")
@pass_ctx
def create(
    obj: CLIContext, email: str, name: str, scopes: tuple[str, ...], expires: str | None
) -> None:
    """Create a token and print it (only the token, on standard output)."""
    from crmcore.services.tokens import create_token, parse_expiry
    from crmcore.services.users import get_user_by_email

    async def go() -> str:
        user = await get_user_by_email(email)
        expires_at = parse_expiry(expires) if expires else None
        return await create_token(
            user_id=user["id"], name=name, scopes=scopes, expires_at=expires_at, actor=cli_actor()
        )

    click.echo(run_service(obj, go))


@tokens.command("list")
@click.option("--user", "email", help="Only this user's tokens.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def list_(obj: CLIContext, email: str | None, as_json: bool) -> None:
    """Tokens with owner, prefix, scopes and last use (never the secret)."""
    from crmcore.services.tokens import list_tokens
    from crmcore.services.users import get_user_by_email

    async def go() -> list[dict[str, Any]]:
        user_id = (await get_user_by_email(email))["id"] if email else None
        return await list_tokens(user_id)

    rows = run_service(obj, go)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        state = "revoked" if row["revoked_at"] else "active"
        used = row["last_used_at"].isoformat(timespec="seconds") if row["last_used_at"] else "never"
        scopes = ",".join(row["scopes"]) or "role"
        click.echo(
            f"{row['id']:>5}  {row['prefix']}…  {row['user_email']:<32} {state:<8} "
            f"scopes={scopes}  last used {used}  {row['name']}"
        )


@tokens.command()
@click.argument("token_id", type=int)
@pass_ctx
def revoke(obj: CLIContext, token_id: int) -> None:
    """Revoke a token at once (its id from `crm tokens list`)."""
    from crmcore.services.tokens import revoke_token

    row = run_service(obj, lambda: revoke_token(token_id, actor=cli_actor()))
    click.echo(f"Revoked token {row['id']} ({row['prefix']}…) of {row['user_email']}.")
