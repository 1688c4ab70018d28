"""The box the geo plugin adds to a contact's page: where the contact is, whether they
agreed to be located, their last check-in and the contacts nearby."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from crm_geo.checkins import list_checkins
from crm_geo.consent import location_consent
from crm_geo.locations import location_of
from crm_geo.queries import nearest
from crmcore.web.hooks import Panel
from crmcore.web.templating import translator_for
from crmcore.web.views.session import request_actor

__all__ = ["contact_panel"]

NEARBY = 5
NEARBY_MAX_KM = 50.0


async def contact_panel(request: Any, contact: dict[str, Any]) -> list[Panel]:
    """Nothing for users without ``geo.read``."""
    actor = request_actor(request)
    if actor is None or not actor.can("geo.read"):
        return []
    location = await location_of(contact_id=contact["id"])
    nearby = []
    if location is not None:
        hits = await nearest(
            actor,
            location["lat"],
            location["lon"],
            NEARBY + 1,
            kinds=["contact"],
            max_km=NEARBY_MAX_KM,
        )
        nearby = [hit for hit in hits if hit.id != contact["id"]][:NEARBY]
    checkins = await list_checkins(actor, contact["id"], limit=1)
    template = request.app.template_engine.engine.get_template("geo/contact_panel.html")
    html = template.render(
        request=request,
        contact=contact,
        location=location,
        nearby=nearby,
        nearby_max_km=NEARBY_MAX_KM,
        consent=await location_consent(contact["id"], actor),
        last_checkin=checkins[0] if checkins else None,
        can_write=actor.can("geo.write"),
    )
    title = translator_for(request).gettext("Location")
    return [Panel(title=title, html=Markup(html), order=40)]
