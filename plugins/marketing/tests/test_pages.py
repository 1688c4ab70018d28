"""The campaign page with its report charts, the list page and the contact panel."""

from __future__ import annotations

import jdatetime
import pytest
from crm_marketing import campaigns, consent, segments, templates_store
from helpers import run_jobs

from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact
from crmcore.testing.pages import untranslated_texts
from crmcore.web.i18n import to_persian_digits

pytestmark = pytest.mark.crm_plugins("marketing")


async def sent_spring_sale() -> tuple[dict, dict]:
    """Nima, and the "Spring sale" campaign sent to the segment of everyone with an email."""
    contact = await create_contact({"first_name": "Nima", "email": "n@example.com"}, SYSTEM)
    await segments.create_segment("one", {"filter": "has_email"}, SYSTEM)
    await templates_store.create_template({"name": "t", "html": "<p>Hi</p>"}, SYSTEM)
    campaign = await campaigns.create_campaign(
        {"name": "Spring sale", "segment": "one", "template": "t", "subject": "Sale"}, SYSTEM
    )
    await campaigns.start_campaign(campaign["id"], SYSTEM)
    await run_jobs()
    return contact, campaign


async def test_campaign_page_shows_charts_and_contact_shows_panel(crm_client, smtp_sink):
    contact, campaign = await sent_spring_sale()
    listing = await crm_client.get("/marketing/")
    assert listing.status_code == 200 and "Spring sale" in listing.text
    page = await crm_client.get(f"/marketing/campaigns/{campaign['id']}")
    assert page.status_code == 200
    assert page.text.count("<svg") >= 2
    contact_page = await crm_client.get(f"/contacts/{contact['id']}")
    assert contact_page.status_code == 200
    assert "Lead score" in contact_page.text and "Spring sale" in contact_page.text


async def test_api_creates_segment_and_previews_template(crm_client):
    contact = await create_contact({"first_name": "", "email": "x@example.com"}, SYSTEM)
    body = {"name": "all", "filter": {"filter": "has_email"}}
    made = await crm_client.post("/api/v1/marketing/segments", json=body)
    assert made.status_code == 201 and made.json()["count"] == 1
    body = {"name": "bad", "filter": {"filter": "nope"}}
    bad = await crm_client.post("/api/v1/marketing/segments", json=body)
    assert bad.status_code == 422
    template = await crm_client.post(
        "/api/v1/marketing/templates",
        json={"name": "w", "subject": "Hi {{ contact.first_name | default('friend', true) }}",
              "html": "<p>Hello</p>"},
    )  # fmt: skip
    assert template.status_code == 201
    preview = await crm_client.get(
        f"/api/v1/marketing/templates/{template.json()['id']}/preview?contact_id={contact['id']}"
    )
    assert preview.json()["subject"] == "Hi friend"


async def test_persian_marketing_pages_show_persian_digits_and_no_english(crm_client, smtp_sink):
    contact, campaign = await sent_spring_sale()
    quiet = await create_contact({"first_name": "Sara", "email": "s@example.com"}, SYSTEM)
    await consent.record_consent(quiet["id"], "do_not_contact", SYSTEM, channel="post")
    await crm_client.get("/?lang=fa")

    never_sent = await crm_client.get(f"/contacts/{quiet['id']}")
    assert "&lt;li&gt;" not in never_sent.text
    assert "<li>هنوز ایمیل بازاریابی ارسال نشده</li>" in never_sent.text
    assert "<strong>۰</strong>" in never_sent.text  # the lead score, in Persian digits
    assert "پست" in never_sent.text  # the blocked channel, translated
    sent = await crm_client.get(f"/contacts/{contact['id']}")
    assert to_persian_digits(f"{jdatetime.date.today():%Y/%m/%d}") in sent.text  # Jalali
    listing = await crm_client.get("/marketing/")
    assert "۱ / ۱" in listing.text and "one — ۲" in listing.text
    report = await crm_client.get(f"/marketing/campaigns/{campaign['id']}")

    data = ["Nima", "n@example.com", "Sara", "s@example.com", "Spring sale", "one", "Admin"]
    data.append("admin@example.com")
    for page in (never_sent, sent, listing, report):
        assert '<html lang="fa" dir="rtl">' in page.text
        assert untranslated_texts(page.text, "fa", data) == [], page.url
