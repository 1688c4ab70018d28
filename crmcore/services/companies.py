"""Companies: create, update, delete, read and list, one door per write.

A company's name is part of its contacts' search text, so renaming or deleting a company
refreshes those contacts in the same transaction.
"""

from __future__ import annotations

import re
from typing import Any

from crmcore.errors import Conflict, NotFound, ValidationError
from crmcore.permissions import hidden_fields, redact
from crmcore.services.actor import Actor
from crmcore.services.audit import diff, record_audit
from crmcore.services.custom_fields import validate_custom
from crmcore.services.outbox import emit_event
from crmcore.services.pagination import Page, check_limit, decode_cursor, encode_cursor
from crmcore.services.records import (
    clean_text,
    engine_type,
    fetch,
    iso,
    load_json,
    now,
    placeholders,
    plugin_manager,
    require,
)
from crmcore.services.transaction import after_commit, write_transaction
from crmcore.tables import Company, CompanyTag, Contact, User

__all__ = [
    "create_company",
    "delete_company",
    "get_company",
    "get_or_create_company",
    "list_companies",
    "update_company",
]

TEXT_FIELDS = {
    "name": 300,
    "industry": 120,
    "size": 32,
    "street": 300,
    "city": 120,
    "region": 120,
    "postal_code": 32,
}
WRITABLE = {*TEXT_FIELDS, "domain", "country", "owner_id", "tags", "custom"}
READ_ONLY = {"id", "created_at", "updated_at", "contact_count"}
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9\u00a1-\uffff-]{1,63}\.)+[a-z\u00a1-\uffff]{2,63}$")

COLUMNS = (
    "company.id, company.name, company.domain, company.industry, company.size, "
    "company.street, company.city, company.region, company.postal_code, company.country, "
    "company.owner, company.custom, company.created_at, company.updated_at"
)


def normalize_domain(value: str) -> str | None:
    """``https://www.Example.com/about`` -> ``example.com``; empty -> None."""
    text = (value or "").strip().lower()
    if not text:
        return None
    text = re.sub(r"^[a-z]+://", "", text).split("/")[0].split("?")[0]
    text = text.removeprefix("www.").rstrip(".")
    if not _DOMAIN_RE.match(text):
        raise ValidationError.for_field("domain", f"{value!r} is not a domain name (example.com).")
    return text


async def _load(ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = await fetch(
        f"SELECT {COLUMNS} FROM company WHERE company.id IN ({placeholders(ids)})", ids
    )
    tags: dict[int, list[str]] = {}
    tag_rows = await fetch(
        "SELECT company_tag.company AS company_id, tag.name AS name FROM company_tag "
        f"JOIN tag ON tag.id = company_tag.tag WHERE company_tag.company IN ({placeholders(ids)}) "
        "ORDER BY tag.name",
        ids,
    )
    for row in tag_rows:
        tags.setdefault(row["company_id"], []).append(row["name"])
    return {
        row["id"]: {
            "id": row["id"],
            "name": row["name"],
            "domain": row["domain"],
            "industry": row["industry"],
            "size": row["size"],
            "street": row["street"],
            "city": row["city"],
            "region": row["region"],
            "postal_code": row["postal_code"],
            "country": row["country"],
            "owner_id": row["owner"],
            "tags": tags.get(row["id"], []),
            "custom": load_json(row["custom"], {}),
            "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"]),
        }
        for row in rows
    }


def _visible(company: dict[str, Any], actor: Actor) -> bool:
    return actor.sees_all_records or company["owner_id"] == actor.user_id


async def _get(company_id: int, actor: Actor) -> dict[str, Any]:
    company = (await _load([int(company_id)])).get(int(company_id))
    if company is None or not _visible(company, actor):
        raise NotFound(f"company {company_id} does not exist")
    return company


async def get_company(company_id: int, actor: Actor) -> dict[str, Any]:
    """One company (NotFound if missing or outside the actor's record scope)."""
    require(actor, "contacts.read")
    return redact("company", await _get(company_id, actor), actor)


async def _clean(data: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    unknown = set(data) - WRITABLE - READ_ONLY
    if unknown:
        raise ValidationError(
            f"unknown company fields: {', '.join(sorted(unknown))}",
            {name: "is not a company field" for name in unknown},
        )
    after = dict(existing or {})
    for key, limit in TEXT_FIELDS.items():
        if key in data or existing is None:
            after[key] = clean_text(data, key, limit)
    if not after.get("name"):
        raise ValidationError.for_field("name", "a company needs a name.")
    if "domain" in data or existing is None:
        after["domain"] = normalize_domain(data.get("domain") or "")
    if "country" in data or existing is None:
        country = clean_text(data, "country", 2).upper()
        if country and not (len(country) == 2 and country.isalpha()):
            raise ValidationError.for_field("country", "use a two-letter country code (IR, DE).")
        after["country"] = country
    if "owner_id" in data or existing is None:
        after["owner_id"] = await _check_owner(data.get("owner_id"))
    if "tags" in data or existing is None:
        after["tags"] = clean_tag_names(data.get("tags") or [])
    if "custom" in data or existing is None:
        values = await validate_custom("company", data.get("custom"), partial=existing is not None)
        merged = {**(existing or {}).get("custom", {}), **values}
        after["custom"] = {k: v for k, v in merged.items() if v is not None}
    return after


async def _check_owner(owner_id: Any) -> int | None:
    if owner_id in (None, ""):
        return None
    try:
        owner_id = int(owner_id)
    except (TypeError, ValueError):
        raise ValidationError.for_field("owner_id", "must be a user id.") from None
    if not await User.exists().where(User.id == owner_id):
        raise ValidationError.for_field("owner_id", f"there is no user {owner_id}.")
    return owner_id


def clean_tag_names(names: Any) -> list[str]:
    """Tag names as given, stripped, without repeats (case-insensitive)."""
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list | tuple):
        raise ValidationError.for_field("tags", "must be a list of tag names.")
    cleaned: list[str] = []
    for name in names:
        text = str(name or "").strip()
        if not text:
            continue
        if len(text) > 100:
            raise ValidationError.for_field("tags", f"{text[:20]!r}… is too long (at most 100).")
        if text.lower() not in {c.lower() for c in cleaned}:
            cleaned.append(text)
    return cleaned


async def tag_ids(names: list[str]) -> dict[str, int]:
    """Ids of the named tags, creating missing ones (call inside a write transaction)."""
    found: dict[str, int] = {}
    for name in names:
        select = "SELECT id FROM tag WHERE lower(name) = lower(CAST({} AS TEXT))"
        rows = await fetch(select, [name])
        if not rows:
            # A concurrent writer may be creating the same tag: its row wins, ours is skipped.
            await fetch(
                "INSERT INTO tag (name, color) VALUES ({}, '') ON CONFLICT DO NOTHING", [name]
            )
            rows = await fetch(select, [name])
        found[name] = rows[0]["id"]
    return found


async def _write_tags(company_id: int, names: list[str]) -> None:
    await CompanyTag.delete().where(CompanyTag.company == company_id)
    ids = await tag_ids(names)
    if ids:
        await CompanyTag.insert(*[CompanyTag(company=company_id, tag=i) for i in ids.values()])


def _row_values(company: dict[str, Any]) -> dict[str, Any]:
    return {
        **{key: company[key] for key in TEXT_FIELDS},
        "domain": company["domain"],
        "country": company["country"],
        "owner": company["owner_id"],
        "custom": company["custom"],
    }


async def create_company(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Create a company; its owner defaults to the acting user."""
    require(actor, "contacts.write")
    data = dict(data)
    if "owner_id" not in data and actor.user_id is not None:
        data["owner_id"] = actor.user_id
    clean = await _clean(data, None)
    async with write_transaction():
        company = await _insert(clean, actor)
    return redact("company", company, actor)


async def _insert(clean: dict[str, Any], actor: Actor) -> dict[str, Any]:
    stamp = now()
    rows = await Company.insert(Company(**_row_values(clean), created_at=stamp, updated_at=stamp))
    company_id = rows[0]["id"]
    await _write_tags(company_id, clean["tags"])
    company = (await _load([company_id]))[company_id]
    await record_audit(
        table="company",
        record_id=company_id,
        action="create",
        changes=diff(None, _audited(company)),
        actor=actor,
    )
    await emit_event("company.created", company)
    _fire_saved(company, True, {}, actor)
    return company


def _audited(company: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in company.items() if k not in READ_ONLY}


def _fire_saved(company: dict[str, Any], created: bool, changes: dict[str, Any], actor: Actor):
    pm = plugin_manager()
    if pm is not None:
        after_commit(
            lambda: pm.fire(
                "company_saved", company=company, created=created, changes=changes, actor=actor
            )
        )


async def update_company(company_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Change a company; renaming it refreshes its contacts' search text."""
    from crmcore.services.contacts import refresh_search_text

    require(actor, "contacts.write")
    async with write_transaction():
        before = await _get(company_id, actor)
        clean = await _clean(dict(data), before)
        changes = diff(_audited(before), _audited(clean))
        if not changes:
            return redact("company", before, actor)
        values = {**_row_values(clean), "updated_at": now()}
        await Company.update(values).where(Company.id == before["id"])
        if "tags" in changes:
            await _write_tags(before["id"], clean["tags"])
        if "name" in changes:
            await refresh_search_text(await _contact_ids(before["id"]))
        after = (await _load([before["id"]]))[before["id"]]
        await record_audit(
            table="company",
            record_id=before["id"],
            action="update",
            changes=changes,
            actor=actor,
        )
        await emit_event(
            "company.updated", {"id": before["id"], "changes": changes, "company": after}
        )
        _fire_saved(after, False, {k: tuple(v) for k, v in changes.items()}, actor)
    return redact("company", after, actor)


async def _contact_ids(company_id: int) -> list[int]:
    rows = await Contact.select(Contact.id).where(Contact.company == company_id)
    return [row["id"] for row in rows]


async def delete_company(company_id: int, actor: Actor) -> None:
    """Delete a company; its contacts stay, without a company."""
    from crmcore.services.contacts import refresh_search_text

    require(actor, "contacts.delete")
    async with write_transaction():
        before = await _get(company_id, actor)
        contact_ids = await _contact_ids(before["id"])
        await Company.delete().where(Company.id == before["id"])
        await refresh_search_text(contact_ids)
        await record_audit(
            table="company",
            record_id=before["id"],
            action="delete",
            changes=diff(_audited(before), None),
            actor=actor,
        )
        await emit_event("company.deleted", {"id": before["id"], "company": before})


# What a company search (``q``) looks in: field -> the lowered text compared.
_SEARCHED = {"name": "lower(company.name)", "domain": "lower(coalesce(company.domain, ''))"}


async def list_companies(
    actor: Actor, q: str | None = None, cursor: str | None = None, limit: int = 50
) -> Page:
    """Companies newest first; ``q`` matches a part of the name or domain, of those two the
    ones ``actor`` may read (a search by a hidden domain finds nothing, as a contact search
    by a hidden field does)."""
    require(actor, "contacts.read")
    limit = check_limit(limit)
    where: list[str] = []
    args: list[Any] = []
    if not actor.sees_all_records:
        where.append("company.owner = {}")
        args.append(actor.user_id)
    if q and q.strip():
        hidden = hidden_fields("company", actor)
        searched = [text for field, text in _SEARCHED.items() if field not in hidden]
        if not searched:
            return Page(items=[], next=None)
        pattern = (
            "%"
            + q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            + "%"
        )
        where.append("(" + " OR ".join(f"{text} LIKE {{}} ESCAPE '\\'" for text in searched) + ")")
        args.extend([pattern] * len(searched))
    after_id = decode_cursor(cursor)
    if after_id is not None:
        where.append("company.id < {}")
        args.append(after_id)
    sql = "SELECT company.id FROM company"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY company.id DESC LIMIT {limit + 1}"
    ids = [row["id"] for row in await fetch(sql, args)]
    has_more = len(ids) > limit
    ids = ids[:limit]
    loaded = await _load(ids)
    items = [redact("company", loaded[i], actor) for i in ids if i in loaded]
    return Page(items=items, next=encode_cursor(ids[-1]) if has_more and ids else None)


async def get_or_create_company(name: str, domain: str | None, actor: Actor) -> dict[str, Any]:
    """The company with this domain (if given) or this name (case-insensitive), created if
    there is none. Imports and contact forms that name a company call this."""
    require(actor, "contacts.write")
    name = (name or "").strip()
    clean_domain = normalize_domain(domain or "")
    if not name and not clean_domain:
        raise ValidationError.for_field("company", "give a company name or domain.")
    async with write_transaction():
        if engine_type() == "postgres":
            # Two requests naming the same new company must not create it twice.
            key = (clean_domain or name).lower()
            await fetch("SELECT pg_advisory_xact_lock(hashtext(CAST({} AS TEXT)))", [key])
        rows: list[dict[str, Any]] = []
        if clean_domain:
            rows = await fetch(
                "SELECT id FROM company WHERE domain = {} ORDER BY id LIMIT 1", [clean_domain]
            )
        if not rows and name:
            rows = await fetch(
                "SELECT id FROM company WHERE lower(name) = lower(CAST({} AS TEXT)) "
                "ORDER BY id LIMIT 1",
                [name],
            )
        if rows:
            return (await _load([rows[0]["id"]]))[rows[0]["id"]]
        data: dict[str, Any] = {"name": name or clean_domain, "domain": clean_domain or ""}
        if actor.user_id is not None:
            data["owner_id"] = actor.user_id
        try:
            clean = await _clean(data, None)
        except ValidationError as exc:
            if any(key.startswith("custom.") for key in exc.errors):
                raise Conflict(
                    f"company {name!r} does not exist and cannot be created here because "
                    f"required custom fields are missing ({exc.message}); create it first."
                ) from exc
            raise
        return await _insert(clean, actor)
