"""Error pages: a person who follows a stale link gets a page in their language, not JSON."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.response import Template

from crmcore.auth.csrf import CSRFError
from crmcore.errors import CRMError, NotFound, PermissionDenied
from crmcore.web.templating import translator_for
from crmcore.web.views.rendering import render_template

__all__ = ["html_error_handler"]

log = logging.getLogger("crmcore.web.errors")


def html_error_handler(request: Request[Any, Any, Any], exc: CRMError) -> Response[Any] | Template:
    """Answer a service error raised by a page with an error page of the same status.

    A missing record and a record outside the user's scope both read "not found"; the
    services already make them indistinguishable and the page keeps it that way.
    """
    _ = translator_for(request).gettext
    if isinstance(exc, NotFound):
        title, message = _("Page not found"), _("The record may have been deleted or merged.")
    elif isinstance(exc, CSRFError):
        # Usually a page left open past its session, or the form of another tab: saying
        # "no permission" would send the user to their admin instead of to the reload key.
        title = _("This form has expired")
        message = _("Reload the page, then send the form again. Nothing was saved.")
    elif isinstance(exc, PermissionDenied):
        title, message = _("Not allowed"), _("You do not have permission to do this.")
    else:
        log.info("page %s answered %s: %s", request.url.path, exc.status_code, exc.message)
        title, message = _("Something went wrong. Please try again."), exc.message
    return render_template(
        request,
        "core/error.html",
        {"title": title, "message": message},
        status_code=exc.status_code,
    )
