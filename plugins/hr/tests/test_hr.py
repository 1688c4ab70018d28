"""The hr plugin: who sees which record, restricted fields everywhere, leave and reviews."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from crm_hr import employees, leave

from crmcore.app import create_app
from crmcore.plugins import get_plugin_manager
from crmcore.services.actor import SYSTEM
from crmcore.services.audit import list_audit
from crmcore.services.roles import create_role
from crmcore.services.users import create_user
from crmcore.testing.plugin import make_client

pytestmark = pytest.mark.crm_plugins("hr")

SALARY = "987654321"
PASSWORD = "a long enough password"


@pytest.fixture
async def org(crm_db, crm_app):
    """HR admin, a team lead with one report, an outsider employee, and an agent."""
    await create_role(
        name="hr_admin",
        permissions=[
            "hr.manage",
            "hr.view",
            "hr.view_compensation",
            "hr.view_sensitive",
            "audit.read",
        ],
    )
    await create_role(name="team_lead", permissions=["hr.view", "audit.read"])
    users = SimpleNamespace()
    users.hr = await create_user(email="hr@example.com", password=PASSWORD, role="hr_admin")
    users.lead = await create_user(email="lead@example.com", password=PASSWORD, role="team_lead")
    users.alice = await create_user(email="alice@example.com", password=PASSWORD, role="viewer")
    users.agent = await create_user(email="agent@example.com", password=PASSWORD, role="agent")
    people = SimpleNamespace()
    people.lead = await employees.create_employee(
        {
            "employee_number": "E1",
            "first_name": "Lena",
            "last_name": "Lead",
            "user_id": users.lead["id"],
            "salary": "5000",
            "salary_currency": "EUR",
        },
        SYSTEM,
    )
    people.alice = await employees.create_employee(
        {
            "employee_number": "E2",
            "first_name": "Alice",
            "last_name": "Report",
            "user_id": users.alice["id"],
            "manager_id": people.lead["id"],
            "salary": SALARY,
            "salary_currency": "IRR",
            "national_id": "0012345678",
        },
        SYSTEM,
    )
    people.bob = await employees.create_employee(
        {
            "employee_number": "E3",
            "first_name": "Bob",
            "last_name": "Other",
            "salary": "4000",
            "salary_currency": "EUR",
        },
        SYSTEM,
    )
    clients = {}
    for name in ("hr", "lead", "alice", "agent"):
        clients[name] = await make_client(crm_app, getattr(users, name))
    yield SimpleNamespace(users=users, people=people, clients=SimpleNamespace(**clients))
    for client in clients.values():
        await client.aclose()


async def test_agent_reads_no_hr_record(org):
    agent = org.clients.agent
    assert (await agent.get("/api/v1/hr/employees")).json()["items"] == []
    for person in (org.people.lead, org.people.alice, org.people.bob):
        assert (await agent.get(f"/api/v1/hr/employees/{person['id']}")).status_code == 404
    assert (await agent.get("/api/v1/hr/departments")).status_code == 403


async def test_manager_reads_reports_but_not_others_nor_compensation(org):
    lead = org.clients.lead
    listed = {
        e["employee_number"] for e in (await lead.get("/api/v1/hr/employees")).json()["items"]
    }
    assert listed == {"E1", "E2"}
    alice = (await lead.get(f"/api/v1/hr/employees/{org.people.alice['id']}")).json()
    assert alice["first_name"] == "Alice"
    assert "salary" not in alice and "national_id" not in alice
    assert (await lead.get(f"/api/v1/hr/employees/{org.people.bob['id']}")).status_code == 404


async def test_employee_reads_their_own_record_only(org):
    alice = org.clients.alice
    items = (await alice.get("/api/v1/hr/employees")).json()["items"]
    assert [e["employee_number"] for e in items] == ["E2"]
    assert (await alice.get(f"/api/v1/hr/employees/{org.people.lead['id']}")).status_code == 404


async def test_hr_admin_reads_everything(org):
    hr = org.clients.hr
    items = (await hr.get("/api/v1/hr/employees")).json()["items"]
    assert {e["employee_number"] for e in items} == {"E1", "E2", "E3"}
    alice = (await hr.get(f"/api/v1/hr/employees/{org.people.alice['id']}")).json()
    assert alice["salary"].startswith(SALARY) and alice["national_id"] == "0012345678"


async def test_salary_never_reaches_a_reader_without_the_permission(org):
    lead, alice_id = org.clients.lead, org.people.alice["id"]
    await employees.update_employee(alice_id, {"salary": SALARY + "1", "note": "raise"}, SYSTEM)
    responses = [
        await lead.get("/api/v1/hr/employees"),
        await lead.get(f"/api/v1/hr/employees/{alice_id}"),
        await lead.get(f"/api/v1/hr/employees/{alice_id}/history"),
        await lead.get("/api/v1/hr/employees/export.csv"),
        await lead.get(f"/hr/employees/{alice_id}"),
        await lead.get("/hr/"),
        await lead.get("/api/v1/hr/employees", params={"q": SALARY}),
        await lead.get("/api/v1/audit", params={"table": "hr_employee", "record": alice_id}),
    ]
    for response in responses:
        assert response.status_code == 200, (response.request.url, response.text[:200])
        assert SALARY not in response.text, response.request.url
    assert (await lead.get("/api/v1/hr/employees", params={"q": SALARY})).json()["items"] == []
    own = await org.clients.alice.get(f"/api/v1/hr/employees/{alice_id}")
    assert SALARY not in own.text


async def test_outside_reads_of_restricted_fields_are_audited(org):
    alice_id = org.people.alice["id"]
    await org.clients.hr.get(f"/api/v1/hr/employees/{alice_id}")
    entries = await list_audit(SYSTEM, table="hr_employee", record_id=alice_id)
    reads = [e for e in entries if e["action"] == "read"]
    assert reads and reads[0]["actor"] == org.users.hr["id"]
    changes = reads[0]["changes"]
    if isinstance(changes, str):
        changes = json.loads(changes)
    assert "salary" in changes["fields_read"]


async def test_leave_balance_across_the_year_boundary(org):
    hr, alice = org.clients.hr, org.clients.alice
    kind = (await hr.post("/api/v1/hr/leave-types", json={"name": "Annual"})).json()
    for year, days in ((2025, 20), (2026, 22)):
        allocation = {
            "employee_id": org.people.alice["id"],
            "leave_type_id": kind["id"],
            "year": year,
            "days": days,
        }
        assert (await hr.post("/api/v1/hr/leave-allocations", json=allocation)).status_code == 201
    # Monday 29 Dec 2025 to Friday 2 Jan 2026: three working days in 2025, two in 2026.
    request = await alice.post(
        "/api/v1/hr/leave-requests",
        json={"leave_type_id": kind["id"], "start_date": "2025-12-29", "end_date": "2026-01-02"},
    )
    assert request.status_code == 201, request.text
    assert (
        await alice.post(f"/api/v1/hr/leave-requests/{request.json()['id']}/approve")
    ).status_code == 403
    approved = await org.clients.lead.post(
        f"/api/v1/hr/leave-requests/{request.json()['id']}/approve"
    )
    assert approved.status_code == 201, approved.text
    assert approved.json()["status"] == "approved"
    base = f"/api/v1/hr/employees/{org.people.alice['id']}/leave-balance"
    b2025 = (await alice.get(base, params={"leave_type": kind["id"], "year": 2025})).json()
    b2026 = (await alice.get(base, params={"leave_type": kind["id"], "year": 2026})).json()
    assert (b2025["allocated"], b2025["taken"], b2025["remaining"]) == (20, 3, 17)
    assert (b2026["allocated"], b2026["taken"], b2026["remaining"]) == (22, 2, 20)
    too_much = await alice.post(
        "/api/v1/hr/leave-requests",
        json={"leave_type_id": kind["id"], "start_date": "2026-01-05", "end_date": "2026-02-27"},
    )
    assert too_much.status_code == 422 and "only 20 left" in too_much.json()["detail"]


def test_working_days_are_split_by_year():
    from datetime import date

    assert leave.days_by_year(date(2025, 12, 29), date(2026, 1, 2), (5, 6)) == {2025: 3, 2026: 2}
    assert leave.days_by_year(date(2026, 1, 2), date(2026, 1, 3), (4,)) == {2026: 1}


async def test_review_workflow_with_weighted_scores(org):
    lead, alice = org.clients.lead, org.clients.alice
    review = (
        await lead.post(
            "/api/v1/hr/reviews",
            json={
                "employee_id": org.people.alice["id"],
                "goals": [{"name": "Sales", "weight": 3}, {"name": "Team", "weight": 1}],
            },
        )
    ).json()
    sales, team = (g["id"] for g in review["goals"])
    await alice.post(
        f"/api/v1/hr/reviews/{review['id']}/ratings",
        json={"ratings": {str(sales): 4, str(team): 5}},
    )
    rated = (
        await lead.post(
            f"/api/v1/hr/reviews/{review['id']}/ratings",
            json={"ratings": {str(sales): 3, str(team): 5}},
        )
    ).json()
    assert rated["self_score"] == 4.25 and rated["manager_score"] == 3.5
    assert (await alice.post(f"/api/v1/hr/reviews/{review['id']}/acknowledge")).status_code == 422
    assert (await lead.post(f"/api/v1/hr/reviews/{review['id']}/submit")).json()[
        "status"
    ] == "submitted"
    assert (await alice.post(f"/api/v1/hr/reviews/{review['id']}/acknowledge")).json()[
        "status"
    ] == "acknowledged"
    assert (await org.clients.agent.get(f"/api/v1/hr/reviews/{review['id']}")).status_code == 404


async def test_org_chart_page_shows_the_tree(org):
    hr = org.clients.hr
    top = (
        await hr.post(
            "/api/v1/hr/departments", json={"name": "Company", "head_id": org.people.lead["id"]}
        )
    ).json()
    await hr.post("/api/v1/hr/departments", json={"name": "Sales", "parent_id": top["id"]})
    await employees.update_employee(org.people.alice["id"], {"department_id": top["id"]}, SYSTEM)
    tree = (await hr.get("/api/v1/hr/departments")).json()
    assert tree[0]["name"] == "Company" and tree[0]["children"][0]["name"] == "Sales"
    assert tree[0]["head"] == "Lena Lead" and tree[0]["total"] == 1
    page = await hr.get("/hr/org")
    assert page.status_code == 200 and "Sales" in page.text and "Lena Lead" in page.text


async def test_disabling_hides_every_hr_route_and_reenabling_shows_the_same_data(org, crm_settings):
    without = get_plugin_manager(crm_settings, load_plugins=[])
    app = create_app(crm_settings, without, manage_database=False)
    async with app.lifespan():
        async with await make_client(app, org.users.hr) as client:
            for path in ("/api/v1/hr/employees", "/hr/", "/hr/org"):
                assert (await client.get(path)).status_code == 404
    again = get_plugin_manager(crm_settings, load_plugins=["hr"])
    app = create_app(crm_settings, again, manage_database=False)
    async with app.lifespan():
        async with await make_client(app, org.users.hr) as client:
            items = (await client.get("/api/v1/hr/employees")).json()["items"]
            assert {e["employee_number"] for e in items} == {"E1", "E2", "E3"}


async def test_validation_errors_name_the_field(org):
    hr = org.clients.hr
    bad = await hr.post(
        "/api/v1/hr/employees", json={"employee_number": "E9", "salary_currency": "EURO"}
    )
    assert bad.status_code == 422 and "salary_currency" in bad.json()["errors"]
    duplicate = await hr.post("/api/v1/hr/employees", json={"employee_number": "E1"})
    assert duplicate.status_code == 409
    assert (
        await org.clients.lead.post("/api/v1/hr/employees", json={"employee_number": "E7"})
    ).status_code == 403


async def test_privacy_hooks_cover_the_employee(org):
    from crm_hr import privacy

    from crmcore.services.contacts import create_contact

    contact = await create_contact({"first_name": "Bob", "last_name": "Other"}, SYSTEM)
    await employees.update_employee(org.people.bob["id"], {"contact_id": contact["id"]}, SYSTEM)
    exported = await privacy.export_contact(contact["id"])
    assert exported["employees"][0]["employee"]["employee_number"] == "E3"
    await privacy.erase_contact(contact["id"])
    assert (await privacy.export_contact(contact["id"]))["employees"] == []


def test_cli_lists_employees_as_json(crm_cli, crm_settings, tmp_path):
    assert crm_cli("db", "migrate").exit_code == 0
    source = tmp_path / "people.csv"
    source.write_text(
        "employee_number,first_name,last_name,department,manager_number,salary\n"
        "C1,Sara,Boss,Ops,,100\nC2,Reza,Staff,Ops,C1,50\nC3,Bad,Row,Ops,NOPE,1\n",
        encoding="utf-8",
    )
    imported = crm_cli("hr", "employees", "import", str(source))
    assert imported.exit_code == 0, imported.output
    assert "row 4" in imported.output and "Imported 2" in imported.output
    listed = crm_cli("hr", "employees", "list", "--json")
    rows = json.loads(listed.output)
    assert {r["employee_number"] for r in rows} >= {"C1", "C2"}
