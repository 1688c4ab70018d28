"""The marketing REST API, mounted under ``/api/v1/marketing/``. Handlers translate HTTP
to the services, which hold every rule."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from crm_marketing import campaigns, consent, scoring, segments, templates_store
from crm_marketing.reports import campaign_report
from crmcore.auth.guards import requires
from crmcore.services.actor import Actor

READ, WRITE = requires("marketing.read"), requires("marketing.write")
SEND, CONSENT = requires("marketing.send"), requires("marketing.consent")


class SegmentIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    filter: dict[str, Any] | None = None
    static: bool = False


class ListMembersIn(msgspec.Struct, forbid_unknown_fields=True):
    contact_ids: list[int]


class TemplateIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    subject: str = ""
    html: str = ""
    text: str = ""


class CampaignIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str = ""
    kind: str = "broadcast"
    segment: int | str | None = None
    template: int | str | None = None
    subject: str = ""
    steps: list[dict[str, Any]] = []
    trigger: dict[str, Any] = {}


class EnrolIn(msgspec.Struct, forbid_unknown_fields=True):
    contact_ids: list[int]


class ConsentIn(msgspec.Struct, forbid_unknown_fields=True):
    action: str
    channel: str = "email"
    purpose: str = "marketing"
    legal_basis: str = "consent"
    source: str = ""


class RuleIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    points: int = 0
    params: dict[str, Any] = {}


class VisitIn(msgspec.Struct, forbid_unknown_fields=True):
    contact_id: int
    url: str = ""


class MarketingController(Controller):
    path = "/"
    tags = ["marketing"]

    @get("/segments", guards=[READ])
    async def list_segments(self, actor: NamedDependency[Actor]) -> list[dict[str, Any]]:
        return await segments.counted_segments(actor)

    @post("/segments", guards=[WRITE])
    async def create_segment(
        self, data: JSONBody[SegmentIn], actor: NamedDependency[Actor]
    ) -> dict[str, Any]:
        segment = await segments.create_segment(data.name, data.filter, actor, static=data.static)
        return {**segment, "count": await segments.count_segment(segment, reader=actor)}

    @get("/segments/{segment_id:int}/members", guards=[READ])
    async def segment_members(
        self, segment_id: FromPath[int], actor: NamedDependency[Actor],
        limit: FromQuery[int] = 50, offset: FromQuery[int] = 0,
    ) -> dict[str, Any]:  # fmt: skip
        segment = await segments.get_segment(segment_id)
        return {
            "count": await segments.count_segment(segment, reader=actor),
            "mailable": await segments.count_segment(segment, mailable=True, reader=actor),
            "items": await segments.segment_members(
                segment, limit=min(max(limit, 1), 500), offset=max(offset, 0), reader=actor
            ),
        }

    @post("/segments/{segment_id:int}/members", guards=[WRITE])
    async def add_members(
        self, segment_id: FromPath[int], data: JSONBody[ListMembersIn],
        actor: NamedDependency[Actor],
    ) -> dict[str, int]:  # fmt: skip
        return {"added": await segments.add_to_list(segment_id, data.contact_ids, actor)}

    @get("/templates", guards=[READ])
    async def list_templates(self) -> list[dict[str, Any]]:
        return await templates_store.list_templates()

    @post("/templates", guards=[WRITE])
    async def create_template(
        self, data: JSONBody[TemplateIn], actor: NamedDependency[Actor]
    ) -> dict[str, Any]:
        return await templates_store.create_template(msgspec.structs.asdict(data), actor)

    @get("/templates/{template_id:int}/preview", guards=[READ])
    async def preview(
        self, template_id: FromPath[int], contact_id: FromQuery[int], actor: NamedDependency[Actor]
    ) -> dict[str, Any]:
        return await templates_store.preview_template(template_id, contact_id, actor)

    @get("/campaigns", guards=[READ])
    async def list_campaigns(self) -> list[dict[str, Any]]:
        return await campaigns.list_campaigns()

    @post("/campaigns", guards=[WRITE])
    async def create_campaign(
        self, data: JSONBody[CampaignIn], actor: NamedDependency[Actor]
    ) -> dict[str, Any]:
        return await campaigns.create_campaign(msgspec.structs.asdict(data), actor)

    @get("/campaigns/{campaign_id:int}", guards=[READ])
    async def get_campaign(self, campaign_id: FromPath[int]) -> dict[str, Any]:
        return {**await campaigns.get_campaign(campaign_id),
                "report": await campaign_report(campaign_id)}  # fmt: skip

    @post("/campaigns/{campaign_id:int}/start", guards=[SEND], status_code=200)
    async def start(
        self, campaign_id: FromPath[int], actor: NamedDependency[Actor]
    ) -> dict[str, Any]:
        return await campaigns.start_campaign(campaign_id, actor)

    @post("/campaigns/{campaign_id:int}/pause", guards=[SEND], status_code=200)
    async def pause(
        self, campaign_id: FromPath[int], actor: NamedDependency[Actor]
    ) -> dict[str, Any]:
        return await campaigns.pause_campaign(campaign_id, actor)

    @post("/campaigns/{campaign_id:int}/resume", guards=[SEND], status_code=200)
    async def resume(
        self, campaign_id: FromPath[int], actor: NamedDependency[Actor]
    ) -> dict[str, Any]:
        return await campaigns.resume_campaign(campaign_id, actor)

    @post("/campaigns/{campaign_id:int}/enrol", guards=[SEND], status_code=200)
    async def enrol(self, campaign_id: FromPath[int], data: JSONBody[EnrolIn]) -> dict[str, int]:
        from crm_marketing.drip import enrol

        return {"enrolled": await enrol(campaign_id, data.contact_ids)}

    @get("/contacts/{contact_id:int}/consent", guards=[READ])
    async def get_consent(self, contact_id: FromPath[int]) -> dict[str, Any]:
        return {**await consent.consent_state(contact_id),
                "score": await scoring.contact_score(contact_id)}  # fmt: skip

    @post("/contacts/{contact_id:int}/consent", guards=[CONSENT])
    async def record_consent(
        self, contact_id: FromPath[int], data: JSONBody[ConsentIn], actor: NamedDependency[Actor]
    ) -> dict[str, Any]:
        return await consent.record_consent(
            contact_id, data.action, actor, channel=data.channel, purpose=data.purpose,
            legal_basis=data.legal_basis, source=data.source,
        )  # fmt: skip

    @get("/scoring/rules", guards=[READ])
    async def list_rules(self) -> list[dict[str, Any]]:
        return await scoring.list_rules()

    @post("/scoring/rules", guards=[WRITE])
    async def create_rule(
        self, data: JSONBody[RuleIn], actor: NamedDependency[Actor]
    ) -> dict[str, Any]:
        return await scoring.create_rule(msgspec.structs.asdict(data), actor)

    @post("/scoring/visits", guards=[WRITE], status_code=200)
    async def page_visit(self, data: JSONBody[VisitIn]) -> dict[str, Any]:
        """A page visit by a known contact (from a site's tracking snippet via the API)."""
        return {"score": await scoring.score_event(data.contact_id, "page_visit")}
