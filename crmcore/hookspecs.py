"""The contract between the core and its plugins: every hook, one function each.

Rules (see docs/plugin_hooks.md and docs/compatibility.md):

* hooks only ever gain arguments; an implementation may accept any subset of them;
* implementations never give their arguments default values (pluggy ignores them);
* a hook whose name ends in an event (``contact_saved``, ``interaction_logged``…) is called
  after the transaction committed; an exception there is logged with the plugin's name and
  never undoes the change;
* any implementation may be ``async def``: the core awaits what it returns.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT_NAME = "crm"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --------------------------------------------------------------------------- set-up


@hookspec
def register_hookspecs() -> list[object]:
    """Return modules or classes holding hook specs that *other* plugins may implement.

    Called once, right after every plugin has been registered, so a plugin's own specs are
    known before any hook is called.
    """


@hookspec
def register_piccolo_apps() -> list[str]:
    """Return dotted paths of the plugin's ``piccolo_app`` modules (usually one).

    The core migrates them after its own app, in plugin dependency order.
    """


@hookspec
def register_permissions() -> list[Any]:
    """Return :class:`crmcore.permissions.Permission` objects this plugin defines.

    Permission names are ``<plugin>.<action>`` (``hr.view_compensation``). A permission may
    carry ``restricts=[("hr_employee", "salary"), …]``: fields that readers without the
    permission never receive, in any API response, page, export, search or audit entry.
    """


@hookspec
def register_jobs() -> list[Any]:
    """Return :class:`crmcore.jobs.Job` definitions (name, async function, retry policy,
    optional schedule) that the job runner may execute."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands or groups to the ``crm`` command line (``cli`` is the root group)."""


@hookspec
def startup(app: Any) -> Any:
    """Called when the web app starts (after the database is open); may be async."""


@hookspec
def shutdown(app: Any) -> Any:
    """Called when the web app stops, before the database closes; may be async."""


# --------------------------------------------------------------------------- web


@hookspec
def register_routes() -> list[Any]:
    """Return Litestar route handlers, controllers or routers for HTML pages.

    A plugin's handlers are mounted under ``/<plugin>/``; the core's at the root.
    Every route requires login unless its handler sets ``opt={"public": True}``.
    """


@hookspec
def register_api_routes() -> list[Any]:
    """Return Litestar handlers, controllers or routers for the REST API.

    A plugin's handlers are mounted under ``/api/v1/<plugin>/``; the core's under ``/api/v1``.
    """


@hookspec
def menu_links(request: Any) -> list[Any]:
    """Return :class:`crmcore.web.hooks.MenuLink` items for the top navigation."""


@hookspec
def contact_panels(request: Any, contact: Any) -> list[Any]:
    """Return :class:`crmcore.web.hooks.Panel` items shown on a contact's page; may be async."""


@hookspec
def dashboard_cards(request: Any) -> list[Any]:
    """Return :class:`crmcore.web.hooks.Card` items for the dashboard; may be async."""


@hookspec
def extra_template_vars(request: Any, template: str) -> dict[str, Any]:
    """Return extra variables for every page template rendered; may be async."""


@hookspec
def template_dirs() -> list[str]:
    """Return folders holding this plugin's templates (namespaced ``<plugin>/…``)."""


@hookspec
def locale_dirs() -> list[str]:
    """Return folders with ``<lang>/LC_MESSAGES/messages.po`` catalogs for this plugin."""


# --------------------------------------------------------------------------- data


@hookspec
def validate_contact(data: dict[str, Any], existing: Any) -> Any:
    """Check a contact about to be written; raise :class:`crmcore.errors.ValidationError`
    to reject it with a message (the API answers 422, nothing is stored).

    ``existing`` is the stored contact for an update, ``None`` for a create. May be async.
    """


@hookspec
def contact_saved(contact: Any, created: bool, changes: dict[str, Any], actor: Any) -> Any:
    """After commit: a contact was created (``created``) or updated (``changes`` maps field
    to ``(before, after)``). May be async."""


@hookspec
def contact_deleted(contact: Any, actor: Any) -> Any:
    """After commit: a contact was deleted. May be async."""


@hookspec
def company_saved(company: Any, created: bool, changes: dict[str, Any], actor: Any) -> Any:
    """After commit: a company was created or updated. May be async."""


@hookspec
def interaction_logged(interaction: Any, actor: Any) -> Any:
    """After commit: an interaction (or a planned task) was recorded. May be async."""


@hookspec
def task_completed(interaction: Any, actor: Any) -> Any:
    """After commit: a planned interaction was marked done. May be async."""


@hookspec
def demo_data_created(contact_ids: list[int], company_ids: list[int], actor: Any) -> Any:
    """After commit: ``crm demo`` (or ``crm init --demo``) wrote ``contact_ids`` and
    ``company_ids`` in bulk, without the per-record ``contact_saved``/``company_saved``
    hooks. Add this plugin's own data for them here (geo locates them from their addresses).
    Called once per demo, with every new id. May be async; an exception is logged and keeps
    the demo data.
    """


@hookspec
def contact_merged(survivor_id: int, merged_id: int, actor: Any) -> Any:
    """Inside the merge transaction: re-point this plugin's rows from ``merged_id`` to
    ``survivor_id``. An exception aborts the whole merge. May be async."""


@hookspec
def timeline_entries(contact_id: int, limit: int) -> list[Any]:
    """Return :class:`crmcore.services.timeline.TimelineEntry` items for a contact's
    timeline (newest first, at most ``limit``); the core merges them. May be async."""


@hookspec
def event_types() -> list[str]:
    """Return the names of outbox events this plugin emits (``geo.geofence_entered``), so
    webhook subscriptions and automation triggers can offer them."""


@hookspec
def event_emitted(event: str, payload: dict[str, Any]) -> Any:
    """After commit: an outbox event was recorded (any core or plugin event). May be async."""


# --------------------------------------------------------------------------- search & segments


@hookspec
def register_contact_filters() -> list[Any]:
    """Return :class:`crmcore.services.filters.ContactFilter` objects: named filters that
    compile to SQL over contacts (``geo.within``), used by the contacts API, the UI,
    automation rules and marketing segments."""


@hookspec
def register_automation_actions() -> list[Any]:
    """Return :class:`crmcore.services.automation.Action` objects automation rules may run."""


# --------------------------------------------------------------------------- privacy


@hookspec
def export_contact_data(contact_id: int, actor: Any) -> dict[str, Any]:
    """Return everything this plugin stores about the contact, as JSON-able data keyed by
    the plugin's own section names. May be async.

    ``actor`` is who asked for the export (:class:`crmcore.services.actor.Actor`; the
    system actor for ``crm privacy export``). Leave out what they may not read: fields the
    plugin restricts through ``register_permissions`` (``crmcore.permissions.redact``
    drops them from a row).

    .. versionchanged:: 0.1.1
       ``actor`` added. Implementations that do not take it keep working, but export
       restricted fields to anyone allowed to export a person's data.
    """


@hookspec
def erase_contact_data(contact_id: int) -> Any:
    """Delete or anonymise everything this plugin stores about the contact. Called inside
    the erasure transaction, before the core erases the contact. May be async."""
