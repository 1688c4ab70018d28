"""The map page, ``/geo/map``: contacts and geofences over an offline base layer."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template

from crm_geo.mapdata import build_map, parse_viewport
from crmcore.auth.guards import requires
from crmcore.services.actor import Actor

__all__ = ["map_page", "page_handlers"]


@get("/map", name="geo:map", guards=[requires("geo.read")], include_in_schema=False)
async def map_page(
    actor: NamedDependency[Actor], center: FromQuery[str] = "", span: FromQuery[str] = ""
) -> Template:
    """Zoom with ``center=lat,lon`` and ``span`` (degrees of longitude shown); without them
    the map fits every located contact."""
    view = await build_map(actor, parse_viewport(center, span))
    return Template(template_name="geo/map.html", context={"view": view})


def page_handlers() -> list[Any]:
    return [map_page]
