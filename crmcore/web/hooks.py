"""What the web hooks return: menu links, contact panels and dashboard cards.

Plugins add to core pages only through these small values (see ``menu_links``,
``contact_panels`` and ``dashboard_cards`` in :mod:`crmcore.hookspecs`); they never override a
core template. Labels and titles are shown as given, so a plugin translates them first, e.g.
with :func:`crmcore.web.templating.translator_for` and the request's language.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from markupsafe import Markup

__all__ = ["Card", "MenuLink", "Panel", "by_order"]

log = logging.getLogger("crmcore.web.hooks")


@dataclass(frozen=True)
class MenuLink:
    """An entry of the top navigation.

    ``url`` is absolute (``/geo/map``); the entry is marked current on that path and below it.
    ``permission`` hides the entry from users who lack it (the page itself must still check:
    a hidden link is not a guard). Lower ``order`` comes first; the core uses 10–90.
    """

    label: str
    url: str
    icon: str = ""
    order: int = 100
    permission: str | None = None


@dataclass(frozen=True)
class Panel:
    """A box on a contact's page, below the core's sections. ``html`` is trusted markup the
    plugin rendered itself (escape what came from users, or render a template)."""

    title: str
    html: Markup
    order: int = 100


@dataclass(frozen=True)
class Card:
    """A dashboard card. ``width`` is 1 (one grid column), 2 (two columns: room for a chart)
    or 3 and more (the whole row). Narrow screens show every card at full width."""

    title: str
    html: Markup
    order: int = 100
    width: int = 1


_Item = TypeVar("_Item", MenuLink, Panel, Card)


def by_order(items: Iterable[Any], kind: type[_Item]) -> list[_Item]:
    """Keep the items of ``kind`` and sort them by ``order`` (stable, so plugin order breaks
    ties). Anything else a plugin returned is logged and dropped rather than breaking the
    page for everyone."""
    kept = []
    for item in items:
        if isinstance(item, kind):
            kept.append(item)
        else:
            log.warning("ignoring %r: a %s was expected", item, kind.__name__)
    return sorted(kept, key=lambda i: i.order)
