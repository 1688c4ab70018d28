"""The core's pages through the real app: every page answers, forms keep what was typed and
show errors next to their field, htmx gets fragments, and writes go through the services."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import jdatetime
import pytest
from web_support import WebClient, signed_in_client  # noqa: F401 - the web_client fixture

from crmcore.services.actor import Actor
from crmcore.services.contacts import create_contact, get_contact
from crmcore.services.interactions import list_interactions, log_interaction
from crmcore.services.tasks import create_task, list_tasks
from crmcore.web.i18n import to_persian_digits

CORE_PAGES = [
    "/",
    "/contacts",
    "/contacts/new",
    "/companies",
    "/companies/new",
    "/tasks",
    "/calendar",
    "/settings/fields",
    "/settings/users",
    "/plugins",
    "/search?q=Sara",
]


def actor_of(user: dict[str, Any]) -> Actor:
    """The admin as services see them (every permission, every record)."""
    return Actor(user_id=user["id"], label=user["email"], permissions=frozenset({"*"}))


@pytest.fixture
async def sample(crm_user: Any) -> dict[str, Any]:
    """A contact with a company, an interaction and a task due tomorrow."""
    actor = actor_of(crm_user)
    contact = await create_contact(
        {
            "first_name": "Sara",
            "last_name": "Ahmadi",
            "email": "sara@example.com",
            "phone": "0912 345 6789",
            "company": "Parsian Trading",
            "tags": ["vip"],
        },
        actor,
    )
    await log_interaction(
        {"contact_id": contact["id"], "channel": "phone", "subject": "Intro call"}, actor
    )
    task = await create_task(
        {
            "contact_id": contact["id"],
            "subject": "Send the offer",
            "due_at": dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
        },
        actor,
    )
    return {"actor": actor, "contact": contact, "task": task}


@pytest.mark.anyio  # parametrized async tests need the marker before collection
@pytest.mark.parametrize("page_path", CORE_PAGES)
async def test_core_page_renders_for_a_signed_in_user(
    web_client: WebClient, sample: dict[str, Any], page_path: str
) -> None:
    response = await web_client.get(page_path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="en" dir="ltr">' in response.text


async def test_record_pages_render(web_client: WebClient, sample: dict[str, Any]) -> None:
    contact = sample["contact"]
    page = await web_client.get(f"/contacts/{contact['id']}")
    assert page.status_code == 200
    assert "Sara Ahmadi" in page.text
    assert "Intro call" in page.text
    assert "Send the offer" in page.text
    company = await web_client.get(f"/companies/{contact['company_id']}")
    assert company.status_code == 200
    assert "Parsian Trading" in company.text and "Sara Ahmadi" in company.text
    edit = await web_client.get(f"/contacts/{contact['id']}/edit")
    assert 'value="sara@example.com"' in edit.text


async def test_pages_redirect_visitors_to_login(crm_anon_client: Any) -> None:
    for path in ["/", "/contacts", "/tasks", "/plugins"]:
        response = await crm_anon_client.get(path)
        assert response.status_code in (302, 303)
        assert response.headers["location"].startswith("/login")
    login = await crm_anon_client.get("/login")
    assert login.status_code == 200
    assert 'name="email"' in login.text and 'name="password"' in login.text


async def test_unknown_contact_shows_a_not_found_page(web_client: WebClient) -> None:
    response = await web_client.get("/contacts/999999")
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert response.headers["content-type"].startswith("text/html")


async def test_invalid_phone_is_shown_next_to_the_field_and_input_is_kept(
    web_client: WebClient,
) -> None:
    form = {
        "first_name": "Reza",
        "last_name": "Karimi",
        "email": "reza@example.com",
        "phone": "12ab",
        "stage": "lead",
    }
    response = await web_client.submit("/contacts", form)
    assert response.status_code == 422
    error = re.search(r'id="f-phone-error">([^<]+)<', response.text)
    assert error and "phone" in error.group(1).lower()
    assert 'aria-invalid="true" aria-describedby="f-phone-error"' in response.text
    assert 'value="Reza"' in response.text and 'value="reza@example.com"' in response.text
    assert 'value="12ab"' in response.text

    form["phone"] = "+98 912 111 2233"
    saved = await web_client.submit("/contacts", form)
    assert saved.status_code == 303
    page = await web_client.get(saved.headers["location"])
    assert "Reza Karimi" in page.text and "Created" in page.text


async def test_form_post_without_csrf_token_is_refused(web_client: WebClient) -> None:
    response = await web_client.post("/contacts", data={"first_name": "No", "last_name": "Quokka"})
    assert response.status_code == 403
    assert "This form has expired" in response.text  # not "no permission": reload and retry
    assert "Quokka" not in (await web_client.get("/contacts")).text


async def test_quick_log_and_task_done_from_the_contact_page(
    web_client: WebClient, sample: dict[str, Any]
) -> None:
    contact, actor = sample["contact"], sample["actor"]
    logged = await web_client.submit(
        f"/contacts/{contact['id']}/interactions",
        {"channel": "note", "subject": "Prefers mornings", "body": "Call before 11"},
    )
    assert logged.status_code == 303
    notes = await list_interactions(actor, contact_id=contact["id"], channel="note")
    assert [n["subject"] for n in notes.items] == ["Prefers mornings"]

    done = await web_client.submit(
        f"/tasks/{sample['task']['id']}/done", {"next": f"/contacts/{contact['id']}"}
    )
    assert done.status_code == 303 and done.headers["location"] == f"/contacts/{contact['id']}"
    remaining = await list_tasks(actor, contact_id=contact["id"], status="planned")
    assert remaining.items == []
    page = await web_client.get(done.headers["location"])
    assert "Task completed" in page.text


async def test_new_task_form_errors_stay_on_the_contact_page(
    web_client: WebClient, sample: dict[str, Any]
) -> None:
    contact = sample["contact"]
    response = await web_client.submit(
        f"/contacts/{contact['id']}/tasks", {"subject": "Follow up", "due_at": ""}
    )
    assert response.status_code == 422
    assert 'id="task-due_at-error"' in response.text
    assert 'value="Follow up"' in response.text
    created = await web_client.submit(
        f"/contacts/{contact['id']}/tasks", {"subject": "Follow up", "due_at": "2030-01-02T10:30"}
    )
    assert created.status_code == 303
    page = await web_client.get(f"/contacts/{contact['id']}")
    assert "Follow up" in page.text


async def test_search_as_you_type_returns_rows_only(
    web_client: WebClient, sample: dict[str, Any]
) -> None:
    page = await web_client.get("/contacts")
    assert 'hx-trigger="keyup changed delay:300ms' in page.text
    fragment = await web_client.get("/contacts?q=Sara", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "Sara Ahmadi" in fragment.text
    nothing = await web_client.get("/contacts?q=Nobodyhere", headers={"HX-Request": "true"})
    assert "Sara Ahmadi" not in nothing.text


async def test_load_more_pages_through_every_contact_once(
    web_client: WebClient, crm_user: Any
) -> None:
    actor = actor_of(crm_user)
    for index in range(60):
        await create_contact({"first_name": "Person", "last_name": f"N{index:02d}"}, actor)
    page = await web_client.get("/contacts")
    seen = re.findall(r'id="contact-(\d+)"', page.text)
    more = re.search(r'hx-get="(/contacts\?cursor=[^"]+)"', page.text)
    assert len(seen) == 50 and more
    rest = await web_client.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
    seen += re.findall(r'id="contact-(\d+)"', rest.text)
    assert len(seen) == len(set(seen)) == 60
    assert "cursor=" not in rest.text


async def test_filters_by_stage_tag_and_owner(web_client: WebClient, crm_user: Any) -> None:
    actor = actor_of(crm_user)
    await create_contact({"first_name": "Lead", "last_name": "One", "stage": "lead"}, actor)
    await create_contact(
        {"first_name": "Cust", "last_name": "Two", "stage": "customer", "tags": ["gold"]}, actor
    )
    customers = await web_client.get("/contacts?stage=customer")
    assert "Cust Two" in customers.text and "Lead One" not in customers.text
    gold = await web_client.get("/contacts?tag=gold")
    assert "Cust Two" in gold.text and "Lead One" not in gold.text
    mine = await web_client.get("/contacts?owner=me")
    assert "Cust Two" in mine.text and "Lead One" in mine.text


async def test_bulk_tag_tags_the_selected_contacts(
    web_client: WebClient, sample: dict[str, Any]
) -> None:
    actor = sample["actor"]
    other = await create_contact({"first_name": "Ali", "last_name": "Rahimi"}, actor)
    response = await web_client.submit(
        "/contacts/bulk-tag",
        [
            ("ids", str(sample["contact"]["id"])),
            ("ids", str(other["id"])),
            ("tag", "expo-2026"),
            ("next", "/contacts"),
        ],
    )
    assert response.status_code == 303
    for contact_id in (sample["contact"]["id"], other["id"]):
        assert "expo-2026" in (await get_contact(contact_id, actor))["tags"]


async def test_custom_field_defined_in_settings_appears_on_the_contact_form(
    web_client: WebClient,
) -> None:
    bad = await web_client.submit(
        "/settings/fields",
        {"entity": "contact", "key": "Bad Key", "label": "Budget", "field_type": "number"},
    )
    assert bad.status_code == 422 and 'id="f-key-error"' in bad.text
    ok = await web_client.submit(
        "/settings/fields",
        {"entity": "contact", "key": "budget", "label": "Budget", "field_type": "number"},
    )
    assert ok.status_code == 303
    form = await web_client.get("/contacts/new")
    assert 'name="custom.budget"' in form.text
    rejected = await web_client.submit(
        "/contacts", {"first_name": "Nima", "custom.budget": "lots", "stage": "lead"}
    )
    assert rejected.status_code == 422
    assert 'id="custom-budget-error"' in rejected.text and 'value="lots"' in rejected.text
    saved = await web_client.submit(
        "/contacts", {"first_name": "Nima", "custom.budget": "2500", "stage": "lead"}
    )
    page = await web_client.get(saved.headers["location"])
    assert "Budget" in page.text and "2,500" in page.text


async def test_admin_creates_a_user_from_settings(web_client: WebClient) -> None:
    response = await web_client.submit(
        "/settings/users",
        {
            "email": "new.agent@example.com",
            "name": "New Agent",
            "password": "short",
            "role": "agent",
            "language": "fa",
        },
    )
    assert response.status_code == 422
    assert 'id="f-password-error"' in response.text
    assert 'value="new.agent@example.com"' in response.text and 'value="short"' not in response.text
    created = await web_client.submit(
        "/settings/users",
        {
            "email": "new.agent@example.com",
            "name": "New Agent",
            "password": "long enough pw",
            "role": "agent",
            "language": "fa",
        },
    )
    assert created.status_code == 303
    listing = await web_client.get("/settings/users")
    assert "new.agent@example.com" in listing.text


async def test_error_about_a_field_the_form_lacks_is_shown_above_the_form(
    web_client: WebClient, sample: dict[str, Any]
) -> None:
    contact = sample["contact"]
    response = await web_client.submit(
        f"/contacts/{contact['id']}/interactions",
        {"channel": "purchase", "subject": "Bought 3 crates"},
    )
    assert response.status_code == 422
    top = re.search(r'<p class="flash flash-error" role="alert">([^<]+)</p>', response.text)
    assert top and "purchase" in top.group(1)
    assert 'value="Bought 3 crates"' in response.text


async def test_dashboard_shows_core_cards_and_charts(
    web_client: WebClient, sample: dict[str, Any]
) -> None:
    page = (await web_client.get("/")).text
    for title in ("New contacts", "Due tasks", "Recent interactions"):
        assert f">{title}</h2>" in page
    assert 'role="img" aria-label="Interactions per week by channel"' in page
    assert 'role="img" aria-label="Contacts by stage"' in page
    assert "Send the offer" in page  # due tomorrow
    assert "Intro call" in page  # logged today
    weekly = page.split('aria-label="Interactions per week by channel"')[1].split("</svg>")[0]
    assert "Phone" in weekly  # the channel of this week's call, in the legend
    persian = (await web_client.get("/?lang=fa")).text
    assert 'aria-label="تعاملات هفتگی به تفکیک کانال"' in persian
    assert 'direction="rtl"' in persian


async def test_calendar_shows_planned_tasks_on_their_day(
    web_client: WebClient, sample: dict[str, Any], crm_user: Any
) -> None:
    actor = sample["actor"]
    due = dt.datetime.now(dt.UTC).replace(hour=12, minute=0) + dt.timedelta(days=1)
    for index in range(6):
        await create_task({"subject": f"Call round {index}", "due_at": due}, actor)
    month = (await web_client.get(f"/calendar?year={due.year}&month={due.month}")).text
    assert month.count('class="calendar-event') == 4  # four a day, then a count of the rest
    assert "+3 more" in month  # six calls and the offer, less the four shown
    # A Gregorian month link opened in Persian shows the Jalali month that holds most of it.
    persian = await web_client.get(f"/calendar?year={due.year}&month={due.month}&lang=fa")
    middle = jdatetime.date.fromgregorian(date=due.date().replace(day=15))
    title = f"{jdatetime.date.j_months_fa[middle.month - 1]} {to_persian_digits(str(middle.year))}"
    assert f"</span>{title}</h1>" in persian.text
