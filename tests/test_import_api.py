"""Imports over HTTP: upload, background run through the job system, progress, errors, revert."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from crmcore.jobs import registry_for
from crmcore.jobs.embedded import EmbeddedRunner
from crmcore.tables import Contact
from crmcore.testing.plugin import make_client
from tests.auth_support import make_user

pytestmark = pytest.mark.anyio

CSV = (
    "نام,نام خانوادگی,ایمیل,موبایل,شرکت\n"
    "علی,رضایی,ali@example.com,09121234567,پارس\n"
    "سارا,احمدی,not-an-email,09351112233,پارس\n"
    "مریم,کریمی,maryam@example.com,09191112233,\n"
)


async def run_jobs(pm: Any) -> int:
    return await EmbeddedRunner(registry_for(pm), schedule=False).run_until_idle()


async def upload(client: Any, content: str | bytes = CSV, **form: str) -> Any:
    body = content.encode() if isinstance(content, str) else content
    return await client.post(
        "/api/v1/imports", files={"file": ("people.csv", body, "text/csv")}, data=form
    )


async def test_upload_runs_as_a_job_and_reports_progress_and_errors(
    crm_client: Any, crm_pm: Any
) -> None:
    response = await upload(crm_client)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "queued"
    assert created["total_rows"] == 3
    assert created["mapping"]["ایمیل"] == "email"

    assert await run_jobs(crm_pm) == 1
    record = (await crm_client.get(f"/api/v1/imports/{created['id']}")).json()
    assert record["status"] == "completed"
    assert (record["created"], record["failed"], record["progress"]) == (2, 1, 1.0)
    assert record["errors_url"] == f"/api/v1/imports/{created['id']}/errors.csv"

    errors = await crm_client.get(record["errors_url"])
    assert errors.status_code == 200
    assert errors.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(errors.text.lstrip("\ufeff"))))
    assert [(r["row"], r["ایمیل"]) for r in rows] == [("3", "not-an-email")]
    assert "not a valid email address" in rows[0]["reason"]

    listing = (await crm_client.get("/api/v1/imports")).json()
    assert [i["id"] for i in listing["items"]] == [created["id"]]

    reverted = await crm_client.post(f"/api/v1/imports/{created['id']}/revert")
    assert reverted.status_code == 200, reverted.text
    assert reverted.json() == {"import_id": created["id"], "deleted": 2, "status": "reverted"}
    assert await Contact.count() == 0


async def test_options_are_checked_before_anything_runs(crm_client: Any) -> None:
    bad_mapping = await upload(crm_client, mapping=json.dumps({"Nope": "email"}))
    assert bad_mapping.status_code == 422
    assert "Nope" in bad_mapping.json()["errors"]["mapping"]
    bad_mode = await upload(crm_client, mode="replace")
    assert bad_mode.status_code == 422
    assert "mode" in bad_mode.json()["errors"]
    no_key = await upload(crm_client, "first_name\nAli\n", mode="update", key="phone")
    assert no_key.status_code == 422
    assert (await crm_client.get("/api/v1/imports")).json()["items"] == []


async def test_dry_run_and_explicit_mapping(crm_client: Any, crm_pm: Any) -> None:
    content = "Vorname;E-Mail\nAli;ali@example.com\n"
    response = await upload(
        crm_client,
        content,
        dry_run="true",
        mapping=json.dumps({"Vorname": "first_name", "E-Mail": "email"}),
    )
    assert response.status_code == 201, response.text
    await run_jobs(crm_pm)
    record = (await crm_client.get(f"/api/v1/imports/{response.json()['id']}")).json()
    assert (record["dry_run"], record["created"], record["status"]) == (True, 1, "completed")
    assert await Contact.count() == 0


async def test_importing_needs_the_import_permission(crm_app: Any, crm_db: Any) -> None:
    viewer = await make_user("viewer")
    async with await make_client(crm_app, viewer) as client:
        assert (await upload(client)).status_code == 403
        assert (await client.get("/api/v1/imports")).status_code == 403
