"""The core's HTML pages, gathered in one router that ``builtins.web`` registers.

Handlers receive the acting user as ``actor: CurrentActor`` (the app-wide ``actor``
dependency of ``crmcore.auth``) and render ``core/*.html`` through
:func:`crmcore.web.views.rendering.render`. Service errors raised by a page answer with an
HTML error page in the user's language instead of the API's JSON.
"""

from __future__ import annotations

from litestar import Router


def web_router() -> Router:
    """Every core page; imported lazily so ``crm --help`` stays quick."""
    from crmcore.auth.errors import MissingPermission
    from crmcore.errors import CRMError
    from crmcore.web.views import companies, contacts, settings
    from crmcore.web.views.dashboard import dashboard
    from crmcore.web.views.errors import html_error_handler
    from crmcore.web.views.plugins_page import plugins_page
    from crmcore.web.views.search import search_page
    from crmcore.web.views.tasks import calendar_page, new_task, task_done, tasks_page

    return Router(
        path="/",
        route_handlers=[
            dashboard,
            *contacts.ROUTES,
            *companies.ROUTES,
            tasks_page,
            new_task,
            task_done,
            calendar_page,
            *settings.ROUTES,
            search_page,
            plugins_page,
        ],
        exception_handlers={CRMError: html_error_handler, MissingPermission: html_error_handler},
    )
