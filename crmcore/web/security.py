"""How the app answers errors and who may reach which route.

This module gathers what ``create_app`` installs app-wide: the middleware that identifies
the user, the guard that requires login on every route not marked public, and the
exception handlers that turn service errors into clear HTTP answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException

from crmcore.auth.middleware import install_auth
from crmcore.errors import CRMError, FilterNotAllowed, ValidationError
from crmcore.plugins import CRMPluginManager
from crmcore.settings import Settings
from crmcore.web.db_errors import db_error_handlers


@dataclass
class SecurityConfig:
    middleware: list[Any] = field(default_factory=list)
    guards: list[Any] = field(default_factory=list)
    exception_handlers: dict[Any, Any] = field(default_factory=dict)
    dependencies: dict[str, Any] = field(default_factory=dict)


def crm_error_handler(request: Request[Any, Any, Any], exc: CRMError) -> Response[Any]:
    body: dict[str, Any] = {"status_code": exc.status_code, "detail": exc.message}
    if isinstance(exc, ValidationError) and exc.errors:
        body["errors"] = exc.errors
    if isinstance(exc, FilterNotAllowed):
        # Shaped like a missing permission (it names the permission) and like refused
        # input (``errors`` names the filter), so either kind of client can show it.
        body.update(permission=exc.permission, errors=exc.errors)
    return Response(body, status_code=exc.status_code)


def security_config(settings: Settings, pm: CRMPluginManager) -> SecurityConfig:
    handlers: dict[Any, Any] = {CRMError: crm_error_handler, **db_error_handlers()}
    config = SecurityConfig(exception_handlers=handlers)
    install_auth(config, settings, pm)
    return config


__all__ = ["SecurityConfig", "security_config", "HTTPException"]
