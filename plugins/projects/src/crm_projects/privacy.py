"""What the projects plugin stores about a person, and how it is moved or removed."""

from __future__ import annotations

from typing import Any

from crm_projects.tables import ProjectMember


async def export_contact(contact_id: int) -> dict[str, Any]:
    rows = await ProjectMember.select(
        ProjectMember.project, ProjectMember.role, ProjectMember.project.name
    ).where(ProjectMember.contact == contact_id)
    return {
        "projects": [
            {"project_id": r["project"], "project": r["project.name"], "role": r["role"]}
            for r in rows
        ]
    }


async def erase_contact(contact_id: int) -> None:
    await ProjectMember.delete().where(ProjectMember.contact == contact_id)


async def move_contact(merged_id: int, survivor_id: int) -> None:
    """Re-point memberships; a project both were on keeps one membership."""
    survivor_projects = {
        r["project"]
        for r in await ProjectMember.select(ProjectMember.project).where(
            ProjectMember.contact == survivor_id
        )
    }
    if survivor_projects:
        await ProjectMember.delete().where(
            (ProjectMember.contact == merged_id)
            & ProjectMember.project.is_in(list(survivor_projects))
        )
    await ProjectMember.update({ProjectMember.contact: survivor_id}).where(
        ProjectMember.contact == merged_id
    )
