"""Exports: filtered like the lists, streamed, restricted fields left out, XLSX round trip."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from crmcore.hookspecs import hookimpl
from crmcore.permissions import Permission, load_permissions
from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import contact_dicts, create_contact
from crmcore.services.custom_fields import define_field
from crmcore.services.exports import export_to_file
from crmcore.services.imports import run_import
from crmcore.services.roles import create_role
from crmcore.tables import Contact
from crmcore.testing.plugin import make_client
from tests.auth_support import make_user

pytestmark = pytest.mark.anyio


class SalaryPlugin:
    """A test plugin whose permission hides a custom field and the birthday of contacts."""

    @hookimpl
    def register_permissions(self) -> list[Permission]:
        return [
            Permission(
                "salary.view",
                "See salaries",
                restricts=(("contact", "custom.salary"), ("contact", "birthday")),
            )
        ]


async def seed() -> list[dict[str, Any]]:
    await define_field("contact", "salary", "Salary", "number", actor=SYSTEM)
    people = [
        {
            "first_name": "علی",
            "last_name": "رضایی",
            "email": "ali@example.com",
            "phones": ["09121234567", "02188776655"],
            "company": "پارس",
            "stage": "customer",
            "tags": ["ویژه", "VIP"],
            "city": "Tehran",
            "birthday": "1990-04-21",
            "custom": {"salary": 1200},
        },
        {
            "first_name": "Sara",
            "last_name": "Ahmadi",
            "emails": ["sara@example.com", "s.ahmadi@work.example"],
            "company": "Acme",
            "stage": "lead",
            "tags": ["VIP"],
        },
        {
            "first_name": "Reza",
            "last_name": "Karimi",
            "phone": "+49 30 1234567",
            "country": "DE",
            "stage": "customer",
        },
    ]
    return [await create_contact(p, SYSTEM) for p in people]


async def test_csv_and_jsonl_are_filtered_like_the_list(crm_client: Any) -> None:
    await seed()
    response = await crm_client.get("/api/v1/exports/contacts", params={"stage": "customer"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [r["last_name"] for r in rows] == ["رضایی", "Karimi"]
    assert rows[0]["phone"] == "+989121234567"
    assert rows[0]["other_phones"] == "+982188776655"
    assert rows[0]["custom.salary"] == "1200"
    assert rows[0]["tags"] == "VIP, ویژه"

    response = await crm_client.get(
        "/api/v1/exports/contacts", params={"format": "jsonl", "tag": "vip"}
    )
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["first_name"] for line in lines] == ["علی", "Sara"]
    assert lines[1]["other_emails"] == "s.ahmadi@work.example"
    assert lines[0]["custom"] == {"salary": 1200}

    response = await crm_client.get("/api/v1/exports/contacts", params={"q": "karimi"})
    assert [r["first_name"] for r in csv.DictReader(io.StringIO(response.text[1:]))] == ["Reza"]
    response = await crm_client.get("/api/v1/exports/contacts", params={"format": "pdf"})
    assert response.status_code == 422


@pytest.fixture
def salary_plugin(crm_db: Any, crm_pm: Any, register_test_plugin: Any) -> None:
    """The plugin joins the running manager; permissions are collected again for it."""
    register_test_plugin(SalaryPlugin(), "salary")
    load_permissions(crm_pm)


async def test_export_leaves_out_fields_the_reader_may_not_see(
    salary_plugin: None, crm_app: Any, crm_client: Any
) -> None:
    await seed()
    await create_role(name="exporter", permissions=["contacts.read", "contacts.export"])
    exporter = await make_user("exporter")
    async with await make_client(crm_app, exporter) as client:
        for fmt in ("csv", "jsonl", "xlsx"):
            response = await client.get("/api/v1/exports/contacts", params={"format": fmt})
            assert response.status_code == 200, response.text
            if fmt == "xlsx":
                book = load_workbook(io.BytesIO(response.content), read_only=True)
                text = json.dumps([list(r) for r in book.active.iter_rows(values_only=True)])
            else:
                text = response.text
            assert "salary" not in text and "1200" not in text
            assert "birthday" not in text and "1990-04-21" not in text
            assert "ali@example.com" in text
    # The admin, who holds every permission, gets them.
    response = await crm_client.get("/api/v1/exports/contacts", params={"format": "jsonl"})
    first = json.loads(response.text.splitlines()[0])
    assert first["birthday"] == "1990-04-21" and first["custom"] == {"salary": 1200}


async def test_exporting_needs_the_export_permission(crm_app: Any, crm_db: Any) -> None:
    await create_role(name="reader", permissions=["contacts.read"])
    reader = await make_user("reader")
    async with await make_client(crm_app, reader) as client:
        response = await client.get("/api/v1/exports/contacts")
        assert response.status_code == 403


async def test_xlsx_export_imports_back_to_the_same_contacts(crm_db: Any, tmp_path: Path) -> None:
    await seed()
    ids = [r["id"] for r in await Contact.select(Contact.id).order_by(Contact.id)]
    before = list((await contact_dicts(ids)).values())
    path = tmp_path / "contacts.xlsx"
    assert await export_to_file("contacts", "xlsx", path, SYSTEM) == 3

    await Contact.delete(force=True)
    result = await run_import(path, actor=SYSTEM)
    assert (result.created, result.failed) == (3, 0)
    assert set(result.unmapped) == {"id", "company_id", "created_at", "updated_at"}
    ids = [r["id"] for r in await Contact.select(Contact.id).order_by(Contact.id)]
    after = list((await contact_dicts(ids)).values())
    compared = (
        "first_name",
        "last_name",
        "emails",
        "phones",
        "company_name",
        "stage",
        "tags",
        "city",
        "country",
        "birthday",
        "custom",
    )
    assert [{k: c[k] for k in compared} for c in after] == [
        {k: c[k] for k in compared} for c in before
    ]


async def test_companies_and_interactions_export(crm_client: Any) -> None:
    await seed()
    response = await crm_client.get("/api/v1/exports/companies", params={"format": "jsonl"})
    assert sorted(json.loads(line)["name"] for line in response.text.splitlines()) == [
        "Acme",
        "پارس",
    ]
    response = await crm_client.get("/api/v1/exports/interactions")
    assert response.status_code == 200
    assert response.text.lstrip("\ufeff").startswith("id,contact_id,company_id,channel")
    assert (await crm_client.get("/api/v1/exports/users")).status_code == 422


def test_cli_export_streams_to_stdout_and_writes_files(crm_cli: Any, tmp_path: Path) -> None:
    assert crm_cli("db", "migrate").exit_code == 0
    tag = f"cli-{uuid.uuid4().hex[:8]}"  # the database may be shared: export only ours
    source = tmp_path / "in.csv"
    source.write_text(
        f"first_name,email,company,tags\nAli,ali@example.com,Acme,{tag}\nSara,s@example.com,,{tag}\n"
    )
    imported = crm_cli("contacts", "import", str(source))
    assert imported.exit_code == 0, imported.output
    result = crm_cli("contacts", "export", "--format", "jsonl", "--tag", tag)
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["first_name"] for line in result.output.splitlines()] == [
        "Ali",
        "Sara",
    ]
    csv_file = tmp_path / "out.csv"
    result = crm_cli("contacts", "export", "--format", "csv", "-o", str(csv_file), "--tag", tag)
    assert result.exit_code == 0, result.output
    with open(csv_file, encoding="utf-8-sig", newline="") as handle:
        assert [r["first_name"] for r in csv.DictReader(handle)] == ["Ali", "Sara"]
    target = tmp_path / "out.xlsx"
    result = crm_cli("contacts", "export", "--format", "xlsx", "-o", str(target), "--tag", tag)
    assert result.exit_code == 0, result.output
    rows = list(load_workbook(target, read_only=True).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("id", "first_name", "last_name")
    assert [r[1] for r in rows[1:]] == ["Ali", "Sara"]
    assert crm_cli("contacts", "export", "--format", "xlsx").exit_code != 0


async def test_numbers_too_big_to_be_ids_are_refused_not_crashed_on(crm_client: Any) -> None:
    huge = str(2**70)
    response = await crm_client.get("/api/v1/exports/contacts", params={"owner": huge})
    assert response.status_code == 422
    assert (await crm_client.get(f"/api/v1/imports/{huge}")).status_code == 404
    merge = await crm_client.post(
        "/api/v1/contacts/merge", json={"survivor_id": 1, "merged_id": 2**70}
    )
    assert merge.status_code == 404
    bad_stage = await crm_client.get("/api/v1/exports/contacts", params={"stage": "vip"})
    assert bad_stage.status_code == 422
    assert "stage" in bad_stage.json()["errors"]
