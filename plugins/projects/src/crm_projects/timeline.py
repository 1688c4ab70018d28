"""Project events on contact timelines: for the project's contacts and its company's."""

from __future__ import annotations

from datetime import UTC

from crm_projects.tables import ProjectEvent
from crmcore.services.records import load_json
from crmcore.services.timeline import TimelineEntry

TITLES = {
    "project_created": "Project created",
    "milestone_reached": "Milestone reached",
    "risk_raised": "Risk raised",
    "stage_changed": "Project stage changed",
    "status_update": "Project status update",
}


async def entries_for_contact(contact_id: int, limit: int) -> list[TimelineEntry]:
    rows = await ProjectEvent.raw(
        "SELECT e.id, e.project, e.kind, e.title, e.at, e.data FROM projects_event e "
        "WHERE e.project IN ("
        "  SELECT m.project FROM projects_member m WHERE m.contact = {}"
        "  UNION SELECT p.id FROM projects_project p JOIN contact c ON c.company = p.company"
        "  WHERE c.id = {} AND p.company IS NOT NULL"
        ") ORDER BY e.at DESC, e.id DESC LIMIT {}",
        contact_id,
        contact_id,
        limit,
    )
    entries = []
    for row in rows:
        at = row["at"]
        if isinstance(at, str):
            from datetime import datetime

            at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        entries.append(
            TimelineEntry(
                kind=f"projects.{row['kind']}",
                at=at,
                title=row["title"],
                body=TITLES.get(row["kind"], row["kind"]),
                plugin="projects",
                url=f"/projects/{row['project']}",
                data={"project_id": row["project"], **load_json(row["data"], {})},
            )
        )
    return entries
