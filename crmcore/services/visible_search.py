"""Contact search that counts only the fields the reader may see.

``contact.search_text``, and the full-text index built on it, holds every searchable field
of a contact, restricted ones included. Searching it as it is would let a reader who may
not see job titles find contacts by a title, and so learn it one query at a time ("who is
'Secret'?"). For such a reader, and only for them, what the index finds is a candidate:
it is a match only if the query also matches a search text built from the fields that
reader may see (``visible_matches``).

Why a re-check and not a second indexed column without the restrictable fields: which
fields are restricted depends on the enabled plugins, and which of them a reader may see
depends on their role, so no single extra column fits every reader; it would have to be
rebuilt over every contact whenever a plugin is enabled, and it would double the index
for everyone. The re-check costs nothing for the common case (readers who see every
searchable field keep the single index lookup, ``hidden_search_parts`` is empty for
them), and for the others it costs in proportion to the candidates the index returns,
which mostly match on visible fields anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crmcore.permissions import hidden_fields
from crmcore.services.actor import Actor
from crmcore.services.records import fetch, placeholders
from crmcore.services.search import MAX_NOTES_CHARS, contact_search_text, parse_query, text_matches

__all__ = [
    "MAX_CANDIDATES_PER_PAGE",
    "contact_notes_text",
    "contact_text",
    "hidden_search_parts",
    "visible_matches",
]

# A page of search results re-checks at most this many candidates: a query that matches
# only hidden values of many contacts then answers a short (even empty) page with a cursor
# to continue from, instead of reading every candidate in one request.
MAX_CANDIDATES_PER_PAGE = 5000

# Each part of the search text, and the restrictable fields that hide it: a restriction
# names the stored column (``email``, ``company``) or the field the API shows (``emails``,
# ``company_name``); either hides the whole part.
_CONTACT_PARTS: dict[str, frozenset[str]] = {
    "first_name": frozenset({"first_name"}),
    "last_name": frozenset({"last_name"}),
    "title": frozenset({"title"}),
    "emails": frozenset({"email", "emails"}),
    "phones": frozenset({"phone", "phones"}),
    "company_name": frozenset({"company", "company_id", "company_name"}),
    "tags": frozenset({"tags"}),
    "city": frozenset({"city"}),
}
# Notes are the subjects and bodies of the contact's ``note`` interactions.
_NOTE_COLUMNS = ("subject", "body")


def hidden_search_parts(reader: Actor) -> frozenset[str]:
    """The parts of a contact's search text ``reader`` may not see (``title``,
    ``note_body``…); empty for most readers, who then search the index alone."""
    contact = hidden_fields("contact", reader)
    hidden = {part for part, fields in _CONTACT_PARTS.items() if contact & fields}
    interaction = hidden_fields("interaction", reader)
    hidden.update(f"note_{column}" for column in _NOTE_COLUMNS if column in interaction)
    return frozenset(hidden)


async def contact_notes_text(
    contact_ids: list[int], columns: Iterable[str] = _NOTE_COLUMNS
) -> dict[int, str]:
    """The newest notes logged on each contact (their ``columns``), searchable with it."""
    columns = tuple(columns)
    if not contact_ids or not columns:
        return {}
    rows = await fetch(
        "SELECT contact, subject, body FROM interaction WHERE channel = 'note' "
        f"AND contact IN ({placeholders(contact_ids)}) ORDER BY occurred_at DESC, id DESC",
        contact_ids,
    )
    notes: dict[int, str] = {}
    for row in rows:
        text = notes.get(row["contact"], "")
        if len(text) < MAX_NOTES_CHARS:
            parts = " ".join(row[column] or "" for column in columns)
            notes[row["contact"]] = f"{text} {parts}"
    return notes


def contact_text(
    contact: dict[str, Any], notes: str = "", hidden: frozenset[str] = frozenset()
) -> str:
    """The search text of a full contact dict, without the ``hidden`` parts."""
    parts: dict[str, Any] = {
        "first_name": contact["first_name"],
        "last_name": contact["last_name"],
        "title": contact["title"],
        "emails": contact["emails"],
        "phones": contact["phones"],
        "company_name": contact.get("company_name"),
        "tags": contact["tags"],
        "city": contact["city"],
        "notes": notes,
    }
    return contact_search_text(**{k: v for k, v in parts.items() if k not in hidden})


async def visible_matches(
    contacts: list[dict[str, Any]], query: str, region: str, hidden: frozenset[str]
) -> set[int]:
    """Ids of ``contacts`` (full dicts) that ``query`` matches on their visible parts."""
    terms = parse_query(query, region)
    if not terms or not contacts:
        return set()
    columns = [c for c in _NOTE_COLUMNS if f"note_{c}" not in hidden]
    notes = await contact_notes_text([c["id"] for c in contacts], columns)
    return {
        contact["id"]
        for contact in contacts
        if text_matches(terms, contact_text(contact, notes.get(contact["id"], ""), hidden))
    }
