"""Prospecting for field sales: who is near me, with their owner and last interaction."""

from __future__ import annotations

from typing import Any

from crm_geo.queries import KINDS, within_radius
from crmcore.services.actor import Actor
from crmcore.services.records import fetch, iso

__all__ = ["near_me"]

MAX_RESULTS = 500


def _in(ids: list[int]) -> str:
    return ", ".join("{}" for _ in ids)


async def _details(table: str, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Owner and last interaction (done or logged, not planned) per record."""
    if not ids:
        return {}
    stage = "r.stage" if table == "contact" else "NULL"
    rows = await fetch(
        f"SELECT r.id, r.owner, {stage} AS stage, u.name AS owner_name, u.email AS owner_email "
        f"FROM {table} r LEFT JOIN crm_user u ON u.id = r.owner WHERE r.id IN ({_in(ids)})",
        ids,
    )
    last = await fetch(
        f"SELECT i.{table} AS record, max(i.occurred_at) AS at FROM interaction i "
        f"WHERE i.{table} IN ({_in(ids)}) AND (i.status IS NULL OR i.status = 'done') "
        f"GROUP BY i.{table}",
        ids,
    )
    last_at = {row["record"]: row["at"] for row in last}
    return {
        row["id"]: {
            "owner_id": row["owner"],
            "owner_name": row["owner_name"] or row["owner_email"] or "",
            "stage": row["stage"],
            "last_interaction_at": iso(last_at.get(row["id"])),
        }
        for row in rows
    }


async def near_me(
    actor: Actor, lat: float, lon: float, km: float, *, limit: int = 100
) -> list[dict[str, Any]]:
    """Contacts and companies within ``km``, nearest first, for a salesperson on the road."""
    hits = await within_radius(actor, lat, lon, km, kinds=KINDS, limit=min(limit, MAX_RESULTS))
    details = {
        kind: await _details(kind, [hit.id for hit in hits if hit.kind == kind]) for kind in KINDS
    }
    return [{**hit.as_dict(), **details[hit.kind].get(hit.id, {})} for hit in hits]
