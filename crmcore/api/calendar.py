"""Calendar feeds: ``GET /api/v1/calendar/{user_id}.ics?token=…`` and the signed-in user's
own feed URL at ``GET /api/v1/calendar``.

The feed is deliberately public (calendar apps cannot log in); the token in its URL, an HMAC
of the user id under the instance secret, is what protects it. A wrong token answers 404,
exactly like a user that does not exist.
"""

from __future__ import annotations

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from crmcore.errors import NotFound, ValidationError
from crmcore.services.actor import Actor
from crmcore.services.ical import (
    calendar_token,
    check_calendar_token,
    planned_tasks_for,
    render_calendar,
)

__all__ = ["CalendarFeed", "calendar_feed", "my_calendar_feed"]

MEDIA_TYPE = "text/calendar; charset=utf-8"


class CalendarFeed(msgspec.Struct):
    """Where a calendar app can subscribe to your planned interactions."""

    url: str
    token: str


def _user_id_of(filename: str) -> int:
    stem, dot, extension = filename.partition(".")
    if extension != "ics" or not stem.isdigit():
        raise NotFound("calendar feeds are at /api/v1/calendar/<user id>.ics")
    return int(stem)


@get(
    "/calendar/{filename:str}",
    opt={"public": True},
    tags=["calendar"],
    summary="iCalendar feed of a user's planned interactions (token-protected)",
    media_type=MEDIA_TYPE,
)
async def calendar_feed(
    request: Request, filename: FromPath[str], token: FromQuery[str] = ""
) -> Response[str]:
    user_id = _user_id_of(filename)
    secret = request.app.state.settings.secret_key
    check_calendar_token(user_id, token, secret)
    tasks = await planned_tasks_for(user_id)
    body = render_calendar(tasks, name="CRM tasks", domain=request.url.hostname or "crmcore.local")
    return Response(
        body,
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'inline; filename="{user_id}.ics"'},
    )


@get("/calendar", tags=["calendar"], summary="The URL of your own calendar feed")
async def my_calendar_feed(request: Request, actor: NamedDependency[Actor]) -> CalendarFeed:
    if actor.user_id is None:
        raise ValidationError("only a signed-in user has a calendar feed")
    token = calendar_token(actor.user_id, request.app.state.settings.secret_key)
    base = str(request.base_url).rstrip("/")
    return CalendarFeed(
        url=f"{base}/api/v1/calendar/{actor.user_id}.ics?token={token}", token=token
    )
