"""REST API for duplicates and merging: ``/api/v1/contacts/duplicates`` and
``/api/v1/contacts/merge``."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from crmcore.api.contacts import contact_out
from crmcore.api.structs import ContactOut
from crmcore.auth.guards import requires
from crmcore.errors import ValidationError
from crmcore.permissions import redact
from crmcore.services.actor import Actor
from crmcore.services.contacts import contact_dicts
from crmcore.services.duplicates import find_duplicate_pairs
from crmcore.services.merge import merge_contacts

__all__ = ["DuplicateController"]


class ContactBrief(msgspec.Struct, omit_defaults=True):
    """Enough of a contact to tell two apart."""

    id: int
    name: str = ""
    email: str | None = None
    phone: str | None = None
    company_name: str | None = None
    created_at: str | None = None


class DuplicatePairOut(msgspec.Struct):
    """Two contacts that look like one person; ``score`` is 100 for a shared email or
    phone, else the name similarity (90–99) within one company."""

    contact: ContactBrief
    other: ContactBrief
    score: int
    reasons: list[str]


class DuplicateList(msgspec.Struct):
    items: list[DuplicatePairOut]


class MergeIn(msgspec.Struct, forbid_unknown_fields=True):
    """Merge ``merged_id`` into ``survivor_id``; ``fields`` picks, per field, whose value
    the survivor keeps (unnamed fields: the survivor's, unless it is empty)."""

    survivor_id: int
    merged_id: int
    fields: dict[str, Literal["survivor", "merged"]] = msgspec.field(default_factory=dict)


def _brief(contact: dict[str, Any] | None, contact_id: int, actor: Actor) -> ContactBrief:
    if contact is None:
        return ContactBrief(id=contact_id)
    visible = redact("contact", contact, actor)
    return msgspec.convert(
        {k: visible.get(k) for k in ("id", "name", "email", "phone", "company_name", "created_at")},
        ContactBrief,
    )


class DuplicateController(Controller):
    path = "/contacts"
    tags = ["contacts"]

    @get(
        "/duplicates",
        summary="Candidate duplicate pairs with scores",
        guards=[requires("contacts.read")],
    )
    async def duplicates(
        self,
        actor: NamedDependency[Actor],
        limit: FromQuery[int] = 100,
        min_score: FromQuery[int] = 90,
        company_id: FromQuery[int | None] = None,
    ) -> DuplicateList:
        if not 1 <= limit <= 1000:
            raise ValidationError.for_field("limit", "must be between 1 and 1000")
        if not 50 <= min_score <= 100:
            raise ValidationError.for_field("min_score", "must be between 50 and 100")
        if company_id is not None and not 0 < company_id < 2**63:
            raise ValidationError.for_field("company_id", "is not a company id")
        pairs = await find_duplicate_pairs(limit=limit, min_score=min_score, company_id=company_id)
        ids = sorted({i for p in pairs for i in (p.contact_id, p.other_id)})
        contacts = await contact_dicts(ids)
        if not actor.sees_all_records:
            mine = {i for i, c in contacts.items() if c["owner_id"] == actor.user_id}
            pairs = [p for p in pairs if p.contact_id in mine and p.other_id in mine]
        return DuplicateList(
            items=[
                DuplicatePairOut(
                    contact=_brief(contacts.get(p.contact_id), p.contact_id, actor),
                    other=_brief(contacts.get(p.other_id), p.other_id, actor),
                    score=p.score,
                    reasons=p.reasons,
                )
                for p in pairs
            ]
        )

    @post(
        "/merge",
        summary="Merge one contact into another",
        guards=[requires("contacts.merge")],
        status_code=200,
    )
    async def merge(self, data: JSONBody[MergeIn], actor: NamedDependency[Actor]) -> ContactOut:
        """Interactions, tasks, tags, emails, phones and every plugin's rows move to the
        survivor; the merged contact is deleted. 404 if either is missing, 409 if a
        plugin cannot move its data (nothing is changed then)."""
        contact = await merge_contacts(data.survivor_id, data.merged_id, actor, dict(data.fields))
        return contact_out(contact)
