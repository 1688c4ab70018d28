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


def _hr_routes(app) -> list[tuple[str, str]]:
    """Every (method, concrete path) of the HR plugin's pages and API in ``app``."""
    import re

    found = []
    for route in app.routes:
        if route.path == "/hr" or route.path.startswith(("/hr/", "/api/v1/hr/")):
            path = re.sub(r"\{[^}]+\}", "1", route.path)
            found += [(method, path) for method in sorted(route.methods) if method != "OPTIONS"]
    return found


async def test_disabling_hides_every_hr_route_and_reenabling_shows_the_same_data(org, crm_settings):
    from crmcore.settings import load_settings, write_plugin_state

    def reloaded():
        env = {
            "CRM_HOME": str(crm_settings.home),
            "CRM_DATABASE_URL": crm_settings.database_url,
            "CRM_SECRET_KEY": "test-secret",
        }
        settings = load_settings(home=crm_settings.home, env=env)
        return settings, get_plugin_manager(settings, load_plugins=["hr"])

    enabled_routes = _hr_routes(create_app(crm_settings, reloaded()[1], manage_database=False))
    assert len(enabled_routes) >= 20 and ("GET", "/hr/leave") in enabled_routes

    write_plugin_state(crm_settings.home, "hr", False)  # what `crm plugins disable hr` does
    settings, without = reloaded()
    assert not without.is_enabled("hr")
    app = create_app(settings, without, manage_database=False)
    assert _hr_routes(app) == []
    async with app.lifespan():
        async with await make_client(app, org.users.hr) as client:
            for method, path in enabled_routes:
                response = await client.request(method, path, json={} if method != "GET" else None)
                assert response.status_code == 404, (method, path, response.status_code)
            home = await client.get("/")
            assert home.status_code == 200 and 'href="/hr/"' not in home.text

    write_plugin_state(crm_settings.home, "hr", True)
    settings, again = reloaded()
    app = create_app(settings, again, manage_database=False)
    async with app.lifespan():
        async with await make_client(app, org.users.hr) as client:
            items = (await client.get("/api/v1/hr/employees")).json()["items"]
            assert {e["employee_number"] for e in items} == {"E1", "E2", "E3"}
            page = await client.get(f"/hr/employees/{org.people.alice['id']}")
            assert page.status_code == 200 and "Alice" in page.text
            assert 'href="/hr/"' in (await client.get("/")).text


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
    exported = await privacy.export_contact(contact["id"], SYSTEM)
    assert exported["employees"][0]["employee"]["employee_number"] == "E3"
    await privacy.erase_contact(contact["id"])
    assert (await privacy.export_contact(contact["id"], SYSTEM))["employees"] == []


async def test_privacy_export_holds_salary_only_for_those_who_may_see_it(org, crm_app):
    from crmcore.services.contacts import create_contact

    alice_id = org.people.alice["id"]
    contact = await create_contact({"first_name": "Alice", "last_name": "Report"}, SYSTEM)
    await employees.update_employee(alice_id, {"contact_id": contact["id"]}, SYSTEM)
    await employees.update_employee(alice_id, {"salary": SALARY + "1", "note": "raise"}, SYSTEM)
    await create_role(name="privacy_officer", permissions=["privacy.manage"])
    await create_role(
        name="privacy_hr",
        permissions=["privacy.manage", "hr.view_compensation", "hr.view_sensitive"],
    )
    officer = await create_user(email="dpo@example.com", password=PASSWORD, role="privacy_officer")
    trusted = await create_user(email="dpo-hr@example.com", password=PASSWORD, role="privacy_hr")
    url = f"/api/v1/privacy/contacts/{contact['id']}/export"

    async with await make_client(crm_app, officer) as client:
        without = await client.get(url)
    assert without.status_code == 200, without.text
    [record] = without.json()["plugins"]["hr"]["employees"]
    assert record["employee"]["employee_number"] == "E2"  # the rest of the record is there
    assert record["history"]  # so is the job history, without its salaries
    assert SALARY not in without.text and "0012345678" not in without.text
    assert "salary" not in record["employee"] and "national_id" not in record["employee"]
    assert all("salary" not in change for change in record["history"])
    assert {"hr_employee.salary", "hr_employee.national_id"} <= set(without.json()["withheld"])

    async with await make_client(crm_app, trusted) as client:
        allowed = await client.get(url)
    [record] = allowed.json()["plugins"]["hr"]["employees"]
    assert record["employee"]["salary"].startswith(SALARY + "1")
    assert record["employee"]["national_id"] == "0012345678"
    assert any((c.get("salary") or "").startswith(SALARY + "1") for c in record["history"])
    assert allowed.json()["withheld"] == []
    entries = await list_audit(SYSTEM, table="hr_employee", record_id=alice_id)
    readers = [e["actor"] for e in entries if e["action"] == "read"]
    assert trusted["id"] in readers and officer["id"] not in readers  # exported reads audited


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


async def test_dependants_of_a_benefit_enrolment_are_sensitive(org):
    hr, lead = org.clients.hr, org.clients.lead
    plan = await hr.post("/api/v1/hr/benefit-plans", json={"name": "Health", "kind": "health"})
    assert plan.status_code == 201, plan.text
    enrolment = await hr.post(
        "/api/v1/hr/enrolments",
        json={
            "employee_id": org.people.alice["id"],
            "plan_id": plan.json()["id"],
            "start_date": "2026-01-01",
            "dependants": [{"name": "Kian Report", "relation": "child"}],
        },
    )
    assert enrolment.status_code == 201, enrolment.text
    path = f"/api/v1/hr/employees/{org.people.alice['id']}/enrolments"
    seen_by_hr = (await hr.get(path)).json()
    assert seen_by_hr[0]["plan_name"] == "Health"
    assert seen_by_hr[0]["dependants"][0]["name"] == "Kian Report"
    seen_by_lead = await lead.get(path)
    assert seen_by_lead.status_code == 200 and seen_by_lead.json()[0]["plan_name"] == "Health"
    assert "Kian" not in seen_by_lead.text
    assert (await org.clients.agent.get(path)).status_code in (403, 404)


async def test_leave_calendar_shows_who_is_away_in_the_users_calendar(org):
    hr = org.clients.hr
    kind = (await hr.post("/api/v1/hr/leave-types", json={"name": "Annual"})).json()
    allocation = {"employee_id": org.people.alice["id"], "leave_type_id": kind["id"],
                  "year": 2026, "days": 20}  # fmt: skip
    assert (await hr.post("/api/v1/hr/leave-allocations", json=allocation)).status_code == 201
    request = await org.clients.alice.post(
        "/api/v1/hr/leave-requests",
        json={"leave_type_id": kind["id"], "start_date": "2026-03-02", "end_date": "2026-03-03"},
    )
    await org.clients.lead.post(f"/api/v1/hr/leave-requests/{request.json()['id']}/approve")
    page = await hr.get("/hr/leave", params={"month": "2026-03"})
    assert page.status_code == 200 and "Alice" in page.text
    for bad in ("March", "2026", "2026-13"):
        assert (await hr.get("/hr/leave", params={"month": bad})).status_code in (400, 422), bad


async def test_merging_contacts_moves_the_employee_link(org):
    from crmcore.services.contacts import create_contact
    from crmcore.services.merge import merge_contacts

    survivor = await create_contact({"first_name": "Bob", "last_name": "Other"}, SYSTEM)
    duplicate = await create_contact({"first_name": "Bobby", "last_name": "Other"}, SYSTEM)
    await employees.update_employee(org.people.bob["id"], {"contact_id": duplicate["id"]}, SYSTEM)
    await merge_contacts(survivor["id"], duplicate["id"], SYSTEM)
    shown = (await org.clients.hr.get(f"/api/v1/hr/employees/{org.people.bob['id']}")).json()
    assert shown["contact_id"] == survivor["id"]
