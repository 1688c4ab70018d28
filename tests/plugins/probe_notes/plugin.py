"""Hook implementations of the test plugin ``probe_notes``: a table, a page, a command, and
the app's startup and shutdown, recorded so tests can see when each hook ran."""

from __future__ import annotations

from typing import Any

import click
from litestar import get
from litestar.response import Template

from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest

manifest = Manifest(name="probe_notes", version="1.0", core=">=0.1")

# (hook, what it saw), appended in call order.
calls: list[tuple[str, Any]] = []


@hookimpl
def register_piccolo_apps() -> list[str]:
    return ["probe_notes.piccolo_app"]


@get("/", name="probe_notes:index")
async def index() -> Template:
    return Template(template_name="probe_notes/index.html")


@hookimpl
def register_routes() -> list[Any]:
    return [index]


@hookimpl
def extra_template_vars(request: Any, template: str) -> dict[str, Any]:
    calls.append(("extra_template_vars", template))
    return {"probe_banner": f"rendered {template} for {request.url.path}"}


@click.group(name="probe")
def probe() -> None:
    """The test plugin's commands."""


@probe.command("add")
@click.argument("text")
def add(text: str) -> None:
    """Store a probe note and print how many there are."""
    from crmcore.cli.context import CLIContext

    obj = click.get_current_context().find_object(CLIContext)

    async def go(_db: Any) -> int:
        from probe_notes.tables import ProbeNote

        await ProbeNote.insert(ProbeNote(text=text))
        return await ProbeNote.count()

    click.echo(f"{obj.run(go)} probe note(s)")


@hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command(probe)


@hookimpl
async def startup(app: Any) -> None:
    from probe_notes.tables import ProbeNote

    calls.append(("startup", await ProbeNote.count()))


@hookimpl
async def shutdown(app: Any) -> None:
    from probe_notes.tables import ProbeNote

    calls.append(("shutdown", await ProbeNote.count()))
