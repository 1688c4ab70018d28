"""The projects plugin through its services, API, pages, CLI and the core's timelines."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import jdatetime
import pytest
from crm_projects import projects as svc
from crm_projects import work
from crm_projects.progress import percent_complete, schedule_health
from crm_projects.templates_copy import create_from_template

from crmcore.errors import ValidationError
from crmcore.services.actor import SYSTEM
from crmcore.services.companies import create_company
from crmcore.services.contacts import create_contact
from crmcore.testing.pages import untranslated_texts
from crmcore.web.i18n import to_persian_digits

pytestmark = pytest.mark.crm_plugins("projects")


async def _project(**extra):
    return await svc.create_project({"name": "Rollout", **extra}, SYSTEM)


async def test_percent_complete_is_weighted_by_estimate(crm_db):
    project = await _project()
    for name, hours, status in [
        ("a", 2, "done"),
        ("b", 6, "todo"),
        ("c", 4, "done"),
        ("d", 8, "in_progress"),
    ]:
        await work.add_task(
            project["id"], {"name": name, "estimate_hours": hours, "status": status}, SYSTEM
        )
    shown = await svc.get_project(project["id"], SYSTEM)
    assert shown["percent_complete"] == round(100 * (2 + 4) / (2 + 6 + 4 + 8), 1) == 30.0


def test_unestimated_tasks_weigh_the_average_estimate():
    tasks = [{"estimate_hours": 4, "status": "done"}, {"estimate_hours": 0, "status": "todo"}]
    assert percent_complete(tasks) == 50.0
    assert percent_complete([]) == 0.0


def test_schedule_health_from_dates_and_progress():
    start, target = date(2026, 1, 1), date(2026, 1, 31)
    halfway = date(2026, 1, 16)
    assert schedule_health(50, start, target, halfway) == "on_track"
    assert schedule_health(35, start, target, halfway) == "at_risk"
    assert schedule_health(10, start, target, halfway) == "off_track"
    assert schedule_health(90, start, target, date(2026, 2, 2)) == "off_track"
    assert schedule_health(100, start, target, date(2026, 2, 2)) == "done"


async def test_dependency_cycle_is_refused_with_a_clear_error(crm_db):
    project = await _project()
    a = await work.add_task(project["id"], {"name": "design"}, SYSTEM)
    b = await work.add_task(project["id"], {"name": "build", "depends_on": [a["id"]]}, SYSTEM)
    c = await work.add_task(project["id"], {"name": "ship", "depends_on": [b["id"]]}, SYSTEM)
    with pytest.raises(ValidationError, match="dependency cycle") as caught:
        await work.add_dependency(a["id"], c["id"], SYSTEM)
    assert f"#{a['id']}" in caught.value.message
    assert (await work.get_task(a["id"]))["depends_on"] == []


async def test_cycle_over_the_api_is_a_422(crm_client):
    project = (await crm_client.post("/api/v1/projects/", json={"name": "API"})).json()
    first = (
        await crm_client.post(f"/api/v1/projects/{project['id']}/tasks", json={"name": "one"})
    ).json()
    second = (
        await crm_client.post(
            f"/api/v1/projects/{project['id']}/tasks",
            json={"name": "two", "depends_on": [first["id"]]},
        )
    ).json()
    response = await crm_client.patch(
        f"/api/v1/projects/tasks/{first['id']}", json={"depends_on": [second["id"]]}
    )
    assert response.status_code == 422
    assert "dependency cycle" in response.json()["detail"]


async def test_risks_rank_by_score_and_sit_in_their_matrix_cell(crm_client):
    project = (await crm_client.post("/api/v1/projects/", json={"name": "Risky"})).json()
    base = f"/api/v1/projects/{project['id']}/risks"
    for title, p, i in [("vendor", 2, 3), ("outage", 5, 4), ("scope", 3, 5), ("minor", 1, 1)]:
        assert (
            await crm_client.post(base, json={"title": title, "probability": p, "impact": i})
        ).status_code == 201
    shown = (await crm_client.get(f"/api/v1/projects/{project['id']}")).json()
    assert [r["title"] for r in shown["risks"]] == ["outage", "scope", "vendor", "minor"]
    assert [r["score"] for r in shown["risks"]] == [20, 15, 6, 1]
    page = await crm_client.get(f"/projects/{project['id']}")
    assert page.status_code == 200
    cells = re.findall(
        r'data-impact="(\d)" data-probability="(\d)">(.*?)</td>', page.text, flags=re.DOTALL
    )
    assert len(cells) == 25
    placed = {
        (int(impact), int(probability)): re.findall(r'<span title="([^"]+)">', body)
        for impact, probability, body in cells
    }
    expected = {(4, 5): ["outage"], (5, 3): ["scope"], (3, 2): ["vendor"], (1, 1): ["minor"]}
    assert {cell: titles for cell, titles in placed.items() if titles} == expected
    listed = page.text.split('class="table risk-list"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>\d+</td><td>([^<]+)</td><td>(\d+)</td>", listed)
    assert rows == [("outage", "20"), ("scope", "15"), ("vendor", "6"), ("minor", "1")]


async def test_milestone_reached_shows_on_the_customers_timeline(crm_client):
    company = await create_company({"name": "Acme"}, SYSTEM)
    member = await create_contact({"first_name": "Sara", "company_id": company["id"]}, SYSTEM)
    colleague = await create_contact({"first_name": "Omid", "company_id": company["id"]}, SYSTEM)
    project = await svc.create_project(
        {"name": "Onboarding", "company_id": company["id"], "contact_ids": [member["id"]]}, SYSTEM
    )
    milestone = await svc.add_milestone(project["id"], {"name": "Go-live"}, SYSTEM)
    response = await crm_client.post(f"/api/v1/projects/milestones/{milestone['id']}/reached")
    assert response.status_code == 201
    for contact in (member, colleague):
        timeline = (await crm_client.get(f"/api/v1/contacts/{contact['id']}/timeline")).json()
        items = timeline["items"] if isinstance(timeline, dict) else timeline
        kinds = [item["kind"] for item in items]
        assert "projects.milestone_reached" in kinds
        entry = next(i for i in items if i["kind"] == "projects.milestone_reached")
        assert "Go-live" in entry["title"]


async def test_project_from_template_shifts_dates(crm_db):
    template = await svc.create_project(
        {
            "name": "Standard rollout",
            "is_template": True,
            "start_date": "2026-01-01",
            "target_date": "2026-03-01",
            "stages": ["Discovery", "Build", "Launch"],
        },
        SYSTEM,
    )
    kickoff = await svc.add_milestone(
        template["id"], {"name": "Kick-off", "due_date": "2026-01-05"}, SYSTEM
    )
    first = await work.add_task(
        template["id"],
        {
            "name": "Workshop",
            "milestone_id": kickoff["id"],
            "start_date": "2026-01-02",
            "due_date": "2026-01-04",
            "estimate_hours": 3,
        },
        SYSTEM,
    )
    await work.add_task(
        template["id"],
        {"name": "Follow-up", "due_date": "2026-01-20", "depends_on": [first["id"]]},
        SYSTEM,
    )
    made = await create_from_template(
        template["id"], {"name": "Acme rollout", "start_date": "2026-06-01"}, SYSTEM
    )
    shift = date(2026, 6, 1) - date(2026, 1, 1)
    assert made["is_template"] is False
    assert made["stages"] == ["Discovery", "Build", "Launch"] and made["stage"] == "Discovery"
    assert made["target_date"] == (date(2026, 3, 1) + shift).isoformat()
    assert [(m["name"], m["due_date"]) for m in made["milestones"]] == [
        ("Kick-off", (date(2026, 1, 5) + shift).isoformat())
    ]
    tasks = {t["name"]: t for t in made["tasks"]}
    assert tasks["Workshop"]["start_date"] == (date(2026, 1, 2) + shift).isoformat()
    assert tasks["Workshop"]["due_date"] == (date(2026, 1, 4) + shift).isoformat()
    assert tasks["Workshop"]["milestone_id"] == made["milestones"][0]["id"]
    assert tasks["Follow-up"]["depends_on"] == [tasks["Workshop"]["id"]]
    assert all(t["status"] == "todo" for t in made["tasks"])


async def test_assigned_task_with_a_due_date_is_in_the_core_task_list(crm_client, crm_user):
    project = (await crm_client.post("/api/v1/projects/", json={"name": "Calendar"})).json()
    due = (date.today() + timedelta(days=3)).isoformat()
    task = (
        await crm_client.post(
            f"/api/v1/projects/{project['id']}/tasks",
            json={"name": "Train users", "assignee_id": crm_user["id"], "due_date": due},
        )
    ).json()
    listed = (await crm_client.get("/api/v1/tasks", params={"assignee": "me"})).json()["items"]
    mirrored = [t for t in listed if t["id"] == task["interaction_id"]]
    assert mirrored and "Train users" in mirrored[0]["subject"]
    done = await crm_client.post(f"/api/v1/tasks/{task['interaction_id']}/done")
    assert done.status_code in (200, 201)
    shown = (await crm_client.get(f"/api/v1/projects/{project['id']}")).json()
    assert shown["tasks"][0]["status"] == "done"
    assert shown["percent_complete"] == 100.0


async def test_pages_list_and_menu(crm_client):
    await crm_client.post("/api/v1/projects/", json={"name": "Visible project"})
    page = await crm_client.get("/projects/")
    assert page.status_code == 200
    assert "Visible project" in page.text
    assert 'href="/projects/"' in page.text


async def test_invalid_input_is_a_422_with_the_field(crm_client):
    response = await crm_client.post(
        "/api/v1/projects/",
        json={"name": "Bad", "start_date": "2026-05-01", "target_date": "2026-04-01"},
    )
    assert response.status_code == 422
    assert "target_date" in response.json()["errors"]
    risk = await crm_client.post(
        "/api/v1/projects/999/risks", json={"title": "x", "probability": 9, "impact": 1}
    )
    assert risk.status_code in (404, 422)


async def test_privacy_export_erase_and_merge(crm_db):
    a = await create_contact({"first_name": "Ali"}, SYSTEM)
    b = await create_contact({"first_name": "Ali B"}, SYSTEM)
    project = await svc.create_project({"name": "P", "contact_ids": [a["id"]]}, SYSTEM)
    from crm_projects import privacy

    exported = await privacy.export_contact(a["id"])
    assert exported["projects"][0]["project_id"] == project["id"]
    await privacy.move_contact(a["id"], b["id"])
    assert (await privacy.export_contact(b["id"]))["projects"]
    await privacy.erase_contact(b["id"])
    assert (await privacy.export_contact(b["id"]))["projects"] == []


def test_cli_list_and_show_json(crm_cli, crm_settings):
    assert crm_cli("db", "migrate").exit_code == 0
    from crmcore.db.runtime import open_database
    from crmcore.plugins import get_plugin_manager
    from crmcore.testing.plugin import run_sync

    async def seed():
        db = await open_database(crm_settings.database_url, get_plugin_manager(crm_settings))
        try:
            project = await svc.create_project({"name": "CLI project"}, SYSTEM)
            await work.add_task(
                project["id"], {"name": "x", "estimate_hours": 1, "status": "done"}, SYSTEM
            )
            await work.add_task(project["id"], {"name": "y", "estimate_hours": 3}, SYSTEM)
            return project["id"]
        finally:
            await db.close()

    project_id = run_sync(seed())
    listed = crm_cli("projects", "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert any(r["id"] == project_id and r["percent_complete"] == 25.0 for r in rows)
    shown = crm_cli("projects", "show", str(project_id), "--json")
    assert json.loads(shown.output)["percent_complete"] == 25.0
    status = crm_cli("projects", "status", str(project_id), "--summary", "Half way there")
    assert status.exit_code == 0 and "25.0% complete" in status.output
    missing = crm_cli("projects", "show", "9999")
    assert missing.exit_code != 0


async def test_project_pages_in_persian_leave_no_english_ui_text(crm_client):
    today = date.today()
    project = await _project(
        status="active",
        stages=["Plan", "Build"],
        start_date=str(today - timedelta(days=10)),
        target_date=str(today + timedelta(days=20)),
    )
    await svc.add_goal(project["id"], {"name": "Sites", "target_value": 10, "current_value": 3},
                       SYSTEM)  # fmt: skip
    milestone = await svc.add_milestone(project["id"], {"name": "Pilot", "due_date": str(today)},
                                        SYSTEM)  # fmt: skip
    await svc.reach_milestone(milestone["id"], SYSTEM)
    await svc.add_risk(project["id"], {"title": "Delay", "probability": 3, "impact": 4}, SYSTEM)
    for name, hours, status in [("design", 4, "done"), ("build", 8, "in_progress")]:
        await work.add_task(
            project["id"],
            {"name": name, "estimate_hours": hours, "status": status, "due_date": str(today)},
            SYSTEM,
        )
    await svc.add_status_update(project["id"], {"summary": "Going"}, SYSTEM)
    await crm_client.get("/?lang=fa")
    listing = await crm_client.get("/projects/")
    page = await crm_client.get(f"/projects/{project['id']}")
    assert "۳۳٫۳٪" in listing.text and "۳۳٫۳٪" in page.text  # Persian percent sign too
    assert "<title>امروز</title>" in page.text  # the today line of the timeline
    jalali = to_persian_digits(f"{jdatetime.date.today():%Y/%m/%d}")
    assert f"Pilot: {jalali}</title>" in page.text  # timeline dates are Jalali
    data = ["Rollout", "Plan", "Build", "Sites", "Pilot", "Delay", "design", "build", "Going"]
    data += ["Admin", "admin@example.com"]
    for response in (listing, page):
        assert '<html lang="fa" dir="rtl">' in response.text
        assert untranslated_texts(response.text, "fa", data) == [], response.url
        assert not re.search(r"\d{4}-\d{2}-\d{2}", response.text.split("<main", 1)[1])
