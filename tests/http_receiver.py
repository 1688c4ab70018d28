"""A tiny real HTTP server on 127.0.0.1 for tests that receive webhooks.

It runs on the test's own event loop (asyncio streams), records every request and answers
with the next status from a script (then 200).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    statuses: list[int] = field(default_factory=list)
    requests: list[ReceivedRequest] = field(default_factory=list)
    server: asyncio.AbstractServer | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> Receiver:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await reader.readline()).decode("latin-1").strip()
            method, path, _version = request_line.split(" ", 2)
            headers: dict[str, str] = {}
            while True:
                line = (await reader.readline()).decode("latin-1")
                if line in ("\r\n", "\n", ""):
                    break
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(ReceivedRequest(method, path, headers, body))
            status = self.statuses.pop(0) if self.statuses else 200
            text = b"ok" if status < 400 else b"try again later"
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: {len(text)}\r\n"
                "Content-Type: text/plain\r\nConnection: close\r\n\r\n".encode()
                + text
            )
            await writer.drain()
        finally:
            writer.close()
