"""Web page latency with 10,000 contacts, against a bare Litestar route in the same run.

Creates a throwaway instance (``crm init``), fills it with ``crm demo --contacts N`` (contacts,
companies, two years of interactions, tasks), serves it with ``crm serve`` on 127.0.0.1 and
signs in like a browser. Each core page is then requested ``--requests`` times in a row with
httpx over real HTTP; the same is done for a bare Litestar app (one route answering a fixed
HTML page, served by uvicorn the same way), so the ratio shows what the CRM adds on top of the
framework and the HTTP round trip. The goal is under 300 ms per page (p95).

    python bench/pages.py                       # SQLite, 10,000 contacts
    python bench/pages.py --database-url postgresql://postgres@127.0.0.1:5432/crm_bench
    CRM_LOAD_PLUGINS=geo,hr python bench/pages.py --json bench/results/pages.json

The PostgreSQL database must exist and be empty; the instance folder is removed at the end
unless ``--keep``. Prints one row per page: median and p95
in milliseconds, the ratio of medians to the bare route, and whether p95 met the goal.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

GOAL_MS = 300.0
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench password 123"
BARE_HTML = "<!doctype html><html><body>" + "<p>bare litestar route</p>" * 400 + "</body></html>"


def bare_app() -> Any:
    """The baseline: Litestar with one route and nothing else (no database, no templates)."""
    from litestar import Litestar, MediaType, get

    @get("/", media_type=MediaType.HTML, sync_to_thread=False)
    def index() -> str:
        return BARE_HTML

    return Litestar(route_handlers=[index])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server for {url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def run(command: list[str], env: dict[str, str]) -> None:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    print(f"  {' '.join(command[2:])}: {time.perf_counter() - started:.1f} s", file=sys.stderr)


def time_requests(client: httpx.Client, path: str, count: int) -> list[float]:
    """Milliseconds per request, after three warm-up requests."""
    for _ in range(3):
        client.get(path)
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}:\n{response.text[:2000]}")
    return timings


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def first_match(pattern: str, text: str, what: str) -> str:
    found = re.search(pattern, text)
    if not found:
        raise SystemExit(f"no {what} found on the page")
    return found.group(1)


def page_paths(client: httpx.Client) -> list[str]:
    """Every core page, with record pages for a contact and a company from the demo data,
    and each enabled plugin's page from the navigation."""
    contacts = client.get("/contacts").text
    contact_id = first_match(r'href="/contacts/(\d+)"', contacts, "contact")
    company_id = first_match(r'href="/companies/(\d+)"', client.get("/companies").text, "company")
    last_name = first_match(r'href="/contacts/\d+"><bdi>[^<]*?(\w+)</bdi>', contacts, "name")
    return [
        "/",
        "/contacts",
        f"/contacts?q={last_name}",
        "/contacts?stage=customer",
        f"/contacts/{contact_id}",
        f"/contacts/{contact_id}/edit",
        "/contacts/new",
        "/companies",
        f"/companies/{company_id}",
        "/tasks",
        "/tasks?mine=false&status=all",
        "/calendar",
        "/settings/fields",
        "/settings/users",
        "/plugins",
        f"/search?q={last_name}",
        "/imports",
        "/duplicates",
        *plugin_pages(client),
        "/?lang=fa",
        "/contacts?lang=fa",
    ]


# Paths the core serves itself; every other first path segment in the top bar is a plugin's.
CORE_SEGMENTS = {
    "", "contacts", "companies", "tasks", "calendar", "settings", "plugins", "search",
    "imports", "duplicates", "login", "logout", "static", "api", "schema", "healthz",
}  # fmt: skip


def plugin_pages(client: httpx.Client) -> list[str]:
    """The pages the enabled plugins put in the navigation (the bar or its "More" menu)."""
    dashboard = client.get("/").text
    found = []
    for path in re.findall(r'href="(/[a-z_]+/[^"?#]*)"', dashboard):
        if path.split("/")[1] not in CORE_SEGMENTS and path not in found:
            found.append(path)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the instance folder")
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve_bare:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=args.serve_bare, log_level="warning")
        return 0

    home = Path(tempfile.mkdtemp(prefix="crm-bench-pages-"))
    env = {
        **os.environ,
        "CRM_HOME": str(home),
        "CRM_DATABASE_URL": args.database_url or f"sqlite:///{home / 'crm.sqlite'}",
    }
    crm = [sys.executable, "-m", "crmcore"]
    print(f"instance in {home}", file=sys.stderr)
    run([*crm, "init", "--admin-email", ADMIN_EMAIL, "--admin-password", ADMIN_PASSWORD], env)
    run([*crm, "demo", "--contacts", str(args.contacts)], env)

    crm_port, bare_port = free_port(), free_port()
    servers = [
        subprocess.Popen(
            [*crm, "serve", "--host", "127.0.0.1", "--port", str(crm_port), "--no-jobs"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [sys.executable, __file__, "--serve-bare", str(bare_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    rows: list[dict[str, Any]] = []
    try:
        crm_url, bare_url = f"http://127.0.0.1:{crm_port}", f"http://127.0.0.1:{bare_port}"
        wait_until_up(f"{crm_url}/healthz", servers[0])
        wait_until_up(bare_url, servers[1])
        with httpx.Client(base_url=bare_url) as bare:
            baseline = statistics.median(time_requests(bare, "/", args.requests))
        with httpx.Client(base_url=crm_url, timeout=30) as client:
            login = client.post("/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
            if login.status_code != 303:
                raise SystemExit(f"sign-in failed with {login.status_code}")
            client.get("/?lang=en")
            for path in page_paths(client):
                timings = time_requests(client, path, args.requests)
                median = statistics.median(timings)
                rows.append(
                    {
                        "page": path,
                        "median_ms": round(median, 2),
                        "p95_ms": round(p95(timings), 2),
                        "baseline_ms": round(baseline, 2),
                        "ratio": round(median / baseline, 1),
                        "ok": p95(timings) < GOAL_MS,
                    }
                )
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)

    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\n{args.contacts:,} contacts on {engine}; bare Litestar route: {baseline:.2f} ms")
    print(f"{'page':<36} {'median ms':>10} {'p95 ms':>9} {'× bare':>8}  goal <{GOAL_MS:.0f} ms")
    for row in rows:
        verdict = "ok" if row["ok"] else "SLOW"
        print(
            f"{row['page']:<36} {row['median_ms']:>10.1f} {row['p95_ms']:>9.1f} "
            f"{row['ratio']:>8.1f}  {verdict}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
