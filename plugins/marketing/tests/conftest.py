"""A real SMTP server (aiosmtpd) on 127.0.0.1 that counts messages by recipient."""

from __future__ import annotations

import collections
import socket
import threading
from collections.abc import Callable, Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller


class SinkHandler:
    """Stores every accepted message; ``on_data`` may refuse or act before accepting."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.by_recipient: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        self.on_data: Callable[[int], str | None] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.on_data is not None:
            refusal = self.on_data(len(self.messages))
            if refusal:
                return refusal
        message = message_from_bytes(envelope.content)
        with self.lock:
            self.messages.append(message)
            for rcpt in envelope.rcpt_tos:
                self.by_recipient[rcpt.lower()] += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[SinkHandler]:
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("CRM_SMTP_URL", f"smtp://127.0.0.1:{port}?from=news@example.com")
    monkeypatch.setenv("CRM_BASE_URL", "http://crm.test")
    handler.port = port  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        controller.stop()
