"""A real instance served over HTTP and a headless Chromium to drive it.

The instance is created the way an admin does it (``crm init --admin-email …``) in a temporary
folder and served with ``crm serve`` on 127.0.0.1; the browser is Debian's ``chromium``
package driven by Playwright (no browser download). Without chromium the tests are skipped,
unless ``CRM_REQUIRE_BROWSER=1`` (as in CI) turns that into a failure.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("CRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "browser test password"
STARTUP_SECONDS = 60


@dataclass(frozen=True)
class LiveServer:
    url: str
    home: Path
    admin_email: str = ADMIN_EMAIL
    admin_password: str = ADMIN_PASSWORD


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_sync(coro: Any) -> Any:
    """Run a coroutine on a thread of its own: Playwright's sync API keeps an event loop
    running on the main thread, where ``asyncio.run`` refuses to start another."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} is missing: apt-get install chromium"
    if os.environ.get("CRM_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    folder = Path(os.environ.get("CRM_SCREENSHOT_DIR") or "artifacts/screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``crm init`` + ``crm serve`` on a free port; stopped (only this process) afterwards."""
    from crmcore.testing.databases import create_postgres_database, drop_postgres_database

    _require_chromium()
    home = tmp_path_factory.mktemp("browser-instance")
    base_pg = os.environ.get("CRM_TEST_DATABASE_URL")
    database_url = (
        run_sync(create_postgres_database(base_pg)) if base_pg else f"sqlite:///{home}/crm.sqlite"
    )
    env = {
        **os.environ,
        "CRM_HOME": str(home),
        "CRM_DATABASE_URL": database_url,
        "CRM_SKIP_BROKEN_PLUGINS": "1",
    }
    crm = [sys.executable, "-m", "crmcore"]
    init = subprocess.run(
        [*crm, "init", "--admin-email", ADMIN_EMAIL, "--admin-password", ADMIN_PASSWORD],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    port = _free_port()
    log_path = home / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [
                *crm,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-jobs",
                "--skip-broken-plugins",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if server.poll() is not None:
                pytest.fail(f"crm serve exited early:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"crm serve did not answer in {STARTUP_SECONDS}s:\n{log_path.read_text()}"
                )
            time.sleep(0.3)
        yield LiveServer(url=url, home=home)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if base_pg:
            run_sync(drop_postgres_database(database_url))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    _require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(live_server: LiveServer, browser: object) -> Iterator[object]:
    """A fresh browser context (no cookies) at 1280×900, English first."""
    context = browser.new_context(  # type: ignore[attr-defined]
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="en-US"
    )
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()
