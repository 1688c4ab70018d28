"""Several server processes on one database: ``crm serve --workers 2`` plus a second
``crm serve``, as a production deployment behind a load balancer runs them.

Clients write (create, then change, contacts; log interactions) and read (lists, single
contacts) through both servers at once for ``CRM_LOAD_SECONDS`` (5 by default). No request
may fail, and afterwards every write a client was told succeeded is in the database with
the value last acknowledged. On PostgreSQL this is the documented deployment; on SQLite
the same holds across processes (the database file is shared, writers queue).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serving_support import crm_server, server_log

SECONDS = float(os.environ.get("CRM_LOAD_SECONDS", "5"))
CLIENTS = 6


@pytest.mark.slow
def test_two_servers_one_database_mixed_load(
    crm_run: Any, crm_settings: Any, crm_home: Path
) -> None:
    from crmcore.services.tokens import create_token
    from crmcore.services.users import create_user

    async def admin_token() -> str:
        user = await create_user(email="load@example.com", password="l" * 16, role="admin")
        return await create_token(user_id=user["id"], name="load")

    token = crm_run(admin_token())
    url = crm_settings.database_url
    with (
        crm_server(crm_home, url, plugins=[], workers=2) as first,
        crm_server(crm_home, url, plugins=[]) as second,
    ):
        outcome = asyncio.run(_load([first, second], token))
        log = server_log(crm_home)
    assert outcome["errors"] == [], f"{outcome['errors'][:5]}\n{log}"
    assert outcome["requests"] > 50, outcome["requests"]
    expected: dict[int, tuple[str, int]] = outcome["expected"]

    async def stored() -> tuple[dict[int, Any], dict[int, int]]:
        from crmcore.services.records import fetch

        contacts = {r["id"]: r for r in await fetch("SELECT id, title FROM contact")}
        counts = {
            r["contact"]: r["n"]
            for r in await fetch("SELECT contact, COUNT(*) AS n FROM interaction GROUP BY contact")
        }
        return contacts, counts

    contacts, counts = crm_run(stored())
    assert set(contacts) == set(expected)
    for contact_id, (title, interactions) in expected.items():
        assert (contacts[contact_id]["title"] or "") == title
        assert counts.get(contact_id, 0) == interactions


async def _load(bases: list[str], token: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    errors: list[str] = []
    expected: dict[int, list[Any]] = {}
    requests = 0
    deadline = time.monotonic() + SECONDS

    async def client(n: int) -> None:
        nonlocal requests
        base = bases[n % len(bases)]
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            i = 0
            mine: list[int] = []
            while time.monotonic() < deadline:
                i += 1
                step = i % 5
                if step == 1 or not mine:
                    r = await http.post("/api/v1/contacts/", json={"first_name": f"c{n}-{i}"})
                    if r.status_code == 201:
                        mine.append(r.json()["id"])
                        expected[mine[-1]] = ["", 0]
                elif step == 2:
                    title = f"t{n}-{i}"
                    r = await http.patch(f"/api/v1/contacts/{mine[-1]}", json={"title": title})
                    if r.status_code == 200:
                        expected[mine[-1]][0] = title
                elif step == 3:
                    r = await http.post(
                        "/api/v1/interactions/",
                        json={"channel": "note", "contact_id": mine[-1], "subject": f"{n}-{i}"},
                    )
                    if r.status_code == 201:
                        expected[mine[-1]][1] += 1
                elif step == 4:
                    r = await http.get("/api/v1/contacts/", params={"limit": 20})
                else:
                    r = await http.get(f"/api/v1/contacts/{mine[0]}")
                requests += 1
                if r.status_code >= 300:
                    errors.append(f"{r.request.method} {r.request.url}: {r.status_code} {r.text}")

    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    return {
        "errors": errors,
        "requests": requests,
        "expected": {k: tuple(v) for k, v in expected.items()},
    }
