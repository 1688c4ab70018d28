"""Hook implementations of the `projects` plugin.

Kept light at import time: ``crm --help`` imports every enabled plugin's module.
"""

from __future__ import annotations

from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest

from crm_projects import __version__

manifest = Manifest(
    name="projects",
    version=__version__,
    description="Customer projects: goals, milestones, tasks, risks and progress",
    depends=(),
    core=">=0.1,<0.2",
)


@hookimpl
def register_piccolo_apps() -> list[str]:
    return ["crm_projects.piccolo_app"]
