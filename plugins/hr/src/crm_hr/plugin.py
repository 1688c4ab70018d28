"""Hook implementations of the `hr` plugin.

Kept light at import time: ``crm --help`` imports every enabled plugin's module.
"""

from __future__ import annotations

from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest

from crm_hr import __version__

manifest = Manifest(
    name="hr",
    version=__version__,
    description="Employees, departments, reviews, benefits and leave, with restricted access",
    depends=(),
    core=">=0.1,<0.2",
)


@hookimpl
def register_piccolo_apps() -> list[str]:
    return ["crm_hr.piccolo_app"]
