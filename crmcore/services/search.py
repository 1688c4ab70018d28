"""Full-text search over contacts: what gets indexed and how a query becomes SQL.

The index itself lives in the database (migration ``contact full-text search``): an FTS5
external-content table kept in sync by triggers on SQLite, a generated tsvector column
with a GIN index on PostgreSQL. Both read ``contact.search_text``, which this module
writes as plain space-separated words: folded (Arabic/Persian letter variants, digits,
diacritics), lower-cased, punctuation removed. Queries are cut into words the same way,
so both engines see exactly the same tokens and "محم", "ali@example.com",
"09121234567" and "+98 912 123 4567" find the same contacts on either.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from crmcore.errors import ValidationError
from crmcore.services.normalize import fold_text, normalize_phone, phone_search_forms

__all__ = [
    "SearchTerm",
    "contact_search_text",
    "fts5_match",
    "parse_query",
    "search_condition",
    "search_words",
    "text_matches",
]

_NON_WORD = re.compile(r"[\W_]+")
_PHONE_QUERY = re.compile(r"^\+?[\d\s\-().]+$")
MAX_NOTES_CHARS = 4000
MAX_TERMS = 12


def search_words(text: str) -> list[str]:
    """Cut text into the words both engines index: folded, without marks or punctuation."""
    if not text:
        return []
    if text.isascii():
        # Most names and every email and phone: nothing to fold, no marks to strip.
        return [word for word in _NON_WORD.split(text.lower()) if word]
    decomposed = unicodedata.normalize("NFKD", fold_text(text))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return [word for word in _NON_WORD.split(fold_text(stripped).lower()) if word]


def contact_search_text(
    *,
    first_name: str = "",
    last_name: str = "",
    title: str = "",
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    company_name: str | None = "",
    tags: Iterable[str] = (),
    city: str = "",
    notes: str = "",
) -> str:
    """The text a contact is found by: names, emails, every searchable form of each phone,
    company, tags, city and (the start of) its notes."""
    parts: list[str] = [first_name, last_name, title, company_name or "", city, *tags]
    parts.extend(emails)
    for phone in phones:
        parts.extend(phone_search_forms(phone))
    parts.append(notes[:MAX_NOTES_CHARS])
    # Words are kept in order (no de-duplication): an email is matched as a phrase.
    return " ".join(word for part in parts for word in search_words(part))


@dataclass(frozen=True)
class SearchTerm:
    """One condition of a query: a run of words that must appear together (``phrase``), the
    last of which may be a prefix (``prefix``)."""

    words: tuple[str, ...]
    prefix: bool


def parse_query(query: str, region: str) -> list[SearchTerm]:
    """Turn what a person typed into search terms (all must match).

    * a phone number in any format becomes the digits of its E.164 form, matched exactly;
      digits that are not (yet) a valid number match as a prefix ("0912");
    * an email address (anything with ``@``) is matched as a phrase;
    * every other word is a prefix, so a fragment of a name finds the full name.
    """
    text = fold_text(query or "").strip()
    if not text:
        return []
    if _PHONE_QUERY.match(text) and sum(ch.isdigit() for ch in text) >= 6:
        try:
            e164 = normalize_phone(text, region)
        except ValidationError:
            return [SearchTerm((re.sub(r"\D", "", text),), prefix=True)]
        return [SearchTerm((e164.lstrip("+"),), prefix=False)]
    terms: list[SearchTerm] = []
    for chunk in text.split():
        words = search_words(chunk)
        if not words:
            continue
        if "@" in chunk:
            terms.append(SearchTerm(tuple(words), prefix=True))
        else:
            terms.extend(SearchTerm((word,), prefix=True) for word in words)
    return terms[:MAX_TERMS]


def text_matches(terms: list[SearchTerm], text: str) -> bool:
    """Whether a search text (as ``contact_search_text`` writes it) holds every term, the
    way the full-text index decides it: a term's words in a row, the last one as a prefix
    if the term says so. Used to re-check what the index found against a narrower text."""
    words = text.split()
    return all(_holds(term, words) for term in terms)


def _holds(term: SearchTerm, words: list[str]) -> bool:
    *leading, last = term.words
    size = len(term.words)
    for start in range(len(words) - size + 1):
        word = words[start + size - 1]
        if (word == last or (term.prefix and word.startswith(last))) and words[
            start : start + size - 1
        ] == leading:
            return True
    return False


def _fts5_query(terms: list[SearchTerm]) -> str:
    # Words hold no quotes or operators (search_words removed them), so quoting is enough.
    return " AND ".join(
        '"' + " ".join(term.words) + '"' + ("*" if term.prefix else "") for term in terms
    )


def _tsquery(terms: list[SearchTerm]) -> str:
    parts = []
    for term in terms:
        lexemes = [f"'{word}'" for word in term.words]
        if term.prefix:
            lexemes[-1] += ":*"
        parts.append("(" + " <-> ".join(lexemes) + ")")
    return " & ".join(parts)


def fts5_match(query: str, region: str) -> str | None:
    """The FTS5 ``MATCH`` expression for ``query`` (SQLite), or ``None`` if nothing is
    searchable in it."""
    terms = parse_query(query, region)
    return _fts5_query(terms) if terms else None


def search_condition(query: str, engine_type: str, region: str) -> tuple[str, list[str]] | None:
    """A boolean SQL expression over ``contact`` (``{}`` placeholders) matching ``query``,
    or ``None`` when the query holds nothing searchable."""
    terms = parse_query(query, region)
    if not terms:
        return None
    if engine_type == "sqlite":
        return (
            "contact.id IN (SELECT rowid FROM contact_fts WHERE contact_fts MATCH {})",
            [_fts5_query(terms)],
        )
    return ("contact.search_vector @@ to_tsquery('simple', {})", [_tsquery(terms)])
