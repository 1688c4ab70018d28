"""``crm plugins new NAME``: start a plugin distribution from the scaffold templates.

No prompts: the name and the options say everything, so scripts and tests can run it.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder in which the plugin folder NAME/ is created.",
)
@click.option("--no-table", is_flag=True, help="No table, migration or privacy hooks.")
@click.option("--no-page", is_flag=True, help="No page or menu link.")
@click.option("--no-api", is_flag=True, help="No REST API route.")
@click.option("--no-panel", is_flag=True, help="No panel on the contact page.")
@click.option("--no-command", is_flag=True, help="No `crm NAME` command group.")
def new(
    name: str,
    parent: Path,
    no_table: bool,
    no_page: bool,
    no_api: bool,
    no_panel: bool,
    no_command: bool,
) -> None:
    """Create a new plugin NAME (lower case, digits, underscores) in --dir.

    The result is an installable distribution (crm-NAME) with a manifest, hook
    implementations, a table and its first migration, a page, an API route, a contact panel,
    a command, a README and passing tests; leave parts out with the --no-* options.
    """
    from crmcore.scaffold import FEATURES, PluginSpec, ScaffoldError, check_available, render_plugin

    left_out = {
        "table": no_table,
        "page": no_page,
        "api": no_api,
        "panel": no_panel,
        "command": no_command,
    }
    spec = PluginSpec(name, frozenset(f for f in FEATURES if not left_out[f]))
    parent = parent.resolve()
    try:
        check_available(name, parent)
        target = render_plugin(spec, parent)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created plugin {name!r} in {target}")
    click.echo("Next:")
    click.echo(f"  pip install -e {target}")
    if "table" in spec.features:
        click.echo("  crm db migrate")
    click.echo(f"  python -m pytest {target}")
