"""Real ``crm serve`` processes for tests that need a server on a socket (fuzzing, several
processes on one database), not the in-process ASGI client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(home: Path, database_url: str, plugins: list[str] | None) -> dict[str, str]:
    """The environment of a server for the test instance; ``plugins=None`` loads all."""
    env = {
        **os.environ,
        "CRM_HOME": str(home),
        "CRM_DATABASE_URL": database_url,
        "CRM_SECRET_KEY": "test-secret",
        "CRM_EMBEDDED_JOBS": "0",
        "PYTHONUNBUFFERED": "1",
    }
    if plugins is None:
        env.pop("CRM_LOAD_PLUGINS", None)
    else:
        env["CRM_LOAD_PLUGINS"] = ",".join(plugins)
    return env


@contextmanager
def crm_server(
    home: Path,
    database_url: str,
    *,
    plugins: list[str] | None = None,
    workers: int = 1,
    timeout: float = 60.0,
) -> Iterator[str]:
    """Run ``crm serve`` on a free port until the block ends; yields its base URL."""
    port = free_port()
    log = open(home / f"serve-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "crmcore", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--no-jobs"],
        env=server_env(home, database_url, plugins),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"crm serve exited: {Path(log.name).read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"crm serve did not start: {Path(log.name).read_text()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        # The server runs in its own session: stop the whole group (uvicorn's workers too).
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def server_log(home: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in home.glob("serve-*.log"))
