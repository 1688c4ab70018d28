"""The import and duplicates pages, driven like a browser: session, CSRF, htmx polling."""

from __future__ import annotations

import re
from typing import Any

import pytest

from crmcore.jobs import registry_for
from crmcore.jobs.embedded import EmbeddedRunner
from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import create_contact
from crmcore.tables import Contact
from tests.web_support import signed_in_client, visible_texts  # noqa: F401 - fixture

pytestmark = pytest.mark.anyio

CSV = (
    "نام,نام خانوادگی,ایمیل,Notes\n"
    "علی,رضایی,ali@example.com,likes tea\n"
    "سارا,احمدی,not-an-email,\n"
    "مریم,کریمی,maryam@example.com,\n"
)


async def test_upload_map_run_and_revert_from_the_import_page(web_client: Any, crm_pm: Any) -> None:
    page = await web_client.get("/imports")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text

    response = await web_client.post(
        "/imports",
        data={"csrf_token": web_client.csrf_token},
        files={"file": ("people.csv", CSV.encode(), "text/csv")},
    )
    assert response.status_code == 303, response.text
    url = response.headers["location"]
    import_id = int(url.rsplit("/", 1)[1])

    mapping = await web_client.get(url)
    assert mapping.status_code == 200
    for text in ("ایمیل", "likes tea", "maryam@example.com", 'name="map-3"'):
        assert text in mapping.text
    assert re.search(r'name="map-2">.*?<option value="email" selected>', mapping.text, re.S)

    started = await web_client.submit(
        f"/imports/{import_id}/start",
        {
            "map-0": "first_name",
            "map-1": "last_name",
            "map-2": "email",
            "map-3": "-",
            "mode": "create",
            "key": "email",
        },
    )
    assert started.status_code == 303, started.text
    waiting = await web_client.get(url)
    assert (
        'hx-trigger="every 1s"' in waiting.text and 'hx-select="#import-progress"' in waiting.text
    )

    await EmbeddedRunner(registry_for(crm_pm), schedule=False).run_until_idle()
    done = await web_client.get(url)
    assert "hx-trigger" not in done.text
    assert f"/api/v1/imports/{import_id}/errors.csv" in done.text
    assert "not a valid email address" in done.text
    report = await web_client.get(f"/api/v1/imports/{import_id}/errors.csv")
    assert report.status_code == 200 and "not-an-email" in report.text
    assert await Contact.count() == 2

    reverted = await web_client.submit(f"/imports/{import_id}/revert", {})
    assert reverted.status_code == 303
    assert await Contact.count() == 0


async def test_a_bad_mapping_is_shown_on_the_page(web_client: Any) -> None:
    response = await web_client.post(
        "/imports",
        data={"csrf_token": web_client.csrf_token},
        files={"file": ("people.csv", CSV.encode(), "text/csv")},
    )
    url = response.headers["location"]
    refused = await web_client.submit(
        f"{url}/start", {"map-0": "first_name", "mode": "update", "key": "phone"}
    )
    assert refused.status_code == 422
    assert "key: map a column to phone" in refused.text


async def test_posting_without_the_csrf_token_is_refused(web_client: Any) -> None:
    response = await web_client.post(
        "/imports", files={"file": ("people.csv", CSV.encode(), "text/csv")}
    )
    assert response.status_code == 403


async def test_duplicates_page_merges_with_one_click(web_client: Any) -> None:
    first = await create_contact({"first_name": "Ali", "email": "ali@example.com"}, SYSTEM)
    second = await create_contact(
        {"first_name": "Ali", "last_name": "R", "email": "ALI@example.com", "city": "Qom"}, SYSTEM
    )
    page = await web_client.get("/duplicates")
    assert page.status_code == 200
    assert f'name="merged_id" value="{second["id"]}"' in page.text
    assert "same email ali@example.com" in page.text
    merged = await web_client.submit(
        "/duplicates/merge", {"survivor_id": str(first["id"]), "merged_id": str(second["id"])}
    )
    assert merged.status_code == 303
    assert merged.headers["location"] == f"/contacts/{first['id']}"
    assert [r["city"] for r in await Contact.select(Contact.city)] == ["Qom"]
    assert "No likely duplicates." in (await web_client.get("/duplicates")).text


@pytest.mark.parametrize("path", ["/imports", "/duplicates"])
async def test_pages_are_translated_to_persian(web_client: Any, path: str) -> None:
    page = await web_client.get(path, params={"lang": "fa"})
    assert page.status_code == 200
    assert 'dir="rtl"' in page.text
    texts = [t for t in visible_texts(page.text, "fa") if t != "Admin"]  # the user's name
    english = [t for t in texts if not _only_codes(t)]
    assert english == []


# Field codes and format names a Persian page shows as they are.
CODES = {"CSV", "XLSX", "UTF-8", "UTF-16", "Excel", "first_name", "email", "phone", "company"}


def _only_codes(text: str) -> bool:
    return all(word in CODES for word in re.findall(r"[A-Za-z][A-Za-z0-9_-]*", text))


async def test_a_stopped_import_can_be_resumed_from_its_page(web_client: Any, crm_pm: Any) -> None:
    response = await web_client.post(
        "/imports",
        data={"csrf_token": web_client.csrf_token},
        files={"file": ("people.csv", CSV.encode(), "text/csv")},
    )
    url = response.headers["location"]
    import_id = int(url.rsplit("/", 1)[1])
    # As a run that crashed leaves it: marked failed, nothing committed yet.
    await Contact.raw(
        "UPDATE data_import SET status = 'failed', message = 'stopped: disk full' WHERE id = {}",
        import_id,
    )
    page = await web_client.get(url)
    assert f'action="/imports/{import_id}/resume"' in page.text
    assert "stopped: disk full" in page.text
    resumed = await web_client.submit(f"/imports/{import_id}/resume", {})
    assert resumed.status_code == 303
    await EmbeddedRunner(registry_for(crm_pm), schedule=False).run_until_idle()
    assert await Contact.count() == 2
