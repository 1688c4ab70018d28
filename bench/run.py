"""Every benchmark of the project in one run, each against a baseline measured in the same
run, summarised as a table of ratios (ours ÷ baseline for times, lower is better; for
rates the ratio is written so that lower is still better: baseline ÷ ours).

    python bench/run.py --size 100000 [--db sqlite|postgres] [--json FILE]
    python bench/run.py --markdown FILE     # a run's results as a Markdown table

Measured here:

* **generate**: ``bench/generate.py`` fills an instance with N contacts, N/10 companies and
  ~10 interactions per contact through the bulk path (rows/s; no baseline);
* **HTTP**: a real ``uvicorn`` server on 127.0.0.1 serving the CRM app with one extra bare
  Litestar route (fixed JSON, no database, public) mounted on the same app; a load
  generator in a separate process (asyncio + httpx, ``--concurrency`` connections) times
  GET contact by id, the contact list, a search and the bare route; p50 of ours vs p50 of
  the bare route;
* **hook overhead**: ``create_contact`` with every installed plugin enabled vs none;
* **start-up**: ``crm --help`` vs ``python -c pass``.

Reused through their own command lines (``--json`` or JSON on stdout):
``bench/import_bench.py`` (import vs raw driver), ``bench/contacts_search.py`` (search
p50/p99, keyset page 1 vs a deep page), ``bench/geo_radius.py`` (radius vs raw R*Tree),
``bench/marketing_send.py`` (mails/s to an SMTP sink, segment count), ``bench/pages.py``
(web pages vs a bare route). A benchmark that fails or times out is reported as such and
the run goes on. Results are written after every benchmark, so a long run that is stopped
keeps what it measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench password 123"


def result(name: str, value: float | None, baseline: float | None, unit: str = "",
           lower_is_better: bool = True, **extra: Any) -> dict[str, Any]:  # fmt: skip
    """One row: ``ratio`` is ours ÷ baseline for times, baseline ÷ ours for rates."""
    ratio = None
    if value and baseline:
        ratio = round(value / baseline if lower_is_better else baseline / value, 2)
    return {"name": name, "value": _round(value), "baseline": _round(baseline),
            "ratio": ratio, "unit": unit, **extra}  # fmt: skip


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# --------------------------------------------------------------------------- the served app


def served_app() -> Any:
    """``uvicorn --factory`` target: the CRM app plus the bare baseline route."""
    from litestar import get

    from crmcore.app import create_app_from_env

    @get("/bench-bare", opt={"public": True}, sync_to_thread=False)
    def bare() -> dict[str, Any]:
        return {"id": 1, "first_name": "Bare", "last_name": "Route", "stage": "lead"}

    app = create_app_from_env()
    app.register(bare)
    return app


# --------------------------------------------------------------------------- load generator


async def _load(base: str, paths: list[str], token: str, requests: int, concurrency: int) -> dict:
    """Milliseconds per request for each path: ``requests`` timed after 10 warm-ups, spread
    over ``concurrency`` connections."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, list[float]] = {}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as c:
        for path in paths:
            for _ in range(10):
                (await c.get(path)).raise_for_status()
            timings: list[float] = []
            queue = iter(range(requests))

            async def worker(
                path: str = path, timings: list[float] = timings, queue: Any = queue
            ) -> None:
                for _ in queue:
                    started = time.perf_counter()
                    response = await c.get(path)
                    timings.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            out[path] = timings + [requests / (time.perf_counter() - started)]
    return out


def load_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("token")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    timings = asyncio.run(_load(args.base, args.paths, args.token, args.requests, args.concurrency))
    print(json.dumps(timings))


# --------------------------------------------------------------------------- benchmarks


def instance_env(home: Path, url: str, plugins: str | None = "") -> dict[str, str]:
    env = {
        **os.environ,
        "CRM_HOME": str(home),
        "CRM_DATABASE_URL": url,
        "CRM_SECRET_KEY": "bench",
        "CRM_EMBEDDED_JOBS": "0",
        "CRM_SKIP_BROKEN_PLUGINS": "1",
        "PYTHONPATH": str(ROOT),
    }
    if plugins is None:
        env.pop("CRM_LOAD_PLUGINS", None)
    else:
        env["CRM_LOAD_PLUGINS"] = plugins
    return env


async def _prepare(home: Path, url: str, size: int, seed: int) -> dict[str, Any]:
    """Generate the instance and an admin token; returns the generation report."""
    sys.path.insert(0, str(BENCH))
    from generate import generate_database

    from crmcore.db.migrate import migrate
    from crmcore.db.runtime import open_database
    from crmcore.plugins import get_plugin_manager
    from crmcore.services.records import fetch
    from crmcore.services.tokens import create_token
    from crmcore.services.users import create_user
    from crmcore.settings import load_settings

    settings = load_settings(home=home, env=instance_env(home, url))
    db = await open_database(url, get_plugin_manager(settings, load_plugins=[], skip_broken=True))
    try:
        await migrate(db)
        report = await generate_database(size, seed)
        if db.is_sqlite:
            await db.engine.run_ddl("PRAGMA wal_checkpoint(TRUNCATE)")
        await db.engine.run_ddl("ANALYZE")
        user = await create_user(email=ADMIN_EMAIL, password=ADMIN_PASSWORD, role="admin")
        report["token"] = await create_token(user_id=user["id"], name="bench")
        middle = await fetch("SELECT id, last_name FROM contact ORDER BY id LIMIT 1 OFFSET {}",
                             [size // 2])  # fmt: skip
        report["contact_id"] = middle[0]["id"]
        report["last_name"] = middle[0]["last_name"]
        return report
    finally:
        await db.close()


def bench_generate_and_http(args: argparse.Namespace, home: Path, url: str) -> list[dict]:
    report = asyncio.run(_prepare(home, url, args.size, args.seed))
    rows = [
        result("generate: contacts/s (bulk path, with companies and interactions)",
               report["contacts_per_s"], None, "rows/s", False),
        result("generate: all rows/s", report["rows_per_s"], None, "rows/s", False,
               interactions=report["interactions"], companies=report["companies"]),
    ]  # fmt: skip
    port = _free_port()
    server = subprocess.Popen(
        [PYTHON, "-m", "uvicorn", "--factory", "--app-dir", str(BENCH), "run:served_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=instance_env(home, url), start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_up(f"{base}/healthz", server)
        from urllib.parse import quote

        paths = {
            "bare": "/bench-bare",
            "get_by_id": f"/api/v1/contacts/{report['contact_id']}",
            "list": "/api/v1/contacts/?limit=50",
            "search": f"/api/v1/contacts/?limit=50&q={quote(report['last_name'])}",
        }
        out = subprocess.run(
            [PYTHON, str(Path(__file__).resolve()), "--load", base, report["token"],
             "--requests", str(args.requests), "--concurrency", str(args.concurrency),
             *paths.values()],
            capture_output=True, text=True, check=True, timeout=1800,
        )  # fmt: skip
        timings = json.loads(out.stdout)
    finally:
        server.terminate()
        server.wait(timeout=30)
    bare = timings[paths["bare"]]
    bare_p50 = statistics.median(bare[:-1])
    for key in ("get_by_id", "list", "search"):
        values = timings[paths[key]]
        latencies, rate = values[:-1], values[-1]
        rows.append(result(f"HTTP {key}: p50 ms (baseline: bare route)",
                           statistics.median(latencies), bare_p50, "ms",
                           p99_ms=round(percentile(latencies, 99), 2),
                           requests_per_s=round(rate, 1),
                           bare_requests_per_s=round(bare[-1], 1)))  # fmt: skip
    return rows


async def _hook_overhead(home: Path, url: str, creates: int, plugins: list[str] | None) -> float:
    from crmcore.db.migrate import migrate
    from crmcore.db.runtime import open_database
    from crmcore.plugins import get_plugin_manager
    from crmcore.services.actor import SYSTEM
    from crmcore.services.contacts import create_contact
    from crmcore.settings import load_settings

    settings = load_settings(home=home, env=instance_env(home, url, None))
    pm = get_plugin_manager(settings, load_plugins=plugins, skip_broken=True)
    db = await open_database(url, pm)
    try:
        await migrate(db)
        for i in range(10):
            await create_contact({"first_name": f"warm{i}"}, SYSTEM)
        started = time.perf_counter()
        for i in range(creates):
            await create_contact({"first_name": f"H{i}", "email": f"h{i}@example.com"}, SYSTEM)
        return (time.perf_counter() - started) * 1000 / creates
    finally:
        await db.close()


def bench_hooks(args: argparse.Namespace, workdir: Path) -> list[dict]:
    """One process per side: the plugin manager and its tables differ."""
    values = {}
    for side in ("none", "all"):
        home = workdir / f"hooks-{side}"
        home.mkdir(exist_ok=True)
        url = _side_url(args, home, f"hooks_{side}")
        side_plugins = "[]" if side == "none" else "None"
        code = (
            f"import asyncio, pathlib, sys; sys.path.insert(0, {str(BENCH)!r}); import run; "
            f"print(asyncio.run(run._hook_overhead(pathlib.Path({str(home)!r}), {url!r}, "
            f"{args.creates}, {side_plugins})))"
        )
        out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True,
                             env=instance_env(home, url, None), timeout=1800)  # fmt: skip
        if out.returncode:
            raise RuntimeError(out.stderr[-2000:])
        values[side] = float(out.stdout.strip().splitlines()[-1])
    return [result("hook overhead: create_contact ms, all plugins (baseline: none)",
                   values["all"], values["none"], "ms")]  # fmt: skip


def bench_startup(args: argparse.Namespace) -> list[dict]:
    def timed(command: list[str]) -> float:
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True)
            runs.append(time.perf_counter() - started)
        return statistics.median(runs) * 1000

    crm = timed([PYTHON, "-m", "crmcore", "--help"])
    bare = timed([PYTHON, "-c", "pass"])
    return [result("crm --help start-up ms (baseline: python -c pass)", crm, bare, "ms")]


def _script(name: str, argv: list[str], timeout: float) -> Any:
    """Run another bench script; its results from ``--json`` or its JSON on stdout."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "out.json"
        wants_json = "--json" in argv
        if wants_json:
            argv = [target if a == "--json-target" else a for a in argv]  # type: ignore[misc]
        out = subprocess.run([PYTHON, str(BENCH / name), *map(str, argv)], capture_output=True,
                             text=True, timeout=timeout, cwd=tmp)  # fmt: skip
        # Exit 1 with the JSON written means "measured, and a goal was missed": the figures
        # are kept (each row says whether it met its goal); anything else is a failure.
        measured = wants_json and out.returncode == 1 and target.exists()
        if out.returncode and not measured:
            raise RuntimeError(f"{name} exited {out.returncode}: {out.stderr[-2000:]}")
        return json.loads(target.read_text() if wants_json else out.stdout)


def bench_search(args: argparse.Namespace) -> list[dict]:
    argv = ["--size", args.size, "--json", "--json-target"]
    if args.db == "postgres":
        argv += ["--database-url", _fresh_pg(args, "search")]
    data = _script("contacts_search.py", argv, args.timeout)
    rows = []
    for r in data["results"]:
        rate = r["name"].endswith("per_s")
        rows.append(result(f"search/list: {r['name']}", r["value"], r["baseline"],
                           "rows/s" if rate else "ms", not rate))  # fmt: skip
    return rows


def bench_import(args: argparse.Namespace) -> list[dict]:
    db = ["--db", "sqlite"] if args.db == "sqlite" else ["--db", "postgres", args.pg_base]
    rows = _script("import_bench.py", ["--size", args.size, *db, "--json", "--json-target"],
                   args.timeout)  # fmt: skip
    out = []
    for r in rows:
        row = {**r, "name": f"import: {r['name']}"}
        if r["name"].endswith("/s"):  # a rate: baseline ÷ ours, like every other row
            row["ratio"] = result("", r["value"], r["baseline"], lower_is_better=False)["ratio"]
        out.append(row)
    return out


def bench_geo(args: argparse.Namespace) -> list[dict]:
    argv = ["--size", args.size, "--json", "--json-target"]
    if args.db == "postgres":
        argv += ["--database-url", _fresh_pg(args, "geo")]
    data = _script("geo_radius.py", argv, args.timeout)
    index = data.get("index", "")
    return [
        result(f"geo radius {data['km']} km: p50 ms (baseline: raw {index})",
               data["ours_ms"]["p50"], data["baseline_ms"]["p50"], "ms",
               hits_mean=data.get("hits_mean")),
        result(f"geo radius {data['km']} km: p95 ms (baseline: raw {index})",
               data["ours_ms"].get("p95"), data["baseline_ms"].get("p95"), "ms"),
    ]  # fmt: skip


def bench_marketing(args: argparse.Namespace) -> list[dict]:
    argv = ["--size", args.size, "--mails", args.mails]
    if args.db == "postgres":
        argv += ["--database-url", _fresh_pg(args, "marketing")]
    data = _script("marketing_send.py", argv, args.timeout)
    return [
        result("marketing: mails/s to an SMTP sink (baseline: raw aiosmtplib)",
               data["mails_per_s"], data["raw_aiosmtplib_per_s"], "mails/s", False),
        result("marketing: segment count ms (baseline: raw SQL count)",
               data["segment_count_p50_ms"], data["raw_count_p50_ms"], "ms",
               matched=data.get("segment_count")),
    ]  # fmt: skip


def bench_pages(args: argparse.Namespace) -> list[dict]:
    argv = ["--contacts", min(args.size, 10_000), "--json", "--json-target"]
    if args.db == "postgres":
        argv += ["--database-url", _fresh_pg(args, "pages")]
    rows = _script("pages.py", argv, args.timeout)
    return [result(f"page {r['page']}: median ms (baseline: bare route)", r["median_ms"],
                   r["baseline_ms"], "ms", p95_ms=r["p95_ms"],
                   p95_under_goal=r["ok"]) for r in rows]  # fmt: skip


# --------------------------------------------------------------------------- plumbing


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_up(url: str, process: subprocess.Popen[Any], seconds: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


_created_pg: list[str] = []


def _fresh_pg(args: argparse.Namespace, label: str) -> str:
    import asyncpg

    name = f"crm_bench_{label}_{os.getpid()}"

    async def create() -> None:
        conn = await asyncpg.connect(args.pg_base.rsplit("/", 1)[0] + "/postgres")
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    _created_pg.append(name)
    return args.pg_base.rsplit("/", 1)[0] + "/" + name


def _drop_pg(args: argparse.Namespace) -> None:
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(args.pg_base.rsplit("/", 1)[0] + "/postgres")
        try:
            for name in _created_pg:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    if _created_pg:
        asyncio.run(drop())


def _side_url(args: argparse.Namespace, home: Path, label: str) -> str:
    if args.db == "postgres":
        return _fresh_pg(args, label)
    return f"sqlite:///{home / 'crm.sqlite'}"


def machine() -> dict[str, Any]:
    import sqlite3

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        mem_kb = 0
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "os": platform.platform(), "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version, "load_average_at_start": os.getloadavg(),
    }  # fmt: skip


def print_table(rows: list[dict[str, Any]]) -> None:
    width = max(len(r["name"]) for r in rows) + 2
    print(f"\n{'benchmark':<{width}}{'ours':>12}{'baseline':>12}{'ratio':>8}")
    for r in rows:
        value = "" if r["value"] is None else f"{r['value']:,.2f}"
        base = "" if r["baseline"] is None else f"{r['baseline']:,.2f}"
        ratio = r.get("error") or ("" if r["ratio"] is None else f"{r['ratio']}")
        print(f"{r['name']:<{width}}{value:>12}{base:>12}{ratio:>8}")


def markdown(path: Path) -> str:
    """The results of a run as a Markdown table (for docs/performance.md)."""
    data = json.loads(path.read_text())
    lines = ["| benchmark | ours | baseline | ratio |", "|---|---:|---:|---:|"]
    for r in data["results"]:
        unit = f" {r['unit']}" if r.get("unit") else ""
        value = "" if r["value"] is None else f"{r['value']:,.2f}{unit}"
        base = "" if r["baseline"] is None else f"{r['baseline']:,.2f}{unit}"
        ratio = "failed: " + r["error"][:120] if r.get("error") else (r["ratio"] or "")
        lines.append(f"| {r['name']} | {value} | {base} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        load_main(sys.argv[2:])
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--markdown":
        print(markdown(Path(sys.argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="contacts")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--pg-base",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="with --db postgres: databases are created next to this one",
    )
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--requests", type=int, default=500, help="per HTTP endpoint")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--creates", type=int, default=300, help="for the hook overhead")
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=3600, help="per benchmark, seconds")
    parser.add_argument("--only", nargs="+", help="run only these benchmarks")
    args = parser.parse_args()
    if args.size < 5000:
        parser.error("--size must be at least 5000 (the deep list page must exist)")
    meta = {"size": args.size, "db": args.db, "machine": machine(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
    rows: list[dict[str, Any]] = []
    workdir = Path(tempfile.mkdtemp(prefix="crm-bench-run-"))
    home = workdir / "instance"
    home.mkdir()
    benchmarks: dict[str, Callable[[], list[dict]]] = {
        "startup": lambda: bench_startup(args),
        "hooks": lambda: bench_hooks(args, workdir),
        "search": lambda: bench_search(args),
        "geo": lambda: bench_geo(args),
        "http": lambda: bench_generate_and_http(args, home, _side_url(args, home, "http")),
        "import": lambda: bench_import(args),
        "marketing": lambda: bench_marketing(args),
        "pages": lambda: bench_pages(args),
    }
    try:
        for name, run in benchmarks.items():
            if args.only and name not in args.only:
                continue
            print(f"== {name}", file=sys.stderr, flush=True)
            started = time.perf_counter()
            try:
                found = run()
            except Exception as exc:  # noqa: BLE001 - reported, the run goes on
                found = [{"name": name, "value": None, "baseline": None, "ratio": None,
                          "error": f"{type(exc).__name__}: {str(exc)[-800:]}"}]  # fmt: skip
            for row in found:
                row.setdefault("benchmark", name)
                row.setdefault("seconds", round(time.perf_counter() - started, 1))
            rows += found
            meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
            args.json.write_text(json.dumps({"meta": meta, "results": rows}, indent=2,
                                            ensure_ascii=False) + "\n")  # fmt: skip
    finally:
        if args.db == "postgres":
            _drop_pg(args)
    print_table(rows)
    print(f"\nwrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
