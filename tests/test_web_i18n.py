"""Languages on the web pages: the ``?lang=`` switch, right-to-left Persian pages with Jalali
dates and Persian digits, and no English UI string left on any core page in Persian."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import jdatetime
from babel.messages.pofile import read_po
from web_support import WebClient, signed_in_client, visible_texts  # noqa: F401 - fixture

from crmcore.services.actor import Actor
from crmcore.services.contacts import create_contact
from crmcore.services.custom_fields import define_field
from crmcore.services.interactions import log_interaction
from crmcore.services.tasks import create_task
from crmcore.services.users import get_user
from crmcore.web.i18n import CORE_LOCALE_DIR, to_persian_digits

LATIN = re.compile(r"[A-Za-z]")


def english_msgids() -> set[str]:
    """English UI strings whose Persian translation differs (what must never show in fa)."""
    with (CORE_LOCALE_DIR / "fa" / "LC_MESSAGES" / "messages.po").open("rb") as po_file:
        catalog = read_po(po_file, locale="fa")
    found = set()
    for message in catalog:
        if not message.id or not message.string:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        translated = message.string if isinstance(message.string, str) else message.string[0]
        if msgid != translated and LATIN.search(msgid) and "%(" not in msgid:
            found.add(msgid)
    return found


async def persian_sample(user: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A contact with everything a page can show, and the data values the pages may print
    as they are (names, addresses, subjects: data, not UI)."""
    actor = Actor(user_id=user["id"], label=user["email"], permissions=frozenset({"*"}))
    await define_field("contact", "budget", "Budget", "number", actor=actor)
    contact = await create_contact(
        {
            "first_name": "Maryam",
            "last_name": "Sadeghi",
            "email": "maryam@example.com",
            "phone": "09123456789",
            "company": "Kavir Steel",
            "title": "Buyer",
            "city": "Yazd",
            "country": "IR",
            "source": "Referral",
            "tags": ["wholesale"],
            "stage": "prospect",
            "custom": {"budget": 125000},
        },
        actor,
    )
    await log_interaction(
        {"contact_id": contact["id"], "channel": "email", "subject": "Price list sent"}, actor
    )
    await log_interaction({"contact_id": contact["id"], "channel": "phone"}, actor)
    await create_task(
        {
            "contact_id": contact["id"],
            "subject": "Visit the factory",
            "due_at": dt.datetime.now(dt.UTC) + dt.timedelta(days=2),
        },
        actor,
    )
    data = [
        "Maryam Sadeghi",
        "Maryam",
        "Sadeghi",
        "maryam@example.com",
        "Kavir Steel",
        "Buyer",
        "Yazd",
        "IR",
        "Referral",
        "wholesale",
        "Budget",
        "budget",
        "Price list sent",
        "Visit the factory",
        user["name"],
        user["email"],
    ]
    return contact, data


async def test_lang_parameter_switches_language_and_is_remembered(
    web_client: WebClient, crm_user: Any
) -> None:
    english = await web_client.get("/")
    assert '<html lang="en" dir="ltr">' in english.text
    persian = await web_client.get("/contacts?lang=fa")
    assert '<html lang="fa" dir="rtl">' in persian.text
    assert (await get_user(crm_user["id"]))["language"] == "fa"
    again = await web_client.get("/tasks")
    assert '<html lang="fa" dir="rtl">' in again.text
    assert "کارها" in again.text
    back = await web_client.get("/tasks?lang=en")
    assert '<html lang="en" dir="ltr">' in back.text
    assert (await get_user(crm_user["id"]))["language"] == "en"


async def test_sign_in_page_keeps_the_language_chosen_before_signing_in(
    crm_anon_client: Any,
) -> None:
    first = await crm_anon_client.get("/login?lang=fa")
    assert '<html lang="fa" dir="rtl">' in first.text
    assert "ورود" in first.text
    later = await crm_anon_client.get("/login")
    assert '<html lang="fa" dir="rtl">' in later.text


async def test_persian_pages_show_jalali_dates_and_persian_digits(
    web_client: WebClient, crm_user: Any
) -> None:
    contact, _data = await persian_sample(crm_user)
    page = await web_client.get(f"/contacts/{contact['id']}?lang=fa")
    today = jdatetime.date.today()
    long_date = to_persian_digits(
        f"{today.day} {jdatetime.date.j_months_fa[today.month - 1]} {today.year}"
    )
    assert long_date in page.text  # "created at", in the Jalali calendar
    assert to_persian_digits("125,000").replace(",", "٬") in page.text  # the custom number
    assert "+۹۸۹۱۲۳۴۵۶۷۸۹" in page.text  # the phone, in Persian digits
    calendar = await web_client.get("/calendar?lang=fa")
    month = jdatetime.date.j_months_fa[today.month - 1]
    assert f"{month} {to_persian_digits(str(today.year))}" in calendar.text
    assert "شنبه" in calendar.text  # weeks start on Saturday


async def test_core_pages_in_persian_leave_no_english_ui_text(
    web_client: WebClient, crm_user: Any, crm_anon_client: Any
) -> None:
    contact, data = await persian_sample(crm_user)
    await web_client.get("/?lang=fa")
    pm = web_client._transport.app.state.pm  # type: ignore[attr-defined]
    data += [name for name in pm.infos] + [info.distribution for info in pm.infos.values()]
    # Installed plugins describe themselves (their own catalogs may translate that); the
    # core's built-ins must be translated by the core's catalog.
    data += [
        text
        for info in pm.infos.values()
        if not info.essential
        for text in (info.description, info.error)
        if text
    ]
    pages = [
        "/",
        "/contacts",
        f"/contacts/{contact['id']}",
        f"/contacts/{contact['id']}/edit",
        "/contacts/new",
        "/companies",
        f"/companies/{contact['company_id']}",
        "/companies/new",
        "/tasks",
        "/tasks?status=done&mine=false",
        "/calendar",
        "/settings/fields",
        "/settings/users",
        "/plugins",
        "/search?q=Maryam",
        "/contacts/987654",
    ]
    english = english_msgids()
    leftovers: dict[str, list[str]] = {}
    responses = [(path, await web_client.get(path)) for path in pages]
    responses.append(("/login", await crm_anon_client.get("/login?lang=fa")))
    for path, response in responses:
        assert '<html lang="fa" dir="rtl">' in response.text, path
        for text in visible_texts(response.text, "fa"):
            untranslated = text in english
            for value in sorted(data, key=len, reverse=True):
                text = text.replace(value, "")
            if untranslated or LATIN.search(text):
                leftovers.setdefault(path, []).append(text)
    assert leftovers == {}


def test_texts_built_in_python_are_in_the_persian_catalog() -> None:
    """Notices, stored codes and field types are translated from Python, where a template
    scan cannot see them: each must have its Persian translation."""
    from crmcore.web.views.labels import LABEL_FAMILIES
    from crmcore.web.views.rendering import NOTICES
    from crmcore.web.views.settings import ENTITY_LABELS, FIELD_TYPE_LABELS

    with (CORE_LOCALE_DIR / "fa" / "LC_MESSAGES" / "messages.po").open("rb") as po_file:
        catalog = read_po(po_file, locale="fa")
    translated = {(m.context, m.id) for m in catalog if m.id and m.string}
    wanted = {(None, text) for _kind, text in NOTICES.values()}
    wanted |= {(None, text) for text in [*FIELD_TYPE_LABELS.values(), *ENTITY_LABELS.values()]}
    wanted |= {
        (context, word) for context, words in LABEL_FAMILIES.values() for word in words.values()
    }
    assert sorted(wanted - translated, key=str) == []


async def test_visitors_get_the_language_their_browser_asks_for(crm_anon_client: Any) -> None:
    persian = await crm_anon_client.get(
        "/login", headers={"Accept-Language": "de;q=0.9, fa-IR, en;q=0.5"}
    )
    assert '<html lang="fa" dir="rtl">' in persian.text
    english = await crm_anon_client.get("/login", headers={"Accept-Language": "de, en;q=0.8"})
    assert '<html lang="en" dir="ltr">' in english.text
