"""The marketing plugin's settings: ``[plugins.marketing]`` in crm.toml, or the environment.

```toml
[plugins.marketing]
smtp_url = "smtp://user:pass@mail.example.com:587?starttls=1&from=news@example.com"
base_url = "https://crm.example.com"   # where tracking and unsubscribe links point
per_second = 50                         # at most this many messages a second (0: no limit)
per_hour = 20000                        # and this many an hour, across all workers
connections = 8                         # SMTP connections a sending job keeps open
```

``CRM_SMTP_URL`` overrides ``smtp_url``; without either, the core's ``[smtp] url`` is used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from crmcore.services.mail import MailNotConfigured, SmtpConfig, smtp_url


@dataclass(frozen=True)
class MarketingConfig:
    smtp: SmtpConfig
    base_url: str
    secret: str
    per_second: float
    per_hour: int
    connections: int
    lease_s: float
    batch_size: int


def _number(raw: Any, name: str, default: float) -> float:
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise MailNotConfigured(
            f"[plugins.marketing] {name} must be a number, not {raw!r}"
        ) from None
    if value < 0:
        raise MailNotConfigured(f"[plugins.marketing] {name} must not be negative")
    return value


def marketing_config(settings: Any) -> MarketingConfig:
    """The sending configuration; raises MailNotConfigured naming what is missing."""
    own = settings.plugin_settings("marketing") if settings is not None else {}
    url = os.environ.get("CRM_SMTP_URL") or own.get("smtp_url") or smtp_url(settings)
    if not url:
        raise MailNotConfigured(
            "no SMTP server for marketing email: set CRM_SMTP_URL=smtp://host:port or "
            "smtp_url in [plugins.marketing] of crm.toml"
        )
    env = os.environ
    return MarketingConfig(
        smtp=SmtpConfig.from_url(url),
        base_url=str(env.get("CRM_BASE_URL") or own.get("base_url") or "http://localhost:8000")
        .rstrip("/"),
        secret=getattr(settings, "secret_key", "") or "",
        per_second=_number(env.get("CRM_MARKETING_PER_SECOND", own.get("per_second")),
                           "per_second", 0),
        per_hour=int(_number(env.get("CRM_MARKETING_PER_HOUR", own.get("per_hour")),
                             "per_hour", 0)),
        connections=max(1, int(_number(env.get("CRM_MARKETING_CONNECTIONS", own.get("connections")),
                                       "connections", 8))),
        lease_s=_number(env.get("CRM_MARKETING_LEASE_S", own.get("lease_s")), "lease_s", 120),
        batch_size=max(1, int(_number(own.get("batch_size"), "batch_size", 200))),
    )  # fmt: skip


def tracking_secret(settings: Any) -> str:
    """The key tracking links are signed with: the instance's secret key."""
    secret = getattr(settings, "secret_key", "") or ""
    if not secret:
        raise MailNotConfigured("the instance has no secret key to sign tracking links with")
    return secret
