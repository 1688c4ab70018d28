"""Built-in plugin `auth`: users, sessions, API tokens, roles, permissions and the audit log.

Its routes register through the same hooks a plugin uses. The app-wide authentication
itself (middleware, login guard) is installed by ``crmcore.web.security``, because it must
hold for every plugin's routes, not only for these.
"""

from __future__ import annotations

from typing import Any

from crmcore import __version__
from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest

manifest = Manifest(
    name="auth",
    version=__version__,
    description="Users, sessions, API tokens, roles, permissions and the audit log",
    depends=("core",),
)


@hookimpl
def register_routes() -> list[Any]:
    from crmcore.auth.views import login_page, login_submit, logout

    return [login_page, login_submit, logout]


@hookimpl
def register_api_routes() -> list[Any]:
    from crmcore.api.audit import audit_log
    from crmcore.api.roles import RolesController, list_permissions
    from crmcore.api.tokens import TokensController
    from crmcore.api.users import MeController, UsersController

    return [
        MeController,
        UsersController,
        RolesController,
        list_permissions,
        TokensController,
        audit_log,
    ]


async def purge_expired(payload: dict[str, Any], ctx: Any) -> dict[str, int]:
    """Hourly housekeeping: expired sessions, and login attempts older than 30 days."""
    from crmcore.auth.sessions import purge_expired_sessions
    from crmcore.auth.throttle import purge_old_attempts

    return {"sessions": await purge_expired_sessions(), "attempts": await purge_old_attempts()}


@hookimpl
def register_jobs() -> list[Any]:
    from crmcore.jobs import Job

    return [Job("auth.purge_expired", purge_expired, retries=2, schedule="hourly")]


@hookimpl
def register_commands(cli: Any) -> None:
    from crmcore.cli.audit import audit
    from crmcore.cli.roles import roles
    from crmcore.cli.tokens import tokens
    from crmcore.cli.users import users

    for group in (users, tokens, roles, audit):
        cli.add_command(group)
