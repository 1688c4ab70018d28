"""The read-only plugins page: what is installed, enabled and in which version.

Enabling and disabling stays on the command line (``crm plugins enable``): it changes the
database schema and needs a restart, which a web request cannot do safely.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request, get
from litestar.response import Template

from crmcore.plugins import CRMPluginManager
from crmcore.web.templating import translator_for
from crmcore.web.views.rendering import render


def plugin_rows(pm: CRMPluginManager, gettext: Callable[[str], str]) -> list[dict[str, Any]]:
    """Loaded plugins in load order, then the installed ones that are off or broken.

    Descriptions are looked up in the catalogs (a plugin translates its own in its
    ``locale/`` folder) but never formatted, since they are not templates.
    """
    loaded = [pm.infos[name] for name in pm.order]
    others = sorted(
        (info for info in pm.infos.values() if info.name not in pm.order), key=lambda i: i.name
    )
    rows = []
    for info in [*loaded, *others]:
        row = info.as_dict()
        row["description"] = gettext(info.description) if info.description else ""
        rows.append(row)
    return rows


@get("/plugins", name="plugins")
async def plugins_page(request: Request[Any, Any, Any]) -> Template:
    pm: CRMPluginManager = request.app.state.pm
    return await render(
        request, "core/plugins.html", {"plugins": plugin_rows(pm, translator_for(request).gettext)}
    )
