"""Lead scoring with thresholds, the consent log, privacy export/erase and merges."""

from __future__ import annotations

import pytest
from crm_marketing import scoring
from crm_marketing.consent import consent_state, record_consent
from crm_marketing.privacy import erase_contact, export_contact, move_contact

from crmcore.errors import ValidationError
from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact, get_contact
from crmcore.services.records import fetch

pytestmark = pytest.mark.crm_plugins("marketing")


async def test_points_and_thresholds_change_the_stage_once(crm_db):
    contact = await create_contact({"first_name": "Lead", "email": "l@example.com"}, SYSTEM)
    await scoring.create_rule({"kind": "click", "points": 10}, SYSTEM)
    await scoring.create_rule({"kind": "page_visit", "points": 3}, SYSTEM)
    await scoring.create_rule(
        {"kind": "field", "points": 5, "params": {"filter": {"filter": "has_email"}}}, SYSTEM
    )
    await scoring.create_rule(
        {"kind": "threshold", "points": 20, "params": {"stage": "customer"}}, SYSTEM
    )
    assert await scoring.contact_score(contact["id"]) == 5
    assert await scoring.score_event(contact["id"], "click") == 15
    assert (await get_contact(contact["id"], SYSTEM))["stage"] != "customer"
    assert await scoring.score_event(contact["id"], "page_visit") == 18
    assert await scoring.score_event(contact["id"], "click") == 28
    assert (await get_contact(contact["id"], SYSTEM))["stage"] == "customer"
    events = await fetch("SELECT count(*) AS n FROM outbox_event WHERE event = {}",
                         ["marketing.score_threshold"])  # fmt: skip
    assert events[0]["n"] == 1
    assert await scoring.score_event(contact["id"], "open") is None


async def test_bad_rules_are_refused(crm_db):
    with pytest.raises(ValidationError):
        await scoring.create_rule({"kind": "threshold", "points": 5, "params": {}}, SYSTEM)
    with pytest.raises(ValidationError):
        await scoring.create_rule({"kind": "inactivity", "points": -1}, SYSTEM)


async def test_consent_log_keeps_every_change_and_state_follows_the_last(crm_db):
    contact = await create_contact({"first_name": "C", "email": "c@example.com"}, SYSTEM)
    await record_consent(contact["id"], "grant", SYSTEM, purpose="newsletter",
                         legal_basis="consent", source="signup form")  # fmt: skip
    await record_consent(contact["id"], "do_not_contact", SYSTEM, channel="sms",
                         legal_basis="legal_obligation", source="phone call")  # fmt: skip
    state = await consent_state(contact["id"])
    assert [b["channel"] for b in state["do_not_contact"]] == ["sms"]
    assert [e["action"] for e in state["log"]] == ["do_not_contact", "grant"]
    assert state["log"][1]["source"] == "signup form"
    await record_consent(contact["id"], "withdraw", SYSTEM)
    await record_consent(contact["id"], "grant", SYSTEM, source="re-subscribed")
    assert [b["channel"] for b in (await consent_state(contact["id"]))["do_not_contact"]] == ["sms"]
    with pytest.raises(ValidationError):
        await record_consent(contact["id"], "maybe", SYSTEM)


async def test_merge_moves_and_erase_removes_marketing_rows(crm_db):
    a = await create_contact({"first_name": "A", "email": "a@example.com"}, SYSTEM)
    b = await create_contact({"first_name": "B", "email": "b@example.com"}, SYSTEM)
    await record_consent(b["id"], "withdraw", SYSTEM, source="link")
    await scoring.create_rule({"kind": "page_visit", "points": 2}, SYSTEM)
    await scoring.score_event(a["id"], "page_visit")
    await scoring.score_event(b["id"], "page_visit")
    await move_contact(b["id"], a["id"])
    exported = await export_contact(a["id"])
    assert exported["marketing"]["consent"][0]["action"] == "withdraw"
    assert exported["marketing"]["score"] == 2
    await erase_contact(a["id"])
    assert (await export_contact(a["id"]))["marketing"] == {"sends": [], "consent": [],
                                                           "score": 0}  # fmt: skip
