"""Radius, polygon, box and nearest queries agree with brute force over every point."""

from __future__ import annotations

import pytest
from crm_geo.queries import in_bbox, nearest, within_polygon, within_radius
from crm_geo.spatial import haversine_km, point_in_polygon
from geo_support import insert_located_contacts, random_points

from crmcore.services.actor import SYSTEM
from crmcore.services.contacts import list_contacts

pytestmark = pytest.mark.crm_plugins("geo")

QUERIES = [
    (35.69, 51.39, 10.0),  # Tehran
    (35.69, 51.39, 40.0),
    (-17.8, 179.95, 60.0),  # across the antimeridian
    (-17.8, -179.99, 25.0),
    (89.0, 0.0, 200.0),  # over the pole
    (0.0, 0.0, 75.0),
    (10.0, 100.0, 5.0),  # nobody there
    (35.69, 51.39, 0.0),
]


def brute_force(points, ids, lat, lon, km):
    return {
        ident
        for ident, (plat, plon) in zip(ids, points, strict=True)
        if haversine_km(lat, lon, plat, plon) <= km
    }


async def test_radius_query_equals_brute_force_haversine_scan(crm_db):
    points = random_points(3000, seed=7)
    ids = await insert_located_contacts(points)
    for lat, lon, km in QUERIES:
        hits = await within_radius(SYSTEM, lat, lon, km, kinds=["contact"])
        assert {hit.id for hit in hits} == brute_force(points, ids, lat, lon, km), (lat, lon, km)
        distances = [hit.distance_km for hit in hits]
        assert distances == sorted(distances)


async def test_within_km_filter_selects_the_same_contacts(crm_db):
    points = random_points(1500, seed=11)
    ids = await insert_located_contacts(points)
    for lat, lon, km in QUERIES[:5]:
        found: set[int] = set()
        cursor = None
        while True:
            page = await list_contacts(
                SYSTEM,
                filters={"filter": "geo.within_km", "lat": lat, "lon": lon, "km": km},
                cursor=cursor,
                limit=500,
            )
            found |= {c["id"] for c in page.items}
            cursor = page.next
            if cursor is None:
                break
        assert found == brute_force(points, ids, lat, lon, km), (lat, lon, km)


async def test_nearest_n_are_the_n_smallest_distances(crm_db):
    points = random_points(1200, seed=3)
    ids = await insert_located_contacts(points)
    for lat, lon in [(35.0, 51.0), (-17.8, 179.99), (-60.0, -120.0)]:
        hits = await nearest(SYSTEM, lat, lon, 7, kinds=["contact"])
        expected = sorted(
            (haversine_km(lat, lon, p[0], p[1]), i) for i, p in zip(ids, points, strict=True)
        )[:7]
        assert [hit.id for hit in hits] == [i for _d, i in expected]


async def test_polygon_and_box_queries_equal_brute_force(crm_db):
    points = random_points(1500, seed=5)
    ids = await insert_located_contacts(points)
    fiji = [[-19.0, 178.5], [-16.5, 179.0], [-16.8, 181.2], [-19.2, 180.8]]
    hits = await within_polygon(SYSTEM, fiji, kinds=["contact"])
    expected = {i for i, p in zip(ids, points, strict=True) if point_in_polygon(*p, fiji)}
    assert expected and {hit.id for hit in hits} == expected

    boxed = await in_bbox(SYSTEM, -19.0, 179.5, -17.0, -179.5, kinds=["contact"])
    expected = {
        i
        for i, (lat, lon) in zip(ids, points, strict=True)
        if -19.0 <= lat <= -17.0 and (lon >= 179.5 or lon <= -179.5)
    }
    assert expected and {hit.id for hit in boxed} == expected


async def test_nearest_without_the_earthdistance_index_on_postgres(crm_db):
    """Where the cube/earthdistance extensions could not be created (no privilege), the
    migration leaves only the btree and nearest-N falls back to a growing radius."""
    if crm_db.is_sqlite:
        pytest.skip("the earthdistance index exists only on PostgreSQL")
    from crmcore.services.records import fetch

    points = random_points(600, seed=9)
    ids = await insert_located_contacts(points)
    async with crm_db.engine.transaction() as transaction:
        await fetch("DROP INDEX geo_location_earth")
        hits = await nearest(SYSTEM, 35.0, 51.0, 5, kinds=["contact"])
        await transaction.rollback()
    expected = sorted(
        (haversine_km(35.0, 51.0, p[0], p[1]), i) for i, p in zip(ids, points, strict=True)
    )[:5]
    assert [hit.id for hit in hits] == [i for _d, i in expected]
    assert await fetch("SELECT 1 AS found FROM pg_indexes WHERE indexname = 'geo_location_earth'")


async def test_inside_area_filter_equals_the_python_fence_test(crm_db):
    from crm_geo.geofences import contains, create_geofence

    points = random_points(1500, seed=21)
    ids = await insert_located_contacts(points)
    fences = [
        await create_geofence(
            {
                "name": "Fiji",
                "polygon": [
                    [-19.0, 178.5],
                    [-16.5, 179.0],
                    [-16.8, 181.2],
                    [-19.2, 180.8],
                    [-18.0, 180.0],
                ],
            },
            SYSTEM,
        ),
        await create_geofence(
            {"name": "Dateline", "center_lat": -17.8, "center_lon": -179.98, "radius_km": 40},
            SYSTEM,
        ),
        await create_geofence(
            {"name": "Tehran", "polygon": [[35.2, 51.0], [36.1, 51.2], [35.9, 51.9], [35.4, 51.7]]},
            SYSTEM,
        ),
    ]
    for fence in fences:
        page = await list_contacts(
            SYSTEM, filters={"filter": "geo.inside_area", "geofence_id": fence["id"]}, limit=500
        )
        expected = {i for i, p in zip(ids, points, strict=True) if contains(fence, *p)}
        assert expected, fence["name"]
        assert page.next is None and {c["id"] for c in page.items} == expected, fence["name"]
