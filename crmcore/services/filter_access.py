"""Filters may only compare fields their reader may read.

Redaction keeps a restricted field's value out of every answer, but a filter on that field
would still give it away one probe at a time: ``?tag=vip`` lists exactly the contacts
tagged ``vip`` to a reader who may not see tags. So every filter a request names is
checked here, in the service layer, before any SQL runs: the contacts list (``list_contacts``:
API, pages, CLI), contact, company and interaction exports (``plan_export``), and each
named filter of a filter tree (``compile_filter_tree`` with a reader). A filter on a hidden
field raises :class:`crmcore.errors.FilterNotAllowed` (403) naming the filter, the field and
the permission; readers who may read the field filter exactly as before.

Full-text search (``q``) is not refused: it counts only the fields the reader may see
(``crmcore.services.visible_search``), as a search over "everything I can see" should.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from crmcore.errors import FilterNotAllowed
from crmcore.permissions import restricted_fields, withheld_fields

if TYPE_CHECKING:
    from crmcore.services.actor import Actor
    from crmcore.services.filters import ContactFilter

__all__ = [
    "LIST_PARAMETERS",
    "check_filter_node",
    "check_parameters",
    "hiding_permission",
]

# A restriction names the stored column or the field the API shows; either hides the field.
_ALIASES: dict[str, frozenset[str]] = {
    "contact.email": frozenset({"email", "emails"}),
    "contact.phone": frozenset({"phone", "phones"}),
    "contact.company": frozenset({"company", "company_id", "company_name"}),
    "contact.owner": frozenset({"owner", "owner_id"}),
    "company.owner": frozenset({"owner", "owner_id"}),
    "interaction.contact": frozenset({"contact", "contact_id"}),
}

# The simple filters of lists and exports (query parameters) and the fields each compares.
LIST_PARAMETERS: dict[str, tuple[str, ...]] = {
    "tag": ("contact.tags",),
    "stage": ("contact.stage",),
    "owner": ("contact.owner",),
    "company": ("contact.company",),
    "updated_since": ("contact.updated_at",),
}

# Filters whose value may name a record by a field of its own table instead of by id
# (``company=Acme``): a match then also tells that such a record exists.
_NAMED_BY = {"company": "company.name"}


def _names(field: str) -> tuple[str, frozenset[str]]:
    table, _, name = field.partition(".")
    if name.startswith("custom."):
        return table, frozenset({"custom", name})
    return table, _ALIASES.get(field, frozenset({name}))


def hiding_permission(reader: Actor, field: str) -> str | None:
    """The permission ``reader`` lacks to read ``field`` (``table.field``), or None."""
    table, names = _names(field)
    restricted = restricted_fields(table)
    for name in sorted(names):
        permission = restricted.get(name)
        if permission is not None and not reader.can(permission):
            return permission
    return None


def _refuse_hidden(reader: Actor, filter_name: str, fields: Iterable[str]) -> None:
    for field in fields:
        permission = hiding_permission(reader, field)
        if permission is not None:
            raise FilterNotAllowed(filter_name, field, permission)


def _reads_of(filter_name: str, fields: Iterable[str], value: Any) -> list[str]:
    reads = list(fields)
    by_name = _NAMED_BY.get(filter_name)
    if by_name and value is not None and not str(value).strip().isdigit():
        reads.append(by_name)
    return reads


def check_parameters(
    reader: Actor, values: Mapping[str, Any], fields: Mapping[str, tuple[str, ...]]
) -> None:
    """Refuse the first parameter in ``values`` (name -> value; empty ones are not filters)
    that compares a field ``reader`` may not read; ``fields`` maps each parameter to the
    fields it compares (``LIST_PARAMETERS`` for contact lists)."""
    if not withheld_fields(reader):
        return
    for name, value in values.items():
        if value is None or value == "" or name not in fields:
            continue
        _refuse_hidden(reader, name, _reads_of(name, fields[name], value))


def check_filter_node(
    reader: Actor, contact_filter: ContactFilter, params: Mapping[str, Any]
) -> None:
    """Refuse one named filter of a tree when ``reader`` may not read a field it compares
    (its ``reads``, with ``{param}`` replaced by the node's parameters)."""
    if not withheld_fields(reader):
        return
    reads = []
    for field in contact_filter.reads:
        try:
            reads.append(field.format(**{k: str(v) for k, v in params.items()}))
        except (KeyError, IndexError, ValueError):
            # A missing parameter: compiling refuses it; until then the whole field counts.
            reads.append(field.split(".{", 1)[0])
    _refuse_hidden(
        reader, contact_filter.name, _reads_of(contact_filter.name, reads, params.get("value"))
    )
