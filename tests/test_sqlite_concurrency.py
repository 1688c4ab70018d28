"""The embedded default (SQLite) under concurrent writers: no error reaches a client, no
write is lost.

Eight writers share one app, as eight browser tabs or API clients share one server. Each
runs a cycle of the most common writes (create a contact, change it, log an interaction on
it) through the HTTP API; afterwards every row each writer was told it stored is read back.
``N`` operations per writer: 100 by default, 1,000 with ``CRM_FULL_LOAD=1``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

WRITERS = 8
OPERATIONS = 1000 if os.environ.get("CRM_FULL_LOAD") == "1" else 100


@pytest.mark.slow
async def test_eight_writers_no_errors_no_lost_writes(
    crm_client: Any, crm_test_database_url: str | None
) -> None:
    if crm_test_database_url:
        pytest.skip("SQLite write concurrency; PostgreSQL is covered by the multiprocess test")
    failures: list[tuple[int, str, int, str]] = []
    # writer -> contact id -> (final title, interactions logged)
    expected: dict[int, dict[int, list[Any]]] = {n: {} for n in range(WRITERS)}

    async def writer(n: int) -> None:
        current: int | None = None
        for i in range(OPERATIONS):
            step = i % 3
            if step == 0 or current is None:
                response = await crm_client.post(
                    "/api/v1/contacts/", json={"first_name": f"writer{n}", "last_name": f"c{i}"}
                )
                if response.status_code == 201:
                    current = response.json()["id"]
                    expected[n][current] = ["", 0]
            elif step == 1:
                response = await crm_client.patch(
                    f"/api/v1/contacts/{current}", json={"title": f"t{n}-{i}"}
                )
                if response.status_code == 200:
                    expected[n][current][0] = f"t{n}-{i}"
            else:
                response = await crm_client.post(
                    "/api/v1/interactions/",
                    json={"channel": "note", "contact_id": current, "subject": f"{n}-{i}"},
                )
                if response.status_code == 201:
                    expected[n][current][1] += 1
            if response.status_code >= 300:
                failures.append((n, response.request.method, response.status_code, response.text))

    await asyncio.gather(*(writer(n) for n in range(WRITERS)))
    assert failures == []

    from crmcore.services.records import fetch

    contacts = {r["id"]: r for r in await fetch("SELECT id, first_name, title FROM contact")}
    counts = {
        r["contact_id"]: r["n"]
        for r in await fetch(
            "SELECT contact AS contact_id, COUNT(*) AS n FROM interaction GROUP BY contact"
        )
    }
    stored = 0
    for n, rows in expected.items():
        for contact_id, (title, interactions) in rows.items():
            row = contacts[contact_id]
            assert row["first_name"] == f"writer{n}"
            assert (row["title"] or "") == title
            assert counts.get(contact_id, 0) == interactions
            stored += 1
    assert stored == len(contacts) == WRITERS * -(-OPERATIONS // 3)
