"""``crm roles create|list|permissions``."""

from __future__ import annotations

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx
from crmcore.cli.users import cli_actor, run_service


@click.group()
def roles() -> None:
    """Roles: named sets of permissions with a record scope."""


@roles.command()
@click.argument("name")
@click.option(
    "--permission",
    "permissions",
    multiple=True,
    required=True,
    help="A permission or pattern (contacts.read, contacts.*, *.read); repeatable.",
)
@click.option(
    "--scope",
    "record_scope",
    type=click.Choice(["own", "all"]),
    default="all",
    show_default=True,
    help="own: only records the user owns or is assigned.",
)
@click.option("--description", default="")
@pass_ctx
def create(
    obj: CLIContext, name: str, permissions: tuple[str, ...], record_scope: str, description: str
) -> None:
    """Create a custom role."""
    from crmcore.services.roles import create_role

    role = run_service(
        obj,
        lambda: create_role(
            name=name,
            permissions=permissions,
            record_scope=record_scope,
            description=description,
            actor=cli_actor(),
        ),
    )
    click.echo(f"Created role {role['name']}: {', '.join(role['permissions'])} ({record_scope}).")


@roles.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def list_(obj: CLIContext, as_json: bool) -> None:
    """Every role with its permissions and record scope."""
    from crmcore.services.roles import list_roles

    rows = run_service(obj, list_roles)
    if as_json:
        echo_json(rows)
        return
    for role in rows:
        kind = "built-in" if role["builtin"] else "custom"
        click.echo(
            f"{role['name']:<16} {kind:<8} scope={role['record_scope']:<4} "
            f"{', '.join(role['permissions'])}"
        )


@roles.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def permissions(obj: CLIContext, as_json: bool) -> None:
    """Every permission the core and the enabled plugins define."""
    from crmcore.permissions import load_permissions

    known = sorted(load_permissions(obj.pm).values(), key=lambda p: p.name)
    if as_json:
        echo_json(
            [
                {"name": p.name, "description": p.description, "restricts": p.restricts}
                for p in known
            ]
        )
        return
    for permission in known:
        restricted = ", ".join(f"{t}.{c}" for t, c in permission.restricts)
        suffix = f"  (restricts {restricted})" if restricted else ""
        click.echo(f"{permission.name:<28} {permission.description}{suffix}")
