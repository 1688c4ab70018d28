"""Helpers the geo plugin's tests share: contacts with locations, inserted in bulk."""

from __future__ import annotations

import random

from crm_geo.tables import Location

from crmcore.tables import Contact


async def insert_located_contacts(
    points: list[tuple[float, float]], *, stage: str = "lead", city: str = ""
) -> list[int]:
    """One contact per (lat, lon), with a manual location; returns the contact ids."""
    ids: list[int] = []
    for start in range(0, len(points), 500):
        chunk = points[start : start + 500]
        rows = await Contact.insert(
            *[
                Contact(first_name=f"P{start + i}", last_name="Point", stage=stage, city=city)
                for i in range(len(chunk))
            ]
        ).returning(Contact.id)
        chunk_ids = [row["id"] for row in rows]
        await Location.insert(
            *[
                Location(contact=cid, lat=lat, lon=lon, source="manual")
                for cid, (lat, lon) in zip(chunk_ids, chunk, strict=True)
            ]
        )
        ids.extend(chunk_ids)
    return ids


def random_points(count: int, seed: int) -> list[tuple[float, float]]:
    """Points spread over the globe, with clusters at a city, near the antimeridian (Fiji)
    and near the North Pole, where bounding boxes are hardest."""
    rng = random.Random(seed)
    points = []
    centres = [(35.69, 51.39), (-17.8, 179.9), (-17.8, -179.95), (88.5, 20.0), (0.0, 0.0)]
    for index in range(count):
        if index % 3 == 0:
            lat = rng.uniform(-89.9, 89.9)
            lon = rng.uniform(-180.0, 179.999)
        else:
            clat, clon = centres[index % len(centres)]
            lat = max(-90.0, min(90.0, clat + rng.gauss(0.0, 0.4)))
            lon = (clon + rng.gauss(0.0, 0.4) + 180.0) % 360.0 - 180.0
        points.append((lat, lon))
    return points
