"""The box on a contact's page: consent per channel, lead score and the last sends."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from crm_marketing.consent import consent_state
from crm_marketing.scoring import contact_score
from crmcore.services.records import fetch, iso
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
    blocked = ", ".join(escape(b["channel"]) for b in consent["do_not_contact"]) or _("none")
    items = "".join(
        f"<li>{escape(s['name'])}: {escape(s['state'])} {escape(iso(s['sent_at']) or '')}"
        f"{' · ' + escape(_('opened')) if s['opened_at'] else ''}"
        f"{' · ' + escape(_('clicked')) if s['clicked_at'] else ''}</li>"
        for s in sends
    )
    html = Markup(
        f"<p>{escape(_('Lead score'))}: <strong>{score}</strong></p>"
        f"<p>{escape(_('Do not contact'))}: {blocked}</p>"
        f"<ul>{items or '<li>' + escape(_('No marketing email yet')) + '</li>'}</ul>"
    )
    return [Panel(title=_("Marketing"), html=html, order=60)]
