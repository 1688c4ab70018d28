"""Named contact filters and the and/or/not trees built from them.

A filter compiles to a boolean SQL expression over the ``contact`` table, with Piccolo's
``{}`` placeholders and its arguments, so a whole tree becomes one WHERE clause the
database evaluates with its indexes: the contacts API, the pages, marketing segments and
automation rules all use the same definitions. Plugins add filters through the
``register_contact_filters`` hook (``geo.within``…).

A tree looks like::

    {"and": [{"filter": "stage", "value": "customer"},
             {"or": [{"filter": "tag", "value": "vip"},
                     {"not": {"filter": "has_email"}}]}]}
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from crmcore.errors import ValidationError
from crmcore.services.actor import Actor
from crmcore.services.filter_access import check_filter_node
from crmcore.services.records import now, parse_datetime
from crmcore.tables import CHANNELS, STAGES

__all__ = [
    "ContactFilter",
    "CORE_FILTERS",
    "compile_filter_tree",
    "registered_filters",
]

log = logging.getLogger("crmcore.filters")

MAX_DEPTH = 20
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class ContactFilter:
    """A named filter: ``params`` maps each parameter to a label for forms (optional ones
    say so), ``build(params, engine_type)`` returns ``(sql, args)`` over ``contact``.

    ``reads`` names the fields the filter compares, as ``table.field`` (``contact.city``;
    ``{param}`` is replaced by that parameter, as in ``contact.custom.{key}``): a reader
    who may not read one of them is refused the filter (``crmcore.services.filter_access``).
    """

    name: str
    label: str
    params: dict[str, str]
    build: Callable[[dict[str, Any], str], tuple[str, list[Any]]]
    reads: tuple[str, ...] = ()


# --------------------------------------------------------------------------- parameters


def _param(params: dict[str, Any], name: str, filter_name: str) -> str:
    value = params.get(name)
    if value is None or str(value).strip() == "":
        raise ValidationError.for_field(
            "filters", f"the filter {filter_name!r} needs a value for {name!r}."
        )
    return str(value).strip()


def _days(params: dict[str, Any], filter_name: str) -> int:
    text = _param(params, "days", filter_name)
    try:
        days = int(text)
    except ValueError:
        days = -1
    if not 0 <= days <= 36_500:
        raise ValidationError.for_field(
            "filters", f"the filter {filter_name!r} needs days as a whole number (0–36500)."
        )
    return days


def _channel(params: dict[str, Any], filter_name: str) -> str | None:
    channel = params.get("channel")
    if channel in (None, ""):
        return None
    if channel not in CHANNELS:
        raise ValidationError.for_field(
            "filters", f"{filter_name!r}: channel must be one of {', '.join(CHANNELS)}."
        )
    return str(channel)


def _text_alternatives(value: str) -> list[str]:
    """The value as typed plus its canonical JSON spelling (``5.0`` -> ``5``, ``True`` ->
    ``true``), because filters compare custom values without knowing the field's type."""
    canonical = value
    lowered = value.lower()
    if lowered in ("true", "false"):
        canonical = lowered
    else:
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            if number.is_integer() and abs(number) < 2**53:
                canonical = str(int(number))
            else:
                canonical = repr(number)
    return [value, canonical]


# --------------------------------------------------------------------------- builders


def _equals(column: str, fold_case: bool = False) -> Callable[..., tuple[str, list[Any]]]:
    def build(params: dict[str, Any], engine_type: str, name: str = "") -> tuple[str, list[Any]]:
        value = _param(params, "value", name or column)
        if fold_case:
            return f"lower(contact.{column}) = lower(CAST({{}} AS TEXT))", [value]
        return f"contact.{column} = {{}}", [value]

    return build


def _stage(params: dict[str, Any], engine_type: str) -> tuple[str, list[Any]]:
    value = _param(params, "value", "stage")
    if value not in STAGES:
        raise ValidationError.for_field("filters", f"stage must be one of {', '.join(STAGES)}.")
    return "contact.stage = {}", [value]


def _tag(params: dict[str, Any], engine_type: str) -> tuple[str, list[Any]]:
    return (
        "EXISTS (SELECT 1 FROM contact_tag JOIN tag ON tag.id = contact_tag.tag "
        "WHERE contact_tag.contact = contact.id AND lower(tag.name) = lower(CAST({} AS TEXT)))",
        [_param(params, "value", "tag")],
    )


def _owner(params: dict[str, Any], engine_type: str) -> tuple[str, list[Any]]:
    value = _param(params, "value", "owner")
    if value.lower() == "none":
        return "contact.owner IS NULL", []
    if not value.isdigit():
        raise ValidationError.for_field("filters", "owner must be a user id or 'none'.")
    return "contact.owner = {}", [int(value)]


def _company(params: dict[str, Any], engine_type: str) -> tuple[str, list[Any]]:
    value = _param(params, "value", "company")
    if value.isdigit():
        return "contact.company = {}", [int(value)]
    return (
        "contact.company IN (SELECT company.id FROM company "
        "WHERE lower(company.name) = lower(CAST({} AS TEXT)))",
        [value],
    )


def _country(params: dict[str, Any], engine_type: str) -> tuple[str, list[Any]]:
    return "contact.country = {}", [_param(params, "value", "country").upper()]


def _created(operator: str, name: str) -> Callable[[dict[str, Any], str], tuple[str, list[Any]]]:
    def build(params: dict[str, Any], engine_type: str) -> tuple[str, list[Any]]:
        moment = parse_datetime(_param(params, "value", name), "filters")
        return f"contact.created_at {operator} {{}}", [moment]

    return build


def _custom_key(params: dict[str, Any], name: str) -> str:
    key = _param(params, "key", name)
    if not _KEY_RE.match(key):
        raise ValidationError.for_field("filters", f"{name!r}: {key!r} is not a custom field key.")
    return key


def _custom_equals(params: dict[str, Any], engine_type: str) -> tuple[str, list[Any]]:
    key = _custom_key(params, "custom_equals")
    values = _text_alternatives(_param(params, "value", "custom_equals"))
    if engine_type == "sqlite":
        path = f'$."{key}"'
        return (
            "(CASE json_type(contact.custom, {}) "
            "WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each(contact.custom, {}) AS item "
            "WHERE CAST(item.value AS TEXT) IN ({}, {})) "
            "WHEN 'true' THEN 'true' IN ({}, {}) WHEN 'false' THEN 'false' IN ({}, {}) "
            "ELSE CAST(json_extract(contact.custom, {}) AS TEXT) IN ({}, {}) END)",
            [path, path, *values, *values, *values, path, *values],
        )
    return (
        "(CASE json_typeof(contact.custom -> CAST({} AS TEXT)) "
        "WHEN 'array' THEN EXISTS (SELECT 1 FROM "
        "json_array_elements_text(contact.custom -> CAST({} AS TEXT)) AS item(value) "
        "WHERE item.value IN ({}, {})) "
        "ELSE (contact.custom ->> CAST({} AS TEXT)) IN ({}, {}) END)",
        [key, key, *values, key, *values],
    )


def _custom_contains(params: dict[str, Any], engine_type: str) -> tuple[str, list[Any]]:
    key = _custom_key(params, "custom_contains")
    value = _param(params, "value", "custom_contains")
    if engine_type == "sqlite":
        path = f'$."{key}"'
        return (
            "(CASE json_type(contact.custom, {}) "
            "WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each(contact.custom, {}) AS item "
            "WHERE lower(CAST(item.value AS TEXT)) = lower({})) "
            "WHEN 'text' THEN instr(lower(json_extract(contact.custom, {})), lower({})) > 0 "
            "ELSE 0 END)",
            [path, path, value, path, value],
        )
    return (
        "(CASE json_typeof(contact.custom -> CAST({} AS TEXT)) "
        "WHEN 'array' THEN EXISTS (SELECT 1 FROM "
        "json_array_elements_text(contact.custom -> CAST({} AS TEXT)) AS item(value) "
        "WHERE lower(item.value) = lower(CAST({} AS TEXT))) "
        "WHEN 'string' THEN strpos(lower(contact.custom ->> CAST({} AS TEXT)), "
        "lower(CAST({} AS TEXT))) > 0 ELSE false END)",
        [key, key, value, key, value],
    )


def _interactions(params: dict[str, Any], name: str, channel: str | None) -> tuple[str, list[Any]]:
    """EXISTS over the contact's interactions that happened (logged, or tasks done) since
    ``days`` ago, optionally on one channel."""
    since = now() - timedelta(days=_days(params, name))
    sql = (
        "EXISTS (SELECT 1 FROM interaction WHERE interaction.contact = contact.id "
        "AND (interaction.status IS NULL OR interaction.status = 'done') "
        "AND interaction.occurred_at >= {}"
    )
    args: list[Any] = [since]
    if channel:
        sql += " AND interaction.channel = {}"
        args.append(channel)
    return sql + ")", args


def _interacted(params: dict[str, Any], engine_type: str) -> tuple[str, list[Any]]:
    name = "interacted_within_days"
    return _interactions(params, name, _channel(params, name))


def _purchased(params: dict[str, Any], engine_type: str) -> tuple[str, list[Any]]:
    return _interactions(params, "purchased_within_days", "purchase")


def _no_interaction(params: dict[str, Any], engine_type: str) -> tuple[str, list[Any]]:
    name = "no_interaction_within_days"
    sql, args = _interactions(params, name, _channel(params, name))
    return f"NOT {sql}", args


_VALUE = {"value": "Value"}
_DAYS_CHANNEL = {"days": "Days", "channel": "Channel (optional)"}
_INTERACTION_READS = ("interaction.occurred_at", "interaction.channel", "interaction.status")

CORE_FILTERS: tuple[ContactFilter, ...] = (
    ContactFilter("stage", "Lifecycle stage is", {"value": "Stage"}, _stage, ("contact.stage",)),
    ContactFilter("tag", "Has tag", {"value": "Tag"}, _tag, ("contact.tags",)),
    ContactFilter(
        "owner", "Owner is", {"value": "User id (or 'none')"}, _owner, ("contact.owner",)
    ),
    ContactFilter(
        "company", "Works at", {"value": "Company id or name"}, _company, ("contact.company",)
    ),
    ContactFilter(
        "city",
        "City is",
        {"value": "City"},
        lambda p, e: _equals("city", fold_case=True)(p, e, "city"),
        ("contact.city",),
    ),
    ContactFilter(
        "country", "Country is", {"value": "Country code"}, _country, ("contact.country",)
    ),
    ContactFilter(
        "source",
        "Source is",
        {"value": "Source"},
        lambda p, e: _equals("source", fold_case=True)(p, e, "source"),
        ("contact.source",),
    ),
    ContactFilter(
        "created_after",
        "Created on or after",
        {"value": "Date"},
        _created(">=", "created_after"),
        ("contact.created_at",),
    ),
    ContactFilter(
        "created_before",
        "Created before",
        {"value": "Date"},
        _created("<", "created_before"),
        ("contact.created_at",),
    ),
    ContactFilter(
        "custom_equals",
        "Custom field equals",
        {"key": "Field", "value": "Value"},
        _custom_equals,
        ("contact.custom.{key}",),
    ),
    ContactFilter(
        "custom_contains",
        "Custom field contains",
        {"key": "Field", "value": "Text or choice"},
        _custom_contains,
        ("contact.custom.{key}",),
    ),
    ContactFilter(
        "has_email",
        "Has an email address",
        {},
        lambda p, e: ("contact.email IS NOT NULL", []),
        ("contact.email",),
    ),
    ContactFilter(
        "has_phone",
        "Has a phone number",
        {},
        lambda p, e: ("contact.phone IS NOT NULL", []),
        ("contact.phone",),
    ),
    ContactFilter(
        "interacted_within_days",
        "Interacted within the last days",
        _DAYS_CHANNEL,
        _interacted,
        _INTERACTION_READS,
    ),
    ContactFilter(
        "purchased_within_days",
        "Purchased within the last days",
        {"days": "Days"},
        _purchased,
        _INTERACTION_READS,
    ),
    ContactFilter(
        "no_interaction_within_days",
        "No interaction within the last days",
        _DAYS_CHANNEL,
        _no_interaction,
        _INTERACTION_READS,
    ),
)


# --------------------------------------------------------------------------- registry & trees


def registered_filters(pm: Any) -> dict[str, ContactFilter]:
    """Every filter registered through ``register_contact_filters`` (the core's built-in
    plugin registers ``CORE_FILTERS`` there first), by name.

    A plugin filter cannot replace a core one or another plugin's: the first keeps the
    name and the clash is logged with the plugin's name. Without a plugin manager (bare
    scripts) the core filters alone are available.
    """
    if pm is None:
        return {f.name: f for f in CORE_FILTERS}
    filters: dict[str, ContactFilter] = {}
    for plugin, result in pm.call_in_order("register_contact_filters"):
        for contact_filter in result or ():
            if contact_filter.name in filters:
                log.warning(
                    "plugin %r registers the contact filter %r, which already exists; ignored",
                    plugin,
                    contact_filter.name,
                )
                continue
            filters[contact_filter.name] = contact_filter
    return filters


def compile_filter_tree(
    tree: dict[str, Any], pm: Any, engine_type: str, reader: Actor | None = None
) -> tuple[str, list[Any]]:
    """One boolean SQL expression (``{}`` placeholders) and its args for a filter tree of
    ``{"and": [...]}``, ``{"or": [...]}``, ``{"not": node}`` and
    ``{"filter": name, **params}`` nodes. Unknown filters or bad params raise
    ValidationError for the field ``filters``.

    With a ``reader``, a filter comparing a field they may not read raises
    FilterNotAllowed (``crmcore.services.filter_access``); without one (automation rules,
    which run as the system) every filter compiles.
    """
    available = registered_filters(pm)
    return _compile(tree, available, engine_type, 0, reader)


def _compile(
    node: Any,
    available: dict[str, ContactFilter],
    engine_type: str,
    depth: int,
    reader: Actor | None,
) -> tuple[str, list[Any]]:
    if depth > MAX_DEPTH:
        raise ValidationError.for_field("filters", f"nest filters at most {MAX_DEPTH} deep.")
    if not isinstance(node, dict):
        raise ValidationError.for_field("filters", f"expected an object, got {node!r}.")
    for junction, empty in (("and", "1 = 1"), ("or", "1 = 0")):
        if junction in node:
            children = node[junction]
            if not isinstance(children, list):
                raise ValidationError.for_field("filters", f"{junction!r} takes a list.")
            if not children:
                return empty, []
            parts = [
                _compile(child, available, engine_type, depth + 1, reader) for child in children
            ]
            sql = f" {junction.upper()} ".join(f"({part})" for part, _args in parts)
            return sql, [arg for _part, args in parts for arg in args]
    if "not" in node:
        sql, args = _compile(node["not"], available, engine_type, depth + 1, reader)
        return f"NOT ({sql})", args
    name = node.get("filter")
    if not name:
        raise ValidationError.for_field(
            "filters", "each node needs 'and', 'or', 'not' or 'filter'."
        )
    contact_filter = available.get(name)
    if contact_filter is None:
        raise ValidationError.for_field(
            "filters",
            f"there is no contact filter {name!r} (available: {', '.join(sorted(available))}).",
        )
    params = {k: v for k, v in node.items() if k != "filter"}
    if reader is not None:
        check_filter_node(reader, contact_filter, params)
    return contact_filter.build(params, engine_type)
