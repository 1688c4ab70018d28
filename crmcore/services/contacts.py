"""Contacts: the one door every contact write goes through, and the reads around it.

A write normalises (emails lower-cased, phones E.164), checks custom fields against
their definitions, lets plugins veto it (``validate_contact``), then in one transaction
stores the contact, its emails and phones (``contact_point``), tags, stage history and
search text, the audit entry and the outbox event. Plugins hear about it after commit
(``contact_saved`` / ``contact_deleted``); their failures never undo the write.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from crmcore.errors import NotFound, ValidationError
from crmcore.permissions import redact
from crmcore.services.actor import Actor
from crmcore.services.audit import diff, record_audit
from crmcore.services.companies import (
    clean_tag_names,
    get_or_create_company,
    tag_ids,
)
from crmcore.services.custom_fields import validate_custom
from crmcore.services.filter_access import LIST_PARAMETERS, check_parameters
from crmcore.services.normalize import normalize_email, normalize_phone
from crmcore.services.outbox import emit_event
from crmcore.services.pagination import Page, check_limit, decode_cursor, encode_cursor
from crmcore.services.records import (
    clean_text,
    default_region,
    engine_type,
    fetch,
    iso,
    load_json,
    now,
    parse_date,
    parse_datetime,
    placeholders,
    plugin_manager,
    require,
)
from crmcore.services.search import fts5_match, search_condition
from crmcore.services.transaction import after_commit, write_transaction
from crmcore.services.visible_search import (
    MAX_CANDIDATES_PER_PAGE,
    contact_notes_text,
    contact_text,
    hidden_search_parts,
    visible_matches,
)
from crmcore.tables import STAGES, Company, Contact, ContactPoint, ContactTag, StageChange, User

__all__ = [
    "Page",
    "contact_dicts",
    "create_contact",
    "delete_contact",
    "find_contacts_by_point",
    "get_contact",
    "list_contacts",
    "refresh_search_text",
    "stage_history",
    "update_contact",
]

TEXT_FIELDS = {
    "first_name": 150,
    "last_name": 150,
    "title": 150,
    "street": 300,
    "city": 120,
    "region": 120,
    "postal_code": 32,
    "source": 100,
    "language": 8,
}
WRITABLE = {
    *TEXT_FIELDS,
    "email",
    "phone",
    "emails",
    "phones",
    "company",
    "company_id",
    "country",
    "stage",
    "owner_id",
    "birthday",
    "tags",
    "custom",
}
# Accepted and ignored, so a contact read from the API can be sent back as it is.
READ_ONLY = {"id", "name", "company_name", "created_at", "updated_at"}
# What the audit log and ``contact_saved`` compare (everything a person can change).
AUDITED = (
    *TEXT_FIELDS,
    "emails",
    "phones",
    "company_id",
    "country",
    "stage",
    "owner_id",
    "birthday",
    "tags",
    "custom",
)

COLUMNS = (
    "contact.id, contact.first_name, contact.last_name, contact.title, contact.company, "
    "contact.email, contact.phone, contact.street, contact.city, contact.region, "
    "contact.postal_code, contact.country, contact.stage, contact.source, contact.owner, "
    "contact.language, contact.birthday, contact.custom, contact.created_at, "
    "contact.updated_at, company.name AS company_name"
)
FROM = "FROM contact LEFT JOIN company ON company.id = contact.company"

# A contact's emails, phones and tags come with it as JSON arrays, so a page of contacts is
# one query however many addresses each has. They are ordered here in Python (primary
# first, tags by name): sorting inside every correlated subquery cost more than the rest.
_SQLITE_AGGREGATES = (
    "(SELECT json_group_array(json_array(kind, value, is_primary, id)) FROM contact_point "
    "WHERE contact_point.contact = contact.id) AS points_json, "
    "(SELECT json_group_array(tag.name) FROM contact_tag JOIN tag ON tag.id = contact_tag.tag "
    "WHERE contact_tag.contact = contact.id) AS tags_json"
)
_POSTGRES_AGGREGATES = (
    "(SELECT json_agg(json_build_array(kind, value, is_primary, id)) FROM contact_point "
    "WHERE contact_point.contact = contact.id) AS points_json, "
    "(SELECT json_agg(tag.name) FROM contact_tag JOIN tag ON tag.id = contact_tag.tag "
    "WHERE contact_tag.contact = contact.id) AS tags_json"
)


# On SQLite a search walks the FTS5 index newest match first and stops after one page, so a
# common fragment ("محم" in 65,000 of 1,000,000 names) costs what a rare one costs; an
# ``id IN (matches)`` condition would collect every match before the first row comes back.
FTS_FROM = (
    "FROM contact_fts JOIN contact ON contact.id = contact_fts.rowid "
    "LEFT JOIN company ON company.id = contact.company"
)


def _select(source: str = FROM) -> str:
    """``SELECT … FROM`` for full contacts in the current engine's dialect."""
    sqlite = engine_type() == "sqlite"
    return f"SELECT {COLUMNS}, {_SQLITE_AGGREGATES if sqlite else _POSTGRES_AGGREGATES} {source}"


def _points(value: Any) -> dict[str, list[str]]:
    points: dict[str, list[str]] = {"email": [], "phone": []}
    ordered = sorted(load_json(value, []), key=lambda p: (not p[2], p[3]))
    for kind, address, _primary, _id in ordered:
        points.setdefault(kind, []).append(address)
    return points


# --------------------------------------------------------------------------- reading


def _display_name(first: str, last: str, email: str | None, phone: str | None) -> str:
    return " ".join(part for part in (first, last) if part) or email or phone or ""


async def contact_dicts(ids: list[int]) -> dict[int, dict[str, Any]]:
    """Full contact dicts (unredacted) for ``ids``, in one query."""
    if not ids:
        return {}
    rows = await fetch(f"{_select()} WHERE contact.id IN ({placeholders(ids)})", ids)
    return {row["id"]: _contact(row) for row in rows}


def _contact(row: dict[str, Any]) -> dict[str, Any]:
    points = _points(row["points_json"])
    return {
        "id": row["id"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "name": _display_name(row["first_name"], row["last_name"], row["email"], row["phone"]),
        "email": row["email"],
        "phone": row["phone"],
        "emails": points["email"],
        "phones": points["phone"],
        "company_id": row["company"],
        "company_name": row["company_name"],
        "title": row["title"],
        "street": row["street"],
        "city": row["city"],
        "region": row["region"],
        "postal_code": row["postal_code"],
        "country": row["country"],
        "stage": row["stage"],
        "source": row["source"],
        "owner_id": row["owner"],
        "language": row["language"],
        "birthday": iso(row["birthday"]),
        "tags": sorted(load_json(row["tags_json"], [])),
        "custom": load_json(row["custom"], {}),
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def _visible(contact: dict[str, Any], actor: Actor) -> bool:
    return actor.sees_all_records or contact["owner_id"] == actor.user_id


async def _get(contact_id: int, actor: Actor) -> dict[str, Any]:
    try:
        contact_id = int(contact_id)
    except (TypeError, ValueError):
        raise NotFound(f"contact {contact_id!r} does not exist") from None
    contact = (await contact_dicts([contact_id])).get(contact_id)
    if contact is None or not _visible(contact, actor):
        raise NotFound(f"contact {contact_id} does not exist")
    return contact


async def get_contact(contact_id: int, actor: Actor) -> dict[str, Any]:
    """One contact, redacted for ``actor``; NotFound when missing or outside their scope."""
    require(actor, "contacts.read")
    return redact("contact", await _get(contact_id, actor), actor)


async def find_contacts_by_point(kind: str, value: str) -> list[int]:
    """Ids of contacts having this email (``kind="email"``) or phone (``"phone"``), in any
    format people type it; used by duplicate detection and inbound integrations."""
    if kind == "email":
        normalized = normalize_email(value)
    elif kind == "phone":
        normalized = normalize_phone(value, default_region())
    else:
        raise ValidationError.for_field("kind", "must be 'email' or 'phone'.")
    rows = await fetch(
        "SELECT DISTINCT contact FROM contact_point WHERE kind = {} AND value = {} "
        "ORDER BY contact",
        [kind, normalized],
    )
    return [row["contact"] for row in rows]


async def list_contacts(
    actor: Actor,
    *,
    q: str | None = None,
    tag: str | None = None,
    stage: str | None = None,
    owner: int | str | None = None,
    company: int | str | None = None,
    updated_since: Any = None,
    filters: dict[str, Any] | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Contacts newest first, one page at a time (keyset on id: page 5,000 costs what page
    1 costs, and contacts added while paging never repeat or shift a page).

    ``q`` is a full-text search (names, emails, phones in any format, company, tags),
    counting only the fields ``actor`` may read (a search by a hidden title finds nothing);
    ``owner`` is a user id or ``"me"``; ``company`` an id or a name; ``filters`` a tree of
    named filters (see ``crmcore.services.filters``). A filter on a field ``actor`` may not
    read raises FilterNotAllowed (``crmcore.services.filter_access``).
    """
    require(actor, "contacts.read")
    limit = check_limit(limit)
    check_parameters(
        actor,
        {
            "tag": tag,
            "stage": stage,
            "owner": owner,
            "company": company,
            "updated_since": updated_since,
        },
        LIST_PARAMETERS,
    )
    where: list[str] = []
    args: list[Any] = []

    def add(sql: str, *values: Any) -> None:
        where.append(sql)
        args.extend(values)

    source, key = FROM, "contact.id"
    if not actor.sees_all_records:
        add("contact.owner = {}", actor.user_id)
    if q is not None and q.strip():
        if engine_type() == "sqlite":
            match = fts5_match(q, default_region())
            if match is None:
                return Page(items=[], next=None)
            source, key = FTS_FROM, "contact_fts.rowid"
            add("contact_fts MATCH {}", match)
        else:
            condition = search_condition(q, engine_type(), default_region())
            if condition is None:
                return Page(items=[], next=None)
            add(condition[0], *condition[1])
    if tag:
        add(
            "EXISTS (SELECT 1 FROM contact_tag JOIN tag ON tag.id = contact_tag.tag "
            "WHERE contact_tag.contact = contact.id AND lower(tag.name) = lower(CAST({} AS TEXT)))",
            tag,
        )
    if stage:
        if stage not in STAGES:
            raise ValidationError.for_field("stage", f"must be one of {', '.join(STAGES)}.")
        add("contact.stage = {}", stage)
    if owner not in (None, ""):
        if owner == "me":
            owner = actor.user_id
        try:
            add("contact.owner = {}", int(owner))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValidationError.for_field("owner", "must be a user id or 'me'.") from None
    if company not in (None, ""):
        if isinstance(company, int) or str(company).isdigit():
            add("contact.company = {}", int(company))
        else:
            add("lower(company.name) = lower(CAST({} AS TEXT))", str(company))
    if updated_since not in (None, ""):
        add("contact.updated_at >= {}", parse_datetime(updated_since, "updated_since"))
    if filters:
        from crmcore.services.filters import compile_filter_tree

        sql, values = compile_filter_tree(filters, plugin_manager(), engine_type(), actor)
        add(sql, *values)
    after_id = decode_cursor(cursor)
    hidden = hidden_search_parts(actor) if q is not None and q.strip() else frozenset()
    if hidden:
        return await _visible_search_page(
            source, key, where, args, after_id, limit, actor, q or "", hidden
        )
    rows = await _page_rows(source, key, where, args, after_id, limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    items = [redact("contact", _contact(row), actor) for row in rows]
    return Page(items=items, next=encode_cursor(rows[-1]["id"]) if has_more else None)


async def _page_rows(
    source: str, key: str, where: list[str], args: list[Any], after_id: int | None, count: int
) -> list[dict[str, Any]]:
    """Up to ``count`` contact rows matching ``where``, newest first, after ``after_id``."""
    if after_id is not None:
        where, args = [*where, f"{key} < {{}}"], [*args, after_id]
    sql = _select(source)
    if where:
        sql += " WHERE " + " AND ".join(f"({w})" for w in where)
    return await fetch(sql + f" ORDER BY {key} DESC LIMIT {count}", args)


async def _visible_search_page(
    source: str,
    key: str,
    where: list[str],
    args: list[Any],
    after_id: int | None,
    limit: int,
    actor: Actor,
    q: str,
    hidden: frozenset[str],
) -> Page:
    """A page of search results for a reader who may not see some searchable fields.

    The index finds candidates newest first; only those the query matches on fields the
    reader may see are kept (``crmcore.services.visible_search``). Candidates are read in
    growing batches until the page is full. The cursor is the id of the last contact
    returned, so each visible match comes once, whatever the batches were. After
    ``MAX_CANDIDATES_PER_PAGE`` candidates the page is returned as it is (possibly short,
    even empty) with a cursor after the last candidate read, so one request stays bounded.
    """
    found: list[dict[str, Any]] = []
    batch, read = limit + 1, 0
    while True:
        rows = await _page_rows(source, key, where, args, after_id, batch)
        contacts = [_contact(row) for row in rows]
        matches = await visible_matches(contacts, q, default_region(), hidden)
        found.extend(contact for contact in contacts if contact["id"] in matches)
        read += len(rows)
        if len(found) > limit:
            found = found[:limit]
            next_cursor = encode_cursor(found[-1]["id"])
            break
        if len(rows) < batch:
            next_cursor = None
            break
        after_id = rows[-1]["id"]
        if read >= MAX_CANDIDATES_PER_PAGE:
            next_cursor = encode_cursor(after_id)
            break
        batch = min(batch * 2, 1000)
    return Page(items=[redact("contact", c, actor) for c in found], next=next_cursor)


# --------------------------------------------------------------------------- cleaning input


def _point_list(
    data: dict[str, Any], single: str, plural: str, current: list[str]
) -> list[Any] | None:
    """The new list of emails/phones the input asks for, or None when it names neither.

    A list (``emails``) replaces all; a single value (``email``) replaces the primary one
    and keeps the others; a single empty value removes the primary one.
    """
    if plural in data and data[plural] is not None:
        values = data[plural]
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list | tuple):
            raise ValidationError.for_field(plural, "must be a list.")
        values = list(values)
        if single in data and data[single]:
            values = [data[single], *[v for v in values if v != data[single]]]
        return values
    if single in data:
        rest = current[1:]
        return [data[single], *rest] if data[single] else rest
    return None


def _normalize_points(values: list[Any], kind: str, region: str) -> list[str]:
    result: list[str] = []
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and kind == "phone":
            value = str(value)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if not isinstance(value, str):
            raise ValidationError.for_field(kind, f"{value!r} is not text.")
        normalized = normalize_email(value) if kind == "email" else normalize_phone(value, region)
        if normalized not in result:
            result.append(normalized)
    return result


async def _clean(data: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    """The contact as it will be after this write (company given by name is resolved later)."""
    if not isinstance(data, dict):
        raise ValidationError("a contact must be given as an object of fields")
    unknown = set(data) - WRITABLE - READ_ONLY
    if unknown:
        raise ValidationError(
            f"unknown contact fields: {', '.join(sorted(unknown))}",
            {name: "is not a contact field" for name in unknown},
        )
    creating = existing is None
    after: dict[str, Any] = dict(existing or {})
    for key, limit in TEXT_FIELDS.items():
        if key in data or creating:
            after[key] = clean_text(data, key, limit)
    if "country" in data or creating:
        country = clean_text(data, "country", 2).upper()
        if country and not (len(country) == 2 and country.isalpha()):
            raise ValidationError.for_field("country", "use a two-letter country code (IR, DE).")
        after["country"] = country
    region = after.get("country") or default_region()
    emails = _point_list(data, "email", "emails", after.get("emails") or [])
    if emails is not None:
        after["emails"] = _normalize_points(emails, "email", region)
    elif creating:
        after["emails"] = []
    phones = _point_list(data, "phone", "phones", after.get("phones") or [])
    if phones is not None:
        after["phones"] = _normalize_points(phones, "phone", region)
    elif creating:
        after["phones"] = []
    after["email"] = after["emails"][0] if after["emails"] else None
    after["phone"] = after["phones"][0] if after["phones"] else None
    if "stage" in data or creating:
        stage = data.get("stage") or "lead"
        if stage not in STAGES:
            raise ValidationError.for_field("stage", f"must be one of {', '.join(STAGES)}.")
        after["stage"] = stage
    if "owner_id" in data or creating:
        after["owner_id"] = await _check_owner(data.get("owner_id"))
    if "birthday" in data or creating:
        birthday = parse_date(data.get("birthday"), "birthday")
        after["birthday"] = birthday.isoformat() if isinstance(birthday, date) else None
    if "tags" in data or creating:
        after["tags"] = clean_tag_names(data.get("tags") or [])
    if "custom" in data or creating:
        values = await validate_custom("contact", data.get("custom"), partial=not creating)
        merged = {**(existing or {}).get("custom", {}), **values}
        after["custom"] = {k: v for k, v in merged.items() if v is not None}
    await _clean_company(data, after, creating)
    if not (
        after.get("first_name") or after.get("last_name") or after["emails"] or after["phones"]
    ):
        raise ValidationError(
            "a contact needs a name, an email address or a phone number",
            {"first_name": "give a name, an email address or a phone number"},
        )
    after["name"] = _display_name(
        after["first_name"], after["last_name"], after["email"], after["phone"]
    )
    return after


async def _clean_company(data: dict[str, Any], after: dict[str, Any], creating: bool) -> None:
    if data.get("company_id") not in (None, ""):
        try:
            company_id = int(data["company_id"])
        except (TypeError, ValueError):
            raise ValidationError.for_field("company_id", "must be a company id.") from None
        row = await Company.select(Company.name).where(Company.id == company_id).first()
        if row is None:
            raise ValidationError.for_field("company_id", f"there is no company {company_id}.")
        after["company_id"], after["company_name"] = company_id, row["name"]
        after.pop("_company_to_create", None)
    elif isinstance(data.get("company"), str) and data["company"].strip():
        name = data["company"].strip()
        if len(name) > 300:
            raise ValidationError.for_field("company", "is too long (at most 300 characters).")
        if (after.get("company_name") or "").lower() != name.lower() or creating:
            after["company_id"], after["company_name"] = None, name
            after["_company_to_create"] = name
    elif "company_id" in data or "company" in data or creating:
        after["company_id"], after["company_name"] = None, None


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


def _public(clean: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in clean.items() if not k.startswith("_")}


async def _validate_with_plugins(clean: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """Plugins veto a write by raising ValidationError; it reaches the caller unchanged."""
    pm = plugin_manager()
    if pm is not None:
        await pm.acall("validate_contact", data=_public(clean), existing=existing)


# --------------------------------------------------------------------------- writing


def _row_values(clean: dict[str, Any]) -> dict[str, Any]:
    return {
        **{key: clean[key] for key in TEXT_FIELDS},
        "country": clean["country"],
        "email": clean["email"],
        "phone": clean["phone"],
        "company": clean["company_id"],
        "stage": clean["stage"],
        "owner": clean["owner_id"],
        "birthday": date.fromisoformat(clean["birthday"]) if clean["birthday"] else None,
        "custom": clean["custom"],
    }


async def _write_points(contact_id: int, clean: dict[str, Any]) -> None:
    await ContactPoint.delete().where(ContactPoint.contact == contact_id)
    rows = [
        ContactPoint(contact=contact_id, kind=kind, value=value, is_primary=index == 0)
        for kind, values in (("email", clean["emails"]), ("phone", clean["phones"]))
        for index, value in enumerate(values)
    ]
    if rows:
        await ContactPoint.insert(*rows)


async def _write_tags(contact_id: int, names: list[str]) -> None:
    await ContactTag.delete().where(ContactTag.contact == contact_id)
    ids = await tag_ids(names)
    if ids:
        await ContactTag.insert(*[ContactTag(contact=contact_id, tag=i) for i in ids.values()])


async def _resolve_company(clean: dict[str, Any], actor: Actor) -> None:
    name = clean.pop("_company_to_create", None)
    if name:
        company = await get_or_create_company(name, None, actor)
        clean["company_id"], clean["company_name"] = company["id"], company["name"]


def _audited(contact: dict[str, Any]) -> dict[str, Any]:
    return {key: contact.get(key) for key in AUDITED}


def _fire(hook: str, **kwargs: Any) -> None:
    pm = plugin_manager()
    if pm is not None:
        after_commit(lambda: pm.fire(hook, **kwargs))


async def create_contact(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Create a contact (owner defaults to the acting user); returns it as the API shows it.

    Raises ValidationError (invalid email/phone/custom value, or a plugin's veto) before
    anything is stored.
    """
    require(actor, "contacts.write")
    data = dict(data)
    if "owner_id" not in data and actor.user_id is not None:
        data["owner_id"] = actor.user_id
    clean = await _clean(data, None)
    await _validate_with_plugins(clean, None)
    async with write_transaction():
        await _resolve_company(clean, actor)
        stamp = now()
        rows = await Contact.insert(
            Contact(
                **_row_values(clean),
                search_text=contact_text(clean),
                created_at=stamp,
                updated_at=stamp,
            )
        )
        contact_id = rows[0]["id"]
        await _write_points(contact_id, clean)
        await _write_tags(contact_id, clean["tags"])
        await StageChange.insert(
            StageChange(
                contact=contact_id,
                from_stage=None,
                to_stage=clean["stage"],
                changed_at=stamp,
                changed_by=actor.user_id,
            )
        )
        contact = (await contact_dicts([contact_id]))[contact_id]
        await record_audit(
            table="contact",
            record_id=contact_id,
            action="create",
            changes=diff(None, _audited(contact)),
            actor=actor,
        )
        await emit_event("contact.created", contact)
        _fire("contact_saved", contact=contact, created=True, changes={}, actor=actor)
    return redact("contact", contact, actor)


async def update_contact(contact_id: int, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Change the given fields of a contact; the audit entry holds each field's before and
    after. ``email``/``phone`` replace the primary address; ``emails``/``phones`` the list."""
    require(actor, "contacts.write")
    current = await _get(contact_id, actor)
    clean = await _clean(dict(data), current)
    if not diff(_audited(current), _audited(clean)) and not clean.get("_company_to_create"):
        return redact("contact", current, actor)
    await _validate_with_plugins(clean, current)
    async with write_transaction():
        # Re-read under the write lock: fields this update does not touch keep whatever a
        # concurrent writer stored meanwhile.
        before = await _get(contact_id, actor)
        clean = await _clean(dict(data), before)
        await _resolve_company(clean, actor)
        changes = diff(_audited(before), _audited(clean))
        if not changes:
            return redact("contact", before, actor)
        stamp = now()
        notes = (await contact_notes_text([before["id"]])).get(before["id"], "")
        await Contact.update(
            {**_row_values(clean), "search_text": contact_text(clean, notes), "updated_at": stamp}
        ).where(Contact.id == before["id"])
        if "emails" in changes or "phones" in changes:
            await _write_points(before["id"], clean)
        if "tags" in changes:
            await _write_tags(before["id"], clean["tags"])
        if "stage" in changes:
            await StageChange.insert(
                StageChange(
                    contact=before["id"],
                    from_stage=before["stage"],
                    to_stage=clean["stage"],
                    changed_at=stamp,
                    changed_by=actor.user_id,
                )
            )
        after = (await contact_dicts([before["id"]]))[before["id"]]
        await record_audit(
            table="contact",
            record_id=before["id"],
            action="update",
            changes=changes,
            actor=actor,
        )
        await emit_event(
            "contact.updated", {"id": before["id"], "changes": changes, "contact": after}
        )
        if "stage" in changes:
            await emit_event(
                "contact.stage_changed",
                {"id": before["id"], "from": before["stage"], "to": after["stage"]},
            )
        _fire(
            "contact_saved",
            contact=after,
            created=False,
            changes={k: tuple(v) for k, v in changes.items()},
            actor=actor,
        )
    return redact("contact", after, actor)


async def delete_contact(contact_id: int, actor: Actor) -> None:
    """Delete a contact with its emails, phones, tags, stage history and interactions."""
    require(actor, "contacts.delete")
    async with write_transaction():
        before = await _get(contact_id, actor)
        await Contact.delete().where(Contact.id == before["id"])
        await record_audit(
            table="contact",
            record_id=before["id"],
            action="delete",
            changes=diff(_audited(before), None),
            actor=actor,
        )
        await emit_event("contact.deleted", {"id": before["id"], "contact": before})
        _fire("contact_deleted", contact=before, actor=actor)


async def refresh_search_text(contact_ids: list[int]) -> None:
    """Recompute the search text of these contacts (after a company rename, a tag change or
    a new note). Joins the caller's write transaction, or opens one."""
    ids = sorted(set(contact_ids))
    async with write_transaction():
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            contacts = await contact_dicts(chunk)
            notes = await contact_notes_text(chunk)
            for contact_id, contact in contacts.items():
                await Contact.update(
                    {"search_text": contact_text(contact, notes.get(contact_id, ""))}
                ).where(Contact.id == contact_id)


async def stage_history(contact_id: int, actor: Actor) -> list[dict[str, Any]]:
    """A contact's lifecycle stages, oldest first."""
    await get_contact(contact_id, actor)
    rows = (
        await StageChange.select()
        .where(StageChange.contact == int(contact_id))
        .order_by(StageChange.id)
    )
    return [
        {
            "from_stage": row["from_stage"],
            "to_stage": row["to_stage"],
            "changed_at": iso(row["changed_at"]),
            "changed_by": row["changed_by"],
        }
        for row in rows
    ]
