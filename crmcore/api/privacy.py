"""REST API for privacy requests (permission ``privacy.manage``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from crmcore.auth.guards import requires
from crmcore.services.actor import Actor

__all__ = ["PrivacyController"]


class PrivacyController(Controller):
    path = "/privacy/contacts"
    tags = ["privacy"]
    guards = [requires("privacy.manage")]

    @get("/{contact_id:int}/export", summary="Everything stored about a person, one document")
    async def export(
        self, contact_id: FromPath[int], actor: NamedDependency[Actor]
    ) -> dict[str, Any]:
        from crmcore.services.privacy import export_contact

        return await export_contact(contact_id, actor)

    @post(
        "/{contact_id:int}/erase",
        summary="Erase a person everywhere (cannot be undone; the audit log notes it)",
        status_code=200,
    )
    async def erase(
        self, contact_id: FromPath[int], actor: NamedDependency[Actor]
    ) -> dict[str, Any]:
        from crmcore.services.privacy import erase_contact

        return await erase_contact(contact_id, actor)
