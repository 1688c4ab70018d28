"""Sandboxed templates, RTL, signed tracking links and one-click unsubscribe over HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from crm_marketing import campaigns, segments, templates_store
from crm_marketing.rendering import render_email
from crm_marketing.tracking import is_image_proxy
from helpers import run_jobs

from crmcore.errors import ValidationError
from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact

pytestmark = pytest.mark.crm_plugins("marketing")


def test_template_reaching_python_internals_is_refused_or_inert():
    with pytest.raises(ValidationError):
        from crm_marketing.rendering import check_template

        check_template("{{ ''.__class__.__mro__ }}", "html")
    # A template stored before the check (or edited in the database) is refused at render.
    with pytest.raises(ValidationError, match="unsafe"):
        render_email({"html": "<p>{{ ''.__class__.__mro__ }}</p>"}, {"id": 1})


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''|attr('__class__') }}",
        "{{ ''|attr('_' ~ '_class__')|attr('_' ~ '_mro__') }}",
        "{% set name = '_' ~ '_globals__' %}{{ cycler.__init__|attr(name) }}",
        "{{ '{0.__class__.__mro__}'.format('') }}",
        "{{ contact|attr('__class__') }}",
        "{{ lipsum|attr('__globals__') }}",
    ],
)
def test_indirect_ways_to_python_internals_are_refused_or_inert(source):
    try:
        rendered = render_email({"html": f"<p>{source}</p>", "text": source}, {"id": 1})
    except ValidationError:
        return
    for part in (rendered.html, rendered.text):
        assert "class" not in part and "object" not in part and "function" not in part, part
        assert part in ("<p></p>", ""), part


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 100000000 }}",
        "{{ 100000000 * 'a' }}",
        "{{ [1] * 100000000 }}",
        "{{ 2 ** 100000000 }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    ],
)
def test_templates_cannot_make_a_huge_message(source):
    with pytest.raises(ValidationError):
        render_email({"html": f"<p>{source}</p>", "text": source}, {"id": 1})


def test_ordinary_repetition_still_renders():
    rendered = render_email({"html": "<p>{{ '-' * 20 }}{{ 2 ** 10 }}</p>"}, {"id": 1})
    assert "<p>" + "-" * 20 + "1024</p>" in rendered.html


async def test_template_is_refused_when_saved(crm_db):
    with pytest.raises(ValidationError) as info:
        await templates_store.create_template(
            {"name": "evil", "html": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}, SYSTEM
        )
    assert "private" in str(info.value.errors)


def test_fallbacks_escaping_and_rtl_wrapper():
    template = {"subject": "Hi {{ contact.first_name | default('friend', true) }}",
                "html": "<p>سلام {{ contact.first_name }}</p>", "text": ""}  # fmt: skip
    nameless = render_email(template, {"id": 1, "first_name": ""})
    assert nameless.subject == "Hi friend"
    persian = render_email(template, {"id": 2, "first_name": "<b>مریم</b>"})
    assert persian.html.startswith('<div dir="rtl"')
    assert "&lt;b&gt;" in persian.html
    assert "مریم" in persian.text


def test_image_proxies_are_recognised():
    assert is_image_proxy("Mozilla/5.0 (Windows NT 5.1) GoogleImageProxy")
    assert is_image_proxy("YahooMailProxy; https://help.yahoo.com")
    assert not is_image_proxy("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")


async def _sent_message(smtp_sink):
    contact = await create_contact({"first_name": "Sara", "email": "sara@example.com"}, SYSTEM)
    await segments.create_segment("sara", {"filter": "has_email"}, SYSTEM)
    await templates_store.create_template(
        {"name": "t", "subject": "Hello", "text": "hi",
         "html": '<html><body><a href="https://shop.example.com/x?a=1&amp;b=2">shop</a>'
                 "</body></html>"},
        SYSTEM,
    )  # fmt: skip
    campaign = await campaigns.create_campaign({"segment": "sara", "template": "t"}, SYSTEM)
    await campaigns.start_campaign(campaign["id"], SYSTEM)
    await run_jobs()
    html = smtp_sink.messages[0].get_payload()[1].get_payload(decode=True).decode()
    return contact, campaign, html


def _links(html: str) -> tuple[str, str]:
    import re

    click = re.search(r'href="([^"]+)"', html).group(1).replace("&amp;", "&")
    pixel = re.search(r'<img src="([^"]+)"', html).group(1)
    return click.replace("http://crm.test", ""), pixel.replace("http://crm.test", "")


async def test_click_redirect_follows_only_links_of_the_email(crm_client, smtp_sink):
    contact, campaign, html = await _sent_message(smtp_sink)
    click, pixel = _links(html)
    response = await crm_client.get(click, follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "https://shop.example.com/x?a=1&b=2"
    path = urlparse(click).path
    forged = f"{path}?u=https%3A%2F%2Fevil.example.net%2F"
    assert (await crm_client.get(forged, follow_redirects=False)).status_code == 404
    assert parse_qs(urlparse(click).query)["u"] == ["https://shop.example.com/x?a=1&b=2"]
    opened = await crm_client.get(pixel, headers={"user-agent": "Thunderbird"})
    assert opened.headers["content-type"] == "image/gif"
    shown = (await crm_client.get(f"/api/v1/marketing/campaigns/{campaign['id']}")).json()
    assert shown["report"]["totals"]["clicked"] == 1
    assert shown["report"]["totals"]["opened"] == 1
    timeline = (await crm_client.get(f"/api/v1/interactions?contact_id={contact['id']}")).json()
    subjects = [i["subject"] for i in timeline.get("items", timeline)]
    assert any(s.startswith("Clicked") for s in subjects)


async def test_one_click_unsubscribe_stops_later_mail(crm_client, crm_anon_client, smtp_sink):
    contact, campaign, _html = await _sent_message(smtp_sink)
    link = smtp_sink.messages[0]["List-Unsubscribe"].strip("<>").replace("http://crm.test", "")
    response = await crm_anon_client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    state = (await crm_client.get(f"/api/v1/marketing/contacts/{contact['id']}/consent")).json()
    assert state["do_not_contact"][0]["channel"] == "email"
    assert state["log"][0]["action"] == "withdraw"
    segment = await segments.get_segment("sara")
    assert await segments.count_segment(segment, mailable=True) == 0
    bad = link[:-3] + "xyz"
    assert (await crm_anon_client.post(bad)).status_code == 404


async def test_unsubscribe_page_speaks_the_visitors_language(crm_anon_client, smtp_sink):
    await _sent_message(smtp_sink)
    link = smtp_sink.messages[0]["List-Unsubscribe"].strip("<>").replace("http://crm.test", "")
    english = await crm_anon_client.get(link, headers={"accept-language": "en"})
    assert english.status_code == 200 and "Stop receiving marketing email" in english.text
    persian = await crm_anon_client.get(link, headers={"accept-language": "fa-IR,fa;q=0.9"})
    assert persian.status_code == 200
    assert 'dir="rtl"' in persian.text and "لغو اشتراک" in persian.text
    assert "Unsubscribe" not in persian.text and "marketing email" not in persian.text
    done = await crm_anon_client.post(link, headers={"accept-language": "fa"})
    assert done.status_code == 200 and "اشتراک شما لغو شد" in done.text
