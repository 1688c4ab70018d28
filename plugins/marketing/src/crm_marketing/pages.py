"""Marketing pages under ``/marketing/``: campaigns with their report charts, segments, and
the public endpoints email points at (open pixel, click redirect, one-click unsubscribe)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from crm_marketing import campaigns as svc
from crm_marketing import tracking
from crm_marketing.config import tracking_secret
from crm_marketing.reports import campaign_report
from crm_marketing.segments import counted_segments
from crmcore.auth.guards import requires
from crmcore.errors import NotFound
from crmcore.services.actor import Actor
from crmcore.web.charts import bar_chart, stacked_bar_chart
from crmcore.web.i18n import format_date
from crmcore.web.templating import translator_for
from crmcore.web.views.language import request_language

READ = requires("marketing.read")
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
PUBLIC = {"public": True}


def _secret(request: Request[Any, Any, Any]) -> str:
    return tracking_secret(request.app.state.settings)


@get("/", name="marketing:campaigns", guards=[READ], include_in_schema=False)
async def campaign_list(actor: NamedDependency[Actor]) -> Template:
    segments = await counted_segments(actor)
    return Template(
        template_name="marketing/list.html",
        context={"campaigns": await svc.list_campaigns(), "segments": segments},
    )


@get("/campaigns/{campaign_id:int}", name="marketing:campaign", guards=[READ],
     include_in_schema=False)  # fmt: skip
async def campaign_page(request: Request[Any, Any, Any], campaign_id: FromPath[int]) -> Template:
    campaign = await svc.get_campaign(campaign_id)
    report = await campaign_report(campaign_id)
    lang = request_language(request)
    _ = translator_for(request).gettext
    totals = report["totals"]
    keys = ["sent", "delivered", "opened", "clicked", "unsubscribed", "bounced"]
    funnel = bar_chart([_(k) for k in keys], [totals[k] for k in keys], _("Campaign results"),
                       lang=lang)  # fmt: skip
    days = [format_date(dt.date.fromisoformat(str(d["day"])[:10]), lang) for d in report["days"]]
    series = {
        _(label): [d.get(k, 0) for d in report["days"]]
        for k, label in (("sent", "sent"), ("open", "opened"), ("click", "clicked"))
    }
    over_time = stacked_bar_chart(days, series, _("Over time"), lang=lang) if days else None
    return Template(
        template_name="marketing/campaign.html",
        context={"campaign": campaign, "report": report, "funnel": funnel,
                 "over_time": over_time},
    )  # fmt: skip


@get("/t/o/{send_id:int}/{signature:str}", name="marketing:open", opt=PUBLIC,
     include_in_schema=False)  # fmt: skip
async def open_pixel(
    request: Request[Any, Any, Any], send_id: FromPath[int], signature: FromPath[str]
) -> Response[bytes]:
    """Always the transparent GIF; the open is recorded only when the signature holds."""
    await tracking.record_open(_secret(request), send_id, signature.removesuffix(".gif"),
                               request.headers.get("user-agent", ""))  # fmt: skip
    return Response(PIXEL, media_type="image/gif",
                    headers={"Cache-Control": "no-store, private"})  # fmt: skip


@get("/t/c/{send_id:int}/{signature:str}", name="marketing:click", opt=PUBLIC,
     include_in_schema=False)  # fmt: skip
async def click_redirect(
    request: Request[Any, Any, Any], send_id: FromPath[int], signature: FromPath[str],
    u: FromQuery[str] = "",
) -> Redirect:  # fmt: skip
    """Redirect only to a URL that was in this send's message."""
    try:
        url = await tracking.record_click(_secret(request), send_id, signature, u,
                                          request.headers.get("user-agent", ""))  # fmt: skip
    except NotFound as exc:
        raise NotFoundException(detail=exc.message) from exc
    return Redirect(url, status_code=302)


@get("/u/{send_id:int}/{signature:str}", name="marketing:unsubscribe_form", opt=PUBLIC,
     include_in_schema=False)  # fmt: skip
async def unsubscribe_form(send_id: FromPath[int], signature: FromPath[str]) -> Template:
    """A confirmation page: mail scanners follow GET links, so GET changes nothing."""
    context = {"send_id": send_id, "signature": signature, "done": False}
    return Template(template_name="marketing/unsubscribe.html", context=context)


@post("/u/{send_id:int}/{signature:str}", name="marketing:unsubscribe", opt=PUBLIC,
      include_in_schema=False, status_code=200)  # fmt: skip
async def unsubscribe_post(
    request: Request[Any, Any, Any], send_id: FromPath[int], signature: FromPath[str]
) -> Template:
    """One-click unsubscribe (RFC 8058 POST from the mail client, or the form)."""
    try:
        await tracking.unsubscribe(_secret(request), send_id, signature)
    except NotFound as exc:
        raise NotFoundException(detail=exc.message) from exc
    context = {"send_id": send_id, "signature": signature, "done": True}
    return Template(template_name="marketing/unsubscribe.html", context=context)


def page_handlers() -> list[Any]:
    return [campaign_list, campaign_page, open_pixel, click_redirect, unsubscribe_form,
            unsubscribe_post]  # fmt: skip
