"""Finding contacts that are probably the same person.

Two rules, both cheap enough for a million contacts:

* the same normalised email address or phone number (``contact_point`` rows with equal
  ``kind`` and ``value``; the index on ``value`` makes this a join, not a scan) — score 100;
* similar names within the same company (``rapidfuzz`` ``token_sort_ratio`` ≥ 90, so
  "Ali Rezaei" and "Rezaei Ali" match) — score is the ratio.

Only contacts of one company are compared by name, so the work grows with the size of the
largest company, not with the square of all contacts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

from crmcore.services.normalize import fold_text
from crmcore.tables import Company, Contact, ContactPoint

NAME_SCORE = 90
EXACT_SCORE = 100


@dataclass
class DuplicatePair:
    """Two contacts that look alike; ``contact_id`` is the older (lower id) of the two."""

    contact_id: int
    other_id: int
    score: int
    reasons: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        """True when the pair shares an email address or phone number."""
        return self.score >= EXACT_SCORE and any(
            r.startswith(("same email", "same phone")) for r in self.reasons
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "contact_id": self.contact_id,
            "other_id": self.other_id,
            "score": self.score,
            "reasons": list(self.reasons),
        }


def name_key(first_name: str | None, last_name: str | None) -> str:
    """A person's name as compared: folded Persian letters, lower case, single spaces."""
    text = fold_text(f"{first_name or ''} {last_name or ''}").lower()
    return " ".join(text.split())


def _add(pairs: dict[tuple[int, int], DuplicatePair], a: int, b: int, score: int, why: str) -> None:
    low, high = (a, b) if a < b else (b, a)
    pair = pairs.get((low, high))
    if pair is None:
        pairs[(low, high)] = DuplicatePair(low, high, score, [why])
        return
    pair.score = max(pair.score, score)
    if why not in pair.reasons:
        pair.reasons.append(why)


async def _shared_points(pairs: dict[tuple[int, int], DuplicatePair], limit: int) -> None:
    rows = await ContactPoint.raw(
        "SELECT a.contact AS a_id, b.contact AS b_id, a.kind AS kind, a.value AS value "
        "FROM contact_point a JOIN contact_point b "
        "ON b.value = a.value AND b.kind = a.kind AND b.contact > a.contact "
        "ORDER BY a.contact, b.contact LIMIT {}",
        limit,
    )
    for row in rows:
        _add(pairs, row["a_id"], row["b_id"], EXACT_SCORE, f"same {row['kind']} {row['value']}")


def similar_names(
    people: list[tuple[int, str]], min_score: int = NAME_SCORE
) -> Iterable[tuple[int, int, int]]:
    """Pairs ``(id, id, score)`` among ``people`` (id, name key) scoring at least ``min_score``.

    Each name is compared with the names after it by rapidfuzz's C loop, which skips pairs
    whose lengths alone rule out the cutoff.
    """
    people = [(pid, name) for pid, name in people if name]
    names = [name for _pid, name in people]
    for index in range(len(people) - 1):
        later = names[index + 1 :]
        for _name, score, offset in process.extract(
            names[index], later, scorer=fuzz.token_sort_ratio, score_cutoff=min_score, limit=None
        ):
            yield people[index][0], people[index + 1 + offset][0], int(score)


async def _similar_names_in_companies(
    pairs: dict[tuple[int, int], DuplicatePair], min_score: int, company_id: int | None
) -> None:
    query = (
        "SELECT c.id AS id, c.first_name AS first_name, c.last_name AS last_name, "
        "c.company AS company FROM contact c WHERE c.company IN ("
        "SELECT company FROM contact WHERE company IS NOT NULL "
        "GROUP BY company HAVING COUNT(*) > 1) "
    )
    args: list[Any] = []
    if company_id is not None:
        query += "AND c.company = {} "
        args.append(company_id)
    rows = await Contact.raw(query + "ORDER BY c.company, c.id", *args)
    names = {
        r["id"]: r["name"]
        for r in await Company.select(Company.id, Company.name).where(
            Company.id.is_in(sorted({row["company"] for row in rows}) or [0])
        )
    }
    group: list[tuple[int, str]] = []
    current = None
    for row in [*rows, None]:
        if row is None or row["company"] != current:
            for a, b, score in similar_names(group, min_score):
                _add(pairs, a, b, score, f"similar names at {names.get(current, current)}")
            if row is None:
                break
            group, current = [], row["company"]
        group.append((row["id"], name_key(row["first_name"], row["last_name"])))


async def find_duplicate_pairs(
    *, limit: int = 500, min_score: int = NAME_SCORE, company_id: int | None = None
) -> list[DuplicatePair]:
    """Candidate duplicate pairs, best first (shared email/phone before similar names)."""
    pairs: dict[tuple[int, int], DuplicatePair] = {}
    if company_id is None:
        await _shared_points(pairs, limit * 4)
    await _similar_names_in_companies(pairs, min_score, company_id)
    ordered = sorted(pairs.values(), key=lambda p: (-p.score, p.contact_id, p.other_id))
    return ordered[:limit]


async def find_duplicates_for(
    data: dict[str, Any], *, exclude_id: int | None = None, limit: int = 10
) -> list[dict[str, Any]]:
    """Existing contacts that look like ``data`` (a contact about to be saved).

    ``data`` may hold ``email``/``emails``, ``phone``/``phones`` (already normalised),
    ``first_name``, ``last_name`` and ``company_id`` (or ``company`` as an id). Returns
    ``[{"contact_id", "score", "reasons"}]``, best first, never ``exclude_id``.
    """
    found: dict[int, dict[str, Any]] = {}

    def note(contact_id: int, score: int, why: str) -> None:
        if contact_id == exclude_id:
            return
        entry = found.setdefault(contact_id, {"contact_id": contact_id, "score": 0, "reasons": []})
        entry["score"] = max(entry["score"], score)
        if why not in entry["reasons"]:
            entry["reasons"].append(why)

    points = [("email", v) for v in _values(data, "email", "emails")]
    points += [("phone", v) for v in _values(data, "phone", "phones")]
    for kind, value in points:
        rows = await ContactPoint.select(ContactPoint.contact).where(
            (ContactPoint.kind == kind) & (ContactPoint.value == value)
        )
        for row in rows:
            note(row["contact"], EXACT_SCORE, f"same {kind} {value}")

    company_id = data.get("company_id", data.get("company"))
    key = name_key(data.get("first_name"), data.get("last_name"))
    if isinstance(company_id, int) and key:
        colleagues = await Contact.select(Contact.id, Contact.first_name, Contact.last_name).where(
            Contact.company == company_id
        )
        for row in colleagues:
            other = name_key(row["first_name"], row["last_name"])
            score = int(fuzz.token_sort_ratio(key, other)) if other else 0
            if score >= NAME_SCORE:
                note(row["id"], score, "similar name at the same company")
    ordered = sorted(found.values(), key=lambda e: (-e["score"], e["contact_id"]))
    return ordered[:limit]


def _values(data: dict[str, Any], single: str, plural: str) -> list[str]:
    values: list[str] = []
    for item in [data.get(single), *(data.get(plural) or [])]:
        value = item.get("value") if isinstance(item, dict) else item
        if isinstance(value, str) and value and value not in values:
            values.append(value)
    return values
