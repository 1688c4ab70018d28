"""Built-in plugin `data`: import, export, duplicate detection and merge."""

from __future__ import annotations

from typing import Any

from crmcore import __version__
from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest

manifest = Manifest(
    name="data",
    version=__version__,
    description="Import, export, duplicate detection and merge",
    depends=("core",),
)


@hookimpl
def register_piccolo_apps() -> list[str]:
    return ["crmcore.data_app.piccolo_app"]


@hookimpl
def register_commands(cli: Any) -> None:
    # A group named "contacts": the CLI merges its subcommands into the core's group.
    from crmcore.cli.data import contacts, imports

    cli.add_command(contacts)
    cli.add_command(imports)


@hookimpl
def event_types() -> list[str]:
    return ["import.completed", "import.reverted", "contact.merged"]


@hookimpl
def register_api_routes() -> list[Any]:
    from crmcore.api.duplicates import DuplicateController
    from crmcore.api.exports import export_records
    from crmcore.api.imports import ImportController

    return [ImportController, export_records, DuplicateController]


@hookimpl
def register_jobs() -> list[Any]:
    from crmcore.jobs import Job
    from crmcore.services.imports import import_job

    # A retry resumes the import where the failed attempt stopped, so retrying is safe.
    return [Job("data.import", import_job, retries=5, backoff_s=30, timeout_s=24 * 3600)]


@hookimpl
def register_routes() -> list[Any]:
    from crmcore.web.views.duplicates import duplicates_router
    from crmcore.web.views.imports import import_router

    return [import_router(), duplicates_router()]
