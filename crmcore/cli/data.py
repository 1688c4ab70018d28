"""``crm contacts import|export|dedupe|merge`` and ``crm imports list|show|revert``.

The ``contacts`` group here is merged into the core's ``crm contacts`` (see
``crmcore.cli.main.PluginCommands``). Commands act as ``--as EMAIL`` or the system, and call
the same services as the API and the import page. Only click is imported at module level.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx
from crmcore.cli.interactions import as_user_option, cli_actor, service_error

MODES = ("create", "update", "upsert")
KEYS = ("email", "phone", "external_id")
FORMATS = ("csv", "jsonl", "xlsx")
EXIT_NOTHING_IMPORTED = 1
EXIT_INVALID = 2
SHOWN_ERRORS = 20


@click.group("contacts")
def contacts() -> None:
    """Import, export, find duplicates and merge contacts."""


@click.group("imports")
def imports() -> None:
    """Imports: list them, show one, revert what one created."""


def _number(value: int) -> str:
    return f"{value:,}"


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ProgressBar:
    """A one-line progress bar on stderr: percentage, rows, rows/s and ETA."""

    width = 24

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()
        self.first_rows: int | None = None
        self.first_fraction: float | None = None
        self.drawn = False

    def __call__(self, progress: Any) -> None:
        if not self.enabled:
            return
        if self.first_rows is None:
            # A resumed import starts part-way: rates count this run's rows only.
            self.first_rows = progress.rows
            self.first_fraction = progress.fraction or 0.0
            self.started = time.monotonic()
            self.base_rows = progress.rows
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = (progress.rows - self.base_rows) / elapsed if elapsed > 0.05 else 0.0
        fraction = progress.fraction
        eta = "--:--:--"
        if fraction is not None and self.first_fraction is not None:
            done = fraction - self.first_fraction
            if done > 0 and elapsed > 0.5:
                eta = _duration(elapsed * (1.0 - fraction) / done)
        bar = ""
        if fraction is not None:
            filled = int(self.width * fraction)
            bar = f"[{'#' * filled}{'-' * (self.width - filled)}] {fraction * 100:3.0f}%  "
        line = (
            f"\r{bar}{_number(progress.rows)} rows  {_number(int(rate))} rows/s  ETA {eta}  "
            f"created {_number(progress.created)}, updated {_number(progress.updated)}, "
            f"failed {_number(progress.failed)} "
        )
        click.echo(line, nl=False, err=True)
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            click.echo("", err=True)


def _summary(result: Any) -> None:
    verb = "would be" if result.dry_run else "were"
    head = f"Dry run of {result.file_name}" if result.dry_run else f"Import {result.import_id}"
    click.echo(
        f"{head}: {_number(result.rows)} rows; {_number(result.created)} {verb} created, "
        f"{_number(result.updated)} {verb} updated, {_number(result.skipped)} skipped, "
        f"{_number(result.failed)} rejected."
    )
    if result.resumed_from:
        click.echo(f"Resumed after row {_number(result.resumed_from)} of an interrupted run.")
    if result.duplicates:
        click.echo(
            f"{_number(result.duplicates)} rows look like existing contacts "
            "(see `crm contacts dedupe --dry-run`)."
        )
    if result.unmapped:
        click.echo("Columns not imported: " + ", ".join(result.unmapped))
    if result.dry_run:
        click.echo("Nothing was saved (dry run).")
    _print_errors(result)


def _print_errors(result: Any, err: bool = False) -> None:
    for error in result.errors[:SHOWN_ERRORS]:
        click.echo(f"  row {error['row']}: {error['reason']}", err=err)
    if result.error_report:
        more = result.failed + result.skipped - len(result.errors[:SHOWN_ERRORS])
        tail = f" ({_number(more)} more there)" if more > 0 else ""
        click.echo(f"Error report: {result.error_report}{tail}", err=err)


@contacts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--mode", type=click.Choice(MODES), help="create (default), update or upsert.")
@click.option(
    "--update-by",
    "key",
    type=click.Choice(KEYS),
    help="Find existing contacts by this field (implies --mode upsert unless given).",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="COLUMN=FIELD",
    help="Map a column to a field, e.g. --map 'ایمیل=email' or 'Notes=-' to skip it.",
)
@click.option("--dry-run", is_flag=True, help="Check every row and report; save nothing.")
@click.option("--error-report", type=click.Path(dir_okay=False), help="Where to write rejects.")
@click.option("--batch-size", type=click.IntRange(1, 5000), default=1000, show_default=True)
@click.option("--again", is_flag=True, help="Import a file that was already imported once more.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a tty).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@as_user_option
@pass_ctx
def import_contacts(
    obj: CLIContext,
    file: str,
    mode: str | None,
    key: str | None,
    maps: tuple[str, ...],
    dry_run: bool,
    error_report: str | None,
    batch_size: int,
    again: bool,
    progress: bool | None,
    as_json: bool,
    as_user: str | None,
) -> None:
    """Import contacts from FILE (CSV in any delimiter/encoding, or XLSX).

    Columns named first_name, last_name, email, phone, company (or their Persian names,
    such as ایمیل or نام خانوادگی) need no mapping. Re-running the same file continues an
    interrupted import. Exits 0 when the file was processed (even if some rows were
    rejected: they are in the error report) and 1 when nothing could be imported.
    """
    from crmcore.errors import CRMError, ValidationError
    from crmcore.services.import_sources import parse_map_options
    from crmcore.services.imports import NothingImported, run_import

    mode = mode or ("upsert" if key else "create")
    key = key or "email"
    bar = ProgressBar(sys.stderr.isatty() if progress is None else progress)

    async def go(_database: Any) -> Any:
        return await run_import(
            file,
            actor=await cli_actor(as_user),
            mode=mode,
            key=key,
            mapping=parse_map_options(maps),
            dry_run=dry_run,
            progress=bar,
            batch_size=batch_size,
            error_report=error_report,
            again=again,
        )

    try:
        result = obj.run(go)
    except NothingImported as exc:
        bar.close()
        click.echo(f"Error: nothing was imported: {exc.message}", err=True)
        if exc.result is not None:
            _print_errors(exc.result, err=True)
        sys.exit(EXIT_NOTHING_IMPORTED)
    except ValidationError as exc:
        bar.close()
        click.echo(f"Error: {service_error(exc).message}", err=True)
        sys.exit(EXIT_INVALID)
    except CRMError as exc:
        bar.close()
        raise service_error(exc) from exc
    bar.close()
    if as_json:
        echo_json(result.as_dict())
    elif result.status == "already_imported":
        click.echo(result.message)
    else:
        _summary(result)


@contacts.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File (default: stdout).")
@click.option(
    "--entity",
    type=click.Choice(("contacts", "companies", "interactions")),
    default="contacts",
    show_default=True,
)
@click.option("--stage", help="Only contacts in this stage.")
@click.option("--tag", help="Only contacts with this tag.")
@click.option("--q", "query", help="Only contacts matching this search.")
@click.option("--owner", type=int, help="Only contacts owned by this user id.")
@click.option("--company", type=int, help="Only contacts of this company id.")
@as_user_option
@pass_ctx
def export_contacts(
    obj: CLIContext,
    fmt: str,
    output: str | None,
    entity: str,
    stage: str | None,
    tag: str | None,
    query: str | None,
    owner: int | None,
    company: int | None,
    as_user: str | None,
) -> None:
    """Export contacts (or companies, interactions) as CSV, JSON Lines or XLSX, streamed.

    Fields the acting user may not see are left out.
    """
    from crmcore.errors import CRMError
    from crmcore.services.exports import (
        ExportFilters,
        export_to_file,
        plan_export,
        stream_text,
    )

    if fmt == "xlsx" and not output:
        raise click.UsageError("XLSX needs a file: add -o contacts.xlsx")
    filters = ExportFilters(q=query, stage=stage, tag=tag, owner=owner, company=company)

    async def go(_database: Any) -> int:
        actor = await cli_actor(as_user)
        if output:
            return await export_to_file(entity, fmt, output, actor, filters)
        export = await plan_export(entity, actor, filters)
        stream = sys.stdout.buffer
        async for chunk in stream_text(export, fmt):
            stream.write(chunk)
        stream.flush()
        return export.rows

    try:
        count = obj.run(go)
    except CRMError as exc:
        raise service_error(exc) from exc
    if output:
        click.echo(f"Exported {_number(count)} {entity} to {output}.", err=True)


@contacts.command("dedupe")
@click.option("--dry-run", is_flag=True, help="Only list candidate pairs; merge nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", type=click.IntRange(1, 100000), default=500, show_default=True)
@click.option("--min-score", type=click.IntRange(50, 100), default=90, show_default=True)
@click.option("--yes", is_flag=True, help="Merge without asking.")
@as_user_option
@pass_ctx
def dedupe(
    obj: CLIContext,
    dry_run: bool,
    as_json: bool,
    limit: int,
    min_score: int,
    yes: bool,
    as_user: str | None,
) -> None:
    """Find likely duplicate contacts (same email or phone; similar names at one company).

    Without --dry-run, pairs sharing an email or phone are merged, the older contact
    surviving; pairs that only have similar names are listed for a person to decide.
    """
    from crmcore.errors import CRMError
    from crmcore.services.duplicates import find_duplicate_pairs
    from crmcore.services.merge import merge_contacts

    async def find(_database: Any) -> list[Any]:
        await cli_actor(as_user)
        return await find_duplicate_pairs(limit=limit, min_score=min_score)

    try:
        pairs = obj.run(find)
    except CRMError as exc:
        raise service_error(exc) from exc
    exact = [p for p in pairs if p.exact]
    if dry_run or not exact:
        if as_json:
            echo_json([p.as_dict() for p in pairs])
        else:
            _pairs_table(pairs)
        return
    if not as_json:
        _pairs_table(pairs)
    if not yes and not click.confirm(
        f"Merge {len(exact)} pairs sharing an email or phone (the older contact survives)?"
    ):
        raise click.Abort()

    async def merge_all(_database: Any) -> list[dict[str, Any]]:
        actor = await cli_actor(as_user)
        into: dict[int, int] = {}

        def root(contact_id: int) -> int:
            while contact_id in into:
                contact_id = into[contact_id]
            return contact_id

        done = []
        for pair in exact:
            survivor, merged = sorted((root(pair.contact_id), root(pair.other_id)))
            if survivor == merged:
                continue
            await merge_contacts(survivor, merged, actor)
            into[merged] = survivor
            done.append({"survivor_id": survivor, "merged_id": merged})
        return done

    try:
        merges = obj.run(merge_all)
    except CRMError as exc:
        raise service_error(exc) from exc
    if as_json:
        echo_json({"pairs": [p.as_dict() for p in pairs], "merged": merges})
    else:
        click.echo(f"Merged {len(merges)} duplicate contacts.")


def _pairs_table(pairs: list[Any]) -> None:
    if not pairs:
        click.echo("No likely duplicates.")
        return
    click.echo(f"{'CONTACT':>8}  {'OTHER':>8}  SCORE  WHY")
    for pair in pairs:
        click.echo(
            f"{pair.contact_id:>8}  {pair.other_id:>8}  {pair.score:>5}  " + "; ".join(pair.reasons)
        )


@contacts.command("merge")
@click.argument("survivor", type=int)
@click.argument("merged", type=int)
@click.option(
    "--field",
    "choices",
    multiple=True,
    metavar="FIELD=survivor|merged",
    help="Whose value to keep, e.g. --field email=merged (default: the survivor's).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the surviving contact as JSON.")
@as_user_option
@pass_ctx
def merge(
    obj: CLIContext,
    survivor: int,
    merged: int,
    choices: tuple[str, ...],
    as_json: bool,
    as_user: str | None,
) -> None:
    """Merge contact MERGED into SURVIVOR: interactions, tasks, tags, emails, phones and
    every plugin's data move to SURVIVOR, then MERGED is deleted."""
    from crmcore.errors import CRMError, ValidationError
    from crmcore.services.merge import merge_contacts

    fields: dict[str, str] = {}
    for item in choices:
        name, sep, side = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: write FIELD=survivor or FIELD=merged")
        fields[name.strip()] = side.strip()

    async def go(_database: Any) -> dict[str, Any]:
        return await merge_contacts(survivor, merged, await cli_actor(as_user), fields)

    try:
        contact = obj.run(go)
    except ValidationError as exc:
        click.echo(f"Error: {service_error(exc).message}", err=True)
        sys.exit(EXIT_INVALID)
    except CRMError as exc:
        raise service_error(exc) from exc
    if as_json:
        echo_json(contact)
    else:
        click.echo(f"Merged contact {merged} into {survivor} ({contact.get('name', '')}).")


@imports.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@as_user_option
@pass_ctx
def list_imports_command(obj: CLIContext, as_json: bool, limit: int, as_user: str | None) -> None:
    """Imports, newest first."""
    from crmcore.services.imports import list_imports

    async def go(_database: Any) -> list[dict[str, Any]]:
        return await list_imports(await cli_actor(as_user), limit=limit)

    records = obj.run(go)
    if as_json:
        echo_json(records)
        return
    if not records:
        click.echo("No imports yet.")
        return
    click.echo(
        f"{'ID':>5}  {'STATUS':<10} {'MODE':<7} {'ROWS':>9} {'CREATED':>9} {'FAILED':>7}  FILE"
    )
    for r in records:
        mode = r["mode"] + ("*" if r["dry_run"] else "")
        click.echo(
            f"{r['id']:>5}  {r['status']:<10} {mode:<7} {r['position']:>9,} {r['created']:>9,} "
            f"{r['failed']:>7,}  {r['file_name']}"
        )


@imports.command("show")
@click.argument("import_id", type=int)
@click.option("--errors", "show_errors", is_flag=True, help="Also list the rejected rows.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@as_user_option
@pass_ctx
def show_import(
    obj: CLIContext, import_id: int, show_errors: bool, as_json: bool, as_user: str | None
) -> None:
    """One import: its options, progress and counts."""
    from crmcore.errors import CRMError
    from crmcore.services.imports import get_import, import_errors

    async def go(_database: Any) -> dict[str, Any]:
        record = await get_import(import_id, await cli_actor(as_user))
        if show_errors:
            record["errors"] = [
                {"row": e["row"], "reason": e["reason"]} for e in await import_errors(import_id)
            ]
        return record

    try:
        record = obj.run(go)
    except CRMError as exc:
        raise service_error(exc) from exc
    if as_json:
        echo_json(record)
        return
    for name in (
        "id",
        "status",
        "file_name",
        "file_hash",
        "mode",
        "key",
        "dry_run",
        "actor_label",
        "created_at",
        "finished_at",
        "position",
        "created",
        "updated",
        "skipped",
        "failed",
        "duplicate_count",
        "error_report_path",
        "message",
    ):
        click.echo(f"{name:>17}: {record.get(name)}")
    for error in record.get("errors", []):
        click.echo(f"  row {error['row']}: {error['reason']}")


@imports.command("revert")
@click.argument("import_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@as_user_option
@pass_ctx
def revert(obj: CLIContext, import_id: int, yes: bool, as_user: str | None) -> None:
    """Delete the contacts import IMPORT_ID created (contacts it updated are kept)."""
    from crmcore.errors import CRMError
    from crmcore.services.imports import revert_import

    if not yes and not click.confirm(f"Delete every contact import {import_id} created?"):
        raise click.Abort()

    async def go(_database: Any) -> dict[str, Any]:
        return await revert_import(import_id, await cli_actor(as_user))

    try:
        outcome = obj.run(go)
    except CRMError as exc:
        raise service_error(exc) from exc
    click.echo(f"Import {import_id} reverted: {outcome['deleted']:,} contacts deleted.")
