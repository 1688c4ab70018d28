"""The import engine: same rules as one contact, bad rows reported, files people really send."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from crmcore.errors import CRMError, ValidationError
from crmcore.hookspecs import hookimpl
from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import contact_dicts, create_contact, list_contacts
from crmcore.services.custom_fields import define_field
from crmcore.services.imports import (
    NothingImported,
    get_import,
    import_errors,
    revert_import,
    run_import,
)
from crmcore.tables import Contact, ContactPoint, ContactTag, OutboxEvent, StageChange

pytestmark = pytest.mark.anyio

HEADER = ["first_name", "last_name", "email", "phone", "company"]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER, **fmt: Any) -> Path:
    with open(path, "w", encoding=fmt.pop("encoding", "utf-8"), newline="") as handle:
        writer = csv.writer(handle, **fmt)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_report(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


async def all_contacts() -> list[dict[str, Any]]:
    ids = [r["id"] for r in await Contact.select(Contact.id).order_by(Contact.id)]
    found = await contact_dicts(ids)
    return [found[i] for i in ids]


async def test_standard_headers_need_no_mapping(crm_db: Any, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "people.csv",
        [
            ["Ali", "Rezaei", "Ali.Rezaei@Example.com", "0912 123 4567", "Pars Trading"],
            ["Sara", "Ahmadi", "sara@example.com", "+98 935 111 2233", "pars trading"],
        ],
    )
    result = await run_import(path, actor=SYSTEM)
    assert (result.status, result.created, result.failed, result.rows) == ("completed", 2, 0, 2)
    assert result.unmapped == []
    ali, sara = await all_contacts()
    assert ali["email"] == "ali.rezaei@example.com"
    assert ali["phone"] == "+989121234567"
    assert ali["company_name"] == "Pars Trading"
    assert sara["company_id"] == ali["company_id"]  # matched by name, case-insensitively
    assert await StageChange.count() == 2
    assert await ContactPoint.count() == 4
    # The full-text index follows the bulk insert.
    page = await list_contacts(SYSTEM, q="09121234567")
    assert [c["id"] for c in page.items] == [ali["id"]]
    page = await list_contacts(SYSTEM, q="pars")
    assert len(page.items) == 2
    events = await OutboxEvent.select().where(OutboxEvent.event == "import.completed")
    assert len(events) == 1


async def test_imported_contact_is_stored_exactly_like_a_created_one(
    crm_db: Any, tmp_path: Path
) -> None:
    header = ["first_name", "last_name", "email", "phone", "company", "city", "stage", "tags"]
    row = [
        "Maryam",
        "Karimi",
        "M.Karimi@Example.COM",
        "09121234567",
        "Acme",
        "Tehran",
        "prospect",
        "VIP, Tehran",
    ]
    created = await create_contact(
        dict(zip(header[:-1], row[:-1], strict=True)) | {"tags": ["VIP", "Tehran"]}, SYSTEM
    )
    await run_import(write_csv(tmp_path / "one.csv", [row], header), actor=SYSTEM)
    imported = (await all_contacts())[-1]
    ignore = {"id", "created_at", "updated_at", "owner_id"}
    assert {k: v for k, v in imported.items() if k not in ignore} == {
        k: v for k, v in created.items() if k not in ignore
    }
    texts = await Contact.select(Contact.search_text).order_by(Contact.id)
    assert texts[0]["search_text"] == texts[1]["search_text"]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("email", "not-an-email"),
        ("email", "ali@@example.com"),
        ("phone", "12"),
        ("phone", "0912-ABC"),
        ("stage", "vip"),
        ("country", "Iran"),
        ("birthday", "31/31/1990"),
        ("first_name", "x" * 151),
    ],
)
async def test_a_row_is_refused_with_the_message_create_contact_gives(
    crm_db: Any, tmp_path: Path, column: str, value: str
) -> None:
    data = {"first_name": "Ali", "email": "ali@example.com", column: value}
    with pytest.raises(ValidationError) as refused:
        await create_contact(data, SYSTEM)
    header = list(data)
    path = write_csv(tmp_path / "bad.csv", [[data[h] for h in header]], header)
    with pytest.raises(NothingImported) as nothing:
        await run_import(path, actor=SYSTEM)
    assert nothing.value.result is not None
    [error] = nothing.value.result.errors
    assert error["row"] == 2
    assert refused.value.message in error["reason"] or error["reason"] == refused.value.message
    assert await Contact.count() == 0


async def test_five_percent_bad_rows_are_reported_and_the_rest_imported(
    crm_db: Any, tmp_path: Path
) -> None:
    await define_field("contact", "vip_level", "VIP level", "number", required=True, actor=SYSTEM)
    header = ["first_name", "last_name", "email", "phone", "custom.vip_level"]
    lines: list[bytes] = [",".join(header).encode()]
    bad: dict[int, str] = {}
    # One row in twenty is bad (5%), each of the four kinds in turn.
    for i in range(400):
        row_number = i + 2
        first, email, phone, level = f"Person{i}", f"person{i}@example.com", f"0912{i:07d}", "3"
        if i % 80 == 1:
            email, bad[row_number] = f"person{i}-at-example.com", "email"
        elif i % 80 == 21:
            phone, bad[row_number] = "12345", "phone"
        elif i % 80 == 41:
            level, bad[row_number] = "", "custom.vip_level"
        line = ",".join([first, "Test", email, phone, level]).encode()
        if i % 80 == 61:
            # One cell in Windows-1256 (Persian "علی") inside a UTF-8 file.
            line = b"\xe1\xe1\xed,Test," + f"{email},{phone},{level}".encode()
            bad[row_number] = "not valid UTF-8"
        lines.append(line)
    path = tmp_path / "five-percent.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = tmp_path / "errors.csv"

    result = await run_import(path, actor=SYSTEM, batch_size=64, error_report=report)

    assert len(bad) == 20  # 5% of 400
    assert (result.created, result.failed, result.rows) == (380, 20, 400)
    assert await Contact.count() == 380
    rows = read_report(str(report))
    assert [int(r["row"]) for r in rows] == sorted(bad)
    for row in rows:
        assert bad[int(row["row"])] in row["reason"]
        assert list(row)[: len(header)] == header  # the original columns come first
    by_row = {int(r["row"]): r for r in rows}
    assert by_row[3]["email"] == "person1-at-example.com"
    assert "VIP level is required" in by_row[43]["reason"]


async def test_excel_utf16_tab_file_and_bom_semicolon_file(crm_db: Any, tmp_path: Path) -> None:
    text = "first_name\tlast_name\temail\r\nZahra\tMohammadi\tzahra@example.com\r\n"
    (tmp_path / "excel.txt").write_bytes(text.encode("utf-16"))  # BOM + UTF-16LE, as Excel
    result = await run_import(tmp_path / "excel.txt", actor=SYSTEM)
    assert result.created == 1

    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffنام;نام خانوادگی;ایمیل\nرضا;حسینی;reza@example.com\n".encode())
    result = await run_import(bom, actor=SYSTEM)
    assert result.created == 1
    zahra, reza = await all_contacts()
    assert (zahra["first_name"], zahra["email"]) == ("Zahra", "zahra@example.com")
    assert (reza["first_name"], reza["last_name"]) == ("رضا", "حسینی")


async def test_persian_headers_are_mapped_and_can_be_overridden(
    crm_db: Any, tmp_path: Path
) -> None:
    header = ["نام", "نام\u200cخانوادگی", "ایمیل", "موبایل", "شرکت", "برچسب", "یادداشت"]
    row = ["علی", "رضایی", "ali@example.com", "۰۹۱۲۱۲۳۴۵۶۷", "پارس", "ویژه، تهران", "x"]
    result = await run_import(write_csv(tmp_path / "fa.csv", [row], header), actor=SYSTEM)
    assert result.mapping == {
        "نام": "first_name",
        "نام\u200cخانوادگی": "last_name",
        "ایمیل": "email",
        "موبایل": "phone",
        "شرکت": "company",
        "برچسب": "tags",
        "یادداشت": "-",
    }
    assert result.unmapped == ["یادداشت"]
    [contact] = await all_contacts()
    assert contact["phone"] == "+989121234567"
    assert sorted(contact["tags"]) == ["تهران", "ویژه"]

    header = ["Name", "E-posta", "Firma"]
    path = write_csv(tmp_path / "other.csv", [["Ayşe", "ayse@example.com", "Acme"]], header)
    result = await run_import(
        path, actor=SYSTEM, mapping={"E-posta": "email", "Name": "first_name"}
    )
    assert result.created == 1
    contact = (await all_contacts())[-1]
    assert (contact["first_name"], contact["email"]) == ("Ayşe", "ayse@example.com")


async def test_upsert_updates_by_email_and_creates_the_rest(crm_db: Any, tmp_path: Path) -> None:
    existing = await create_contact(
        {"first_name": "Ali", "email": "ali@example.com", "phone": "09120000001", "tags": ["old"]},
        SYSTEM,
    )
    header = ["first_name", "last_name", "email", "city", "tags"]
    rows = [
        ["Ali", "Rezaei", "ALI@example.com", "Tabriz", "new"],
        ["Sara", "Ahmadi", "sara@example.com", "Shiraz", ""],
        ["Sara", "", "sara@example.com", "Yazd", ""],  # repeats a key of the same batch
    ]
    result = await run_import(
        write_csv(tmp_path / "up.csv", rows, header), actor=SYSTEM, mode="upsert", key="email"
    )
    assert (result.created, result.updated, result.failed) == (1, 2, 0)
    ali, sara = await all_contacts()
    assert ali["id"] == existing["id"]
    assert (ali["last_name"], ali["city"]) == ("Rezaei", "Tabriz")
    assert ali["phones"] == ["+989120000001"]  # kept: empty cells change nothing
    assert sorted(ali["tags"]) == ["new", "old"]
    assert (sara["last_name"], sara["city"]) == ("Ahmadi", "Yazd")


async def test_update_mode_skips_rows_matching_nobody(crm_db: Any, tmp_path: Path) -> None:
    await create_contact({"first_name": "Ali", "phone": "09121234567"}, SYSTEM)
    path = write_csv(
        tmp_path / "u.csv",
        [["Ali", "Rezaei", "+98 912 123 4567"], ["X", "Y", "09350000000"]],
        ["first_name", "last_name", "phone"],
    )
    result = await run_import(path, actor=SYSTEM, mode="update", key="phone")
    assert (result.updated, result.skipped, result.created) == (1, 1, 0)
    [error] = result.errors
    assert error["row"] == 3 and error["reason"].startswith("skipped: no contact with phone")


async def test_dry_run_reports_and_saves_nothing(crm_db: Any, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "d.csv", [["A", "B", "a@example.com", "", "New Co"], ["C", "D", "bad", "", ""]]
    )
    result = await run_import(path, actor=SYSTEM, dry_run=True)
    assert (result.dry_run, result.created, result.failed) == (True, 1, 1)
    assert await Contact.count() == 0
    assert await Contact.raw("SELECT id FROM company") == []
    record = await get_import(result.import_id, SYSTEM)
    assert record["dry_run"] is True and record["status"] == "completed"


async def test_revert_deletes_what_the_import_created_and_nothing_else(
    crm_db: Any, tmp_path: Path
) -> None:
    kept = await create_contact({"first_name": "Kept", "email": "kept@example.com"}, SYSTEM)
    path = write_csv(
        tmp_path / "r.csv",
        [["Kept", "Again", "kept@example.com", "", ""], ["New", "One", "new@example.com", "", ""]],
    )
    result = await run_import(path, actor=SYSTEM, mode="upsert")
    assert (result.created, result.updated) == (1, 1)
    outcome = await revert_import(result.import_id, SYSTEM)
    assert outcome["deleted"] == 1
    [left] = await all_contacts()
    assert left["id"] == kept["id"] and left["last_name"] == "Again"
    assert (await get_import(result.import_id, SYSTEM))["status"] == "reverted"


async def test_running_the_same_file_again_imports_nothing_twice(
    crm_db: Any, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "same.csv", [["A", "", f"a{i}@example.com", "", ""] for i in range(30)]
    )
    first = await run_import(path, actor=SYSTEM, batch_size=7)
    second = await run_import(path, actor=SYSTEM, batch_size=7)
    assert first.created == 30
    assert second.status == "already_imported" and second.import_id == first.import_id
    assert await Contact.count() == 30
    again = await run_import(path, actor=SYSTEM, again=True)
    assert again.created == 30 and again.import_id != first.import_id
    assert again.duplicates == 30


async def test_an_interrupted_import_continues_where_it_stopped(
    crm_db: Any, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "big.csv", [["P", str(i), f"p{i}@example.com", "", ""] for i in range(100)]
    )

    class Stop(Exception):
        pass

    def stop_after_three(progress: Any) -> None:
        if progress.rows >= 30:
            raise Stop

    with pytest.raises(Stop):
        await run_import(path, actor=SYSTEM, batch_size=10, progress=stop_after_three)
    assert await Contact.count() == 30
    result = await run_import(path, actor=SYSTEM, batch_size=10)
    assert (result.resumed_from, result.created, result.rows) == (30, 100, 100)
    names = sorted(int(c["last_name"]) for c in await all_contacts())
    assert names == list(range(100))


async def test_custom_fields_tags_owner_and_external_ids(
    crm_db: Any, crm_user: Any, tmp_path: Path
) -> None:
    await define_field(
        "contact", "tier", "Tier", "choice", choices=["Gold", "Silver"], actor=SYSTEM
    )
    header = ["first_name", "email", "Tier", "tags", "owner", "external_id"]
    rows = [
        ["A", "a@example.com", "gold", "x; y", "admin@example.com", "crm-1"],
        ["B", "b@example.com", "Bronze", "", "", "crm-2"],
        ["C", "c@example.com", "", "", "nobody@example.com", "crm-3"],
    ]
    result = await run_import(write_csv(tmp_path / "c.csv", rows, header), actor=SYSTEM)
    assert result.mapping["Tier"] == "custom.tier"
    assert (result.created, result.failed) == (1, 2)
    [a] = await all_contacts()
    assert a["custom"] == {"tier": "Gold"}
    assert sorted(a["tags"]) == ["x", "y"]
    assert a["owner_id"] == crm_user["id"]
    assert await ContactTag.count() == 2
    reasons = {e["row"]: e["reason"] for e in await import_errors(result.import_id)}
    assert "Bronze" in reasons[3] and "nobody@example.com" in reasons[4]

    update = write_csv(tmp_path / "u.csv", [["A2", "crm-1"]], ["first_name", "external_id"])
    result = await run_import(update, actor=SYSTEM, mode="update", key="external_id")
    assert result.updated == 1
    assert (await all_contacts())[0]["first_name"] == "A2"


async def test_a_plugin_can_veto_imported_rows(
    crm_db: Any, crm_pm: Any, register_test_plugin: Any, tmp_path: Path
) -> None:
    class NoExampleOrg:
        @hookimpl
        def validate_contact(self, data: dict[str, Any], existing: Any) -> None:
            if any(e.endswith("@example.org") for e in data["emails"]):
                raise ValidationError.for_field("email", "example.org addresses are not allowed")

    register_test_plugin(NoExampleOrg(), "no_example_org")
    path = write_csv(
        tmp_path / "v.csv", [["A", "", "a@example.org", "", ""], ["B", "", "b@example.com", "", ""]]
    )
    result = await run_import(path, actor=SYSTEM)
    assert (result.created, result.failed) == (1, 1)
    assert "example.org addresses are not allowed" in result.errors[0]["reason"]


async def test_a_file_nothing_can_be_imported_from_is_an_error(crm_db: Any, tmp_path: Path) -> None:
    with pytest.raises(NothingImported, match="none of the columns"):
        await run_import(write_csv(tmp_path / "x.csv", [["1"]], ["zzz"]), actor=SYSTEM)
    with pytest.raises(NothingImported, match="no data rows"):
        await run_import(write_csv(tmp_path / "h.csv", [], HEADER), actor=SYSTEM)
    with pytest.raises(NothingImported, match="mapped to email"):
        await run_import(
            write_csv(tmp_path / "k.csv", [["A"]], ["first_name"]), actor=SYSTEM, mode="update"
        )


def test_delimiter_and_encoding_detection() -> None:
    from crmcore.services.import_sources import detect_delimiter, detect_encoding

    assert detect_delimiter("a;b;c\n1;2;3\n") == ";"
    assert detect_delimiter('a,b\n"x;y",2\n') == ","
    assert detect_delimiter("a\tb\n1\t2\n") == "\t"
    assert detect_encoding("ab".encode("utf-16-le") * 10) == "utf-16-le"
    assert detect_encoding(b"\xef\xbb\xbfa,b") == "utf-8-sig"
    assert detect_encoding(io.BytesIO(b"a,b").read()) == "utf-8"


async def test_reader_processes_check_rows_exactly_like_the_importer(
    crm_db: Any, tmp_path: Path
) -> None:
    rows = [
        [f"N{i}", "X", f"n{i}@example.com" if i % 7 else "bad", "", f"Co{i % 3}"]
        for i in range(120)
    ]
    path = write_csv(tmp_path / "p.csv", rows)
    inline = await run_import(path, actor=SYSTEM, batch_size=16, parallel=False, dry_run=True)
    result = await run_import(path, actor=SYSTEM, batch_size=16, parallel=True)
    assert (result.created, result.failed, result.rows) == (inline.created, inline.failed, 120)
    assert result.created == 102
    assert [c["last_name"] for c in await all_contacts()] == ["X"] * 102
    assert [c["first_name"] for c in await all_contacts()] == [f"N{i}" for i in range(120) if i % 7]


async def test_a_run_that_lost_its_import_to_another_run_stops_without_writing(
    crm_db: Any, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "lease.csv", [["L", str(i), f"l{i}@example.com", "", ""] for i in range(50)]
    )

    async def another_run_takes_over(progress: Any) -> None:
        # What a second `crm contacts import` of the same file does when it starts.
        await Contact.raw("UPDATE data_import SET runner = 'someone-else'")

    with pytest.raises(CRMError, match="taken over by another run"):
        await run_import(path, actor=SYSTEM, batch_size=10, progress=another_run_takes_over)
    assert await Contact.count() == 10  # the first batch; the second one was rolled back
    [record] = await Contact.raw('SELECT "position", status FROM data_import')
    assert (record["position"], record["status"]) == (10, "running")


def test_reader_processes_only_for_large_files_and_as_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from crmcore.services.imports import MAX_READERS, PARALLEL_MIN_BYTES, reader_count

    monkeypatch.delenv("CRM_IMPORT_READERS", raising=False)
    assert reader_count(None, PARALLEL_MIN_BYTES - 1) == 0
    assert 1 <= reader_count(None, PARALLEL_MIN_BYTES) <= MAX_READERS
    assert reader_count(False, 10**9) == 0
    monkeypatch.setenv("CRM_IMPORT_READERS", "0")
    assert reader_count(None, 10**9) == 0
    assert reader_count(True, 10) == 1
    monkeypatch.setenv("CRM_IMPORT_READERS", "99")
    assert reader_count(None, 10**9) == MAX_READERS
