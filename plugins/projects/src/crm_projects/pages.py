"""Project pages: the list at ``/projects/`` and a project at ``/projects/{id}``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from crm_projects import projects as svc
from crm_projects.gantt import gantt_svg
from crm_projects.progress import risk_level, risk_matrix
from crmcore.auth.guards import requires
from crmcore.services.actor import Actor
from crmcore.web.templating import translator_for
from crmcore.web.views.language import request_language

READ = requires("projects.read")


@get("/", name="projects:list", guards=[READ], include_in_schema=False)
async def project_list(actor: NamedDependency[Actor]) -> Template:
    projects = await svc.list_projects(actor)
    templates = await svc.list_projects(actor, templates=True)
    return Template(
        template_name="projects/list.html",
        context={"projects": projects, "templates": templates},
    )


@get("/{project_id:int}", name="projects:show", guards=[READ], include_in_schema=False)
async def project_page(
    request: Request[Any, Any, Any], actor: NamedDependency[Actor], project_id: FromPath[int]
) -> Template:
    project = await svc.get_project(project_id, actor)
    today = datetime.now(UTC).date()
    lang = request_language(request)
    matrix = risk_matrix([r for r in project["risks"] if r["state"] != "closed"])
    return Template(
        template_name="projects/project.html",
        context={
            "project": project,
            "gantt": gantt_svg(
                project, today, lang=lang, today_label=translator_for(request).gettext("today")
            ),
            "matrix": matrix,
            "risk_level": risk_level,
        },
    )


def page_handlers() -> list[Any]:
    return [project_list, project_page]
