"""Sending email through the instance's SMTP server (``CRM_SMTP_URL``).

The URL says everything: ``smtp://user:password@host:587?starttls=1&from=crm@example.com``
(``smtps://`` for implicit TLS, port 465). Without user and password the server is used
unauthenticated (a local relay). ``from`` defaults to ``crm@<host>``. The URL comes from the
environment, else from ``[smtp] url`` in crm.toml.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qsl, unquote, urlparse

from crmcore.settings import read_config_file


class MailNotConfigured(Exception):
    """No SMTP server is configured; the message says how to configure one."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool
    sender: str

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlparse(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise MailNotConfigured(f"SMTP URL {url!r}: use smtp://host:port or smtps://host")
        query = dict(parse_qsl(parts.query))
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit,
            start_tls=query.get("starttls", "0") in ("1", "true", "yes"),
            sender=query.get("from") or f"crm@{parts.hostname}",
        )


def smtp_url(settings: Any) -> str | None:
    url = os.environ.get("CRM_SMTP_URL")
    if url:
        return url
    if settings is None:
        return None
    return (read_config_file(settings.home).get("smtp") or {}).get("url")


def smtp_config(settings: Any) -> SmtpConfig:
    url = smtp_url(settings)
    if not url:
        raise MailNotConfigured(
            "no SMTP server configured: set CRM_SMTP_URL (smtp://host:port?from=crm@example.com)"
            " or [smtp] url in crm.toml"
        )
    return SmtpConfig.from_url(url)


async def send_email(
    to: str | list[str], subject: str, body: str, *, settings: Any, html: str | None = None
) -> str:
    """Send one message; returns its Message-ID. Raises on SMTP errors (callers retry)."""
    from email.utils import make_msgid

    import aiosmtplib

    config = smtp_config(settings)
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = ", ".join([to] if isinstance(to, str) else to)
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    await aiosmtplib.send(
        message,
        hostname=config.host,
        port=config.port,
        username=config.username,
        password=config.password,
        use_tls=config.use_tls,
        start_tls=config.start_tls,
        timeout=30,
    )
    return str(message["Message-ID"])
