"""Built-in plugin `auth`: users, sessions, API tokens, roles, permissions and the audit log."""

from __future__ import annotations

from crmcore import __version__
from crmcore.plugins import Manifest

manifest = Manifest(
    name="auth",
    version=__version__,
    description="Users, sessions, API tokens, roles, permissions and the audit log",
    depends=("core",),
)
