"""The box on a contact's page: consent per channel, lead score and the last sends."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from crm_marketing.consent import consent_state
from crm_marketing.scoring import contact_score
from crmcore.services.records import fetch
from crmcore.web.hooks import Panel
from crmcore.web.templating import translator_for
from crmcore.web.views.session import request_actor


async def marketing_panel(request: Any, contact: dict[str, Any]) -> list[Panel]:
    """Nothing for users without ``marketing.read``."""
    actor = request_actor(request)
    if actor is None or not actor.can("marketing.read"):
        return []
    _ = translator_for(request).gettext
    consent = await consent_state(int(contact["id"]))
    score = await contact_score(int(contact["id"]))
    sends = await fetch(
        "SELECT s.sent_at, s.state, s.opened_at, s.clicked_at, c.name FROM marketing_send s "
        "JOIN marketing_campaign c ON c.id = s.campaign WHERE s.contact = {} "
        "ORDER BY s.id DESC LIMIT 5",
        [contact["id"]],
    )
    template = request.app.template_engine.engine.get_template("marketing/contact_panel.html")
    html = template.render(request=request, score=score, consent=consent, sends=sends)
    return [Panel(title=_("Marketing"), html=Markup(html), order=60)]
