"""Inbound webhooks: other systems (ERP, call centre, shop) post interactions to the CRM.

A source is registered with ``crm webhooks inbound-add SOURCE`` and gets a secret. It posts
JSON to ``POST /api/v1/inbound/{source}`` signed exactly like our outgoing webhooks
(``X-CRM-Timestamp`` and ``X-CRM-Signature: sha256=HMAC(secret, "{timestamp}.{body}")``).
The body is an interaction (``channel``, ``occurred_at``, ``subject``, ``body``, ``value``,
``currency``, ``direction``, ``meta``) with a required ``external_id`` and either a
``contact_id`` or a ``contact`` object (``email`` / ``phone`` find the person; when nobody
matches, a contact is created from the object's fields). The interaction's ``source`` is
the source name.

Posting is **idempotent by external_id**: the first post answers 201 with the new id; the
same external_id again answers 200 with the id stored the first time and stores nothing.
"""

from __future__ import annotations

import re
from typing import Any

from crmcore.automation_app.tables import InboundSource
from crmcore.errors import Conflict, NotFound, ValidationError
from crmcore.jobs import clock
from crmcore.services.actor import Actor
from crmcore.services.audit import record_audit
from crmcore.services.transaction import write_transaction
from crmcore.services.webhooks import new_secret, verify_signature
from crmcore.tables import Interaction

SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "title", "city", "country")


def inbound_actor(source: str) -> Actor:
    return Actor(
        user_id=None, label=f"inbound:{source}", permissions=frozenset({"*"}), is_system=True
    )


async def add_inbound_source(
    name: str, actor: Actor, *, secret: str | None = None
) -> dict[str, Any]:
    """Register a source; returns it with its ``secret`` (shown once)."""
    name = (name or "").strip().lower()
    if not SOURCE_RE.match(name):
        raise ValidationError.for_field(
            "source", "use 1-64 lower-case letters, digits, '-' or '_' (e.g. 'erp')"
        )
    secret = secret or new_secret()
    if len(secret) < 16:
        raise ValidationError.for_field("secret", "must be at least 16 characters")
    async with write_transaction():
        if await InboundSource.exists().where(InboundSource.name == name):
            raise Conflict(f"inbound source {name!r} already exists")
        rows = await InboundSource.insert(
            InboundSource(name=name, secret=secret, active=True, created_at=clock.now())
        )
        await record_audit(
            table="automation_inbound_source",
            record_id=rows[0]["id"],
            action="create",
            changes={"name": [None, name]},
            actor=actor,
            plugin="automation",
        )
    return {"id": rows[0]["id"], "name": name, "secret": secret}


async def list_inbound_sources() -> list[dict[str, Any]]:
    rows = await InboundSource.select(
        InboundSource.id, InboundSource.name, InboundSource.active, InboundSource.created_at
    ).order_by(InboundSource.name)
    return [{**row, "active": bool(row["active"])} for row in rows]


async def remove_inbound_source(name: str, actor: Actor) -> None:
    async with write_transaction():
        row = await InboundSource.select().where(InboundSource.name == name).first()
        if row is None:
            raise NotFound(f"inbound source {name!r} not found")
        await InboundSource.delete().where(InboundSource.id == row["id"])
        await record_audit(
            table="automation_inbound_source",
            record_id=row["id"],
            action="delete",
            changes={"name": [name, None]},
            actor=actor,
            plugin="automation",
        )


async def verify_inbound(
    source: str, timestamp: str | None, signature: str | None, body: bytes
) -> bool:
    """True when ``source`` is an active source and the body carries its valid signature."""
    row = (
        await InboundSource.select(InboundSource.secret)
        .where((InboundSource.name == source) & InboundSource.active.eq(True))
        .first()
    )
    return row is not None and verify_signature(row["secret"], timestamp, signature, body)


async def _existing(source: str, external_id: str) -> int | None:
    row = (
        await Interaction.select(Interaction.id)
        .where((Interaction.source == source) & (Interaction.external_id == external_id))
        .first()
    )
    return None if row is None else row["id"]


async def _contact_for(data: dict[str, Any], actor: Actor) -> int:
    from crmcore.services.contacts import create_contact, find_contacts_by_point

    if data.get("contact_id") is not None:
        return data["contact_id"]
    person = data.get("contact")
    if not isinstance(person, dict):
        raise ValidationError.for_field(
            "contact", "give contact_id, or a contact object with an email or phone"
        )
    for kind in ("email", "phone"):
        if person.get(kind):
            found = await find_contacts_by_point(kind, str(person[kind]))
            if found:
                return found[0]
    fields = {k: person[k] for k in CONTACT_FIELDS if person.get(k) not in (None, "")}
    contact = await create_contact({**fields, "source": actor.label}, actor)
    return int(contact["id"])


async def receive_inbound(source: str, data: Any) -> tuple[dict[str, Any], bool]:
    """Store a posted interaction once; returns (``{"id": …}``, created?)."""
    from crmcore.services.interactions import log_interaction

    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object describing one interaction")
    external_id = str(data.get("external_id") or "").strip()
    if not external_id:
        raise ValidationError.for_field("external_id", "is required (it makes posts idempotent)")
    existing = await _existing(source, external_id)
    if existing is not None:
        return {"id": existing}, False
    actor = inbound_actor(source)
    fields = {k: v for k, v in data.items() if k not in ("contact", "contact_id", "source")}
    fields.update(source=source, external_id=external_id)
    try:
        async with write_transaction():
            fields["contact_id"] = await _contact_for(data, actor)
            interaction = await log_interaction(fields, actor)
    except Conflict:
        existing = await _existing(source, external_id)
        if existing is None:
            raise
        return {"id": existing}, False
    return {"id": interaction["id"]}, True
