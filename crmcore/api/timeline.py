"""REST API for a contact's timeline: ``GET /api/v1/contacts/{id}/timeline``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from crmcore.services.actor import Actor
from crmcore.services.audit import jsonable
from crmcore.services.timeline import TimelineEntry, contact_timeline

__all__ = ["TimelineEntryOut", "TimelinePage", "timeline"]


class TimelineEntryOut(msgspec.Struct):
    kind: str
    at: datetime
    title: str
    body: str
    channel: str | None
    plugin: str
    url: str | None
    data: dict[str, Any]


class TimelinePage(msgspec.Struct):
    """Newest first. ``next`` is the ``before`` value for the following page (null at the
    end). Timestamps carry microseconds; only entries sharing the last entry's exact
    instant would be skipped at a page boundary."""

    items: list[TimelineEntryOut]
    next: str | None


def entry_out(entry: TimelineEntry) -> TimelineEntryOut:
    return TimelineEntryOut(
        kind=entry.kind,
        at=entry.at,
        title=entry.title,
        body=entry.body,
        channel=entry.channel,
        plugin=entry.plugin,
        url=entry.url,
        data=jsonable(entry.data),
    )


@get("/contacts/{contact_id:int}/timeline", tags=["contacts"], summary="A contact's timeline")
async def timeline(
    contact_id: FromPath[int],
    actor: NamedDependency[Actor],
    limit: FromQuery[int] = 50,
    before: FromQuery[datetime | None] = None,
) -> TimelinePage:
    """Interactions, tasks, stage changes and plugin entries, newest first."""
    entries = await contact_timeline(contact_id, actor, limit=limit, before=before)
    more = len(entries) == limit
    return TimelinePage(
        items=[entry_out(e) for e in entries],
        next=entries[-1].at.isoformat() if more and entries else None,
    )
