"""Geometry behind radius queries, geofences and the contact map."""

from __future__ import annotations

import math
import random

import pytest
from crm_geo.spatial import (
    EARTH_RADIUS_KM,
    BoundingBox,
    bounding_box,
    circle_polygon,
    cluster_points,
    destination_point,
    haversine_km,
    point_in_polygon,
    polygon_bbox,
    project_equirectangular,
    split_antimeridian,
)

TEHRAN = (35.6892, 51.3890)
SHIRAZ = (29.5918, 52.5837)
LONDON = (51.5074, -0.1278)
PARIS = (48.8566, 2.3522)


def test_haversine_gives_known_distances() -> None:
    assert 680 <= haversine_km(*TEHRAN, *SHIRAZ) <= 690
    assert haversine_km(*LONDON, *PARIS) == pytest.approx(343.5, abs=1.5)
    assert haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_RADIUS_KM)
    assert haversine_km(*TEHRAN, *TEHRAN) == 0


def test_haversine_is_symmetric_and_ignores_longitude_wrapping() -> None:
    assert haversine_km(*TEHRAN, *SHIRAZ) == pytest.approx(haversine_km(*SHIRAZ, *TEHRAN))
    assert haversine_km(-17.0, 179.5, -17.0, -179.5) == pytest.approx(
        haversine_km(-17.0, 179.5, -17.0, 180.5)
    )
    assert haversine_km(-17.0, 179.5, -17.0, -179.5) < 110


def test_destination_point_lands_at_the_requested_distance() -> None:
    rng = random.Random(7)
    for _ in range(500):
        lat, lon = rng.uniform(-89, 89), rng.uniform(-180, 180)
        distance = rng.uniform(0, 5000)
        end_lat, end_lon = destination_point(lat, lon, rng.uniform(0, 360), distance)
        assert -180 <= end_lon < 180
        assert haversine_km(lat, lon, end_lat, end_lon) == pytest.approx(distance, abs=1e-6)


def _random_centres(rng: random.Random, count: int) -> list[tuple[float, float]]:
    """Centres anywhere, plus a third near the poles and a third near the antimeridian."""
    centres = []
    for index in range(count):
        if index % 3 == 0:
            lat = rng.choice((-1, 1)) * rng.uniform(80, 90)
        else:
            lat = rng.uniform(-80, 80)
        if index % 3 == 1:
            lon = rng.choice((-1, 1)) * rng.uniform(170, 180)
        else:
            lon = rng.uniform(-180, 180)
        centres.append((lat, lon))
    return centres


def _in_any(boxes: list[BoundingBox], lat: float, lon: float) -> bool:
    return any(box.contains(lat, lon) for box in boxes)


def test_bounding_box_contains_every_point_within_the_radius() -> None:
    rng = random.Random(20240501)
    for lat, lon in _random_centres(rng, 600):
        radius = rng.choice((0.5, 5.0, 50.0, 500.0, 3000.0))
        boxes = bounding_box(lat, lon, radius)
        for _ in range(40):
            # Mostly on the rim, where a too-small box would show.
            distance = radius * (1.0 - 1e-9 if rng.random() < 0.5 else rng.random())
            point = destination_point(lat, lon, rng.uniform(0, 360), distance)
            assert _in_any(boxes, *point), (lat, lon, radius, point, boxes)


def test_bounding_box_contains_rejection_sampled_points_near_poles_and_antimeridian() -> None:
    rng = random.Random(99)
    checked = 0
    for lat, lon in _random_centres(rng, 300):
        radius = rng.choice((20.0, 200.0, 1500.0))
        boxes = bounding_box(lat, lon, radius)
        spread = math.degrees(radius / EARTH_RADIUS_KM) * 1.5
        for _ in range(60):
            point_lat = max(-90.0, min(90.0, lat + rng.uniform(-spread, spread)))
            point_lon = rng.uniform(-180, 180)
            if haversine_km(lat, lon, point_lat, point_lon) <= radius:
                checked += 1
                assert _in_any(boxes, point_lat, point_lon)
    assert checked > 1000


def test_bounding_boxes_stay_within_world_limits_and_never_wrap() -> None:
    rng = random.Random(3)
    for lat, lon in _random_centres(rng, 300):
        for box in bounding_box(lat, lon, rng.uniform(0, 4000)):
            assert -90 <= box.min_lat <= box.max_lat <= 90
            assert -180 <= box.min_lon <= box.max_lon <= 180


def test_bounding_box_is_tight_away_from_poles() -> None:
    (box,) = bounding_box(*TEHRAN, 100)
    north, _ = destination_point(*TEHRAN, 0, 100)
    _, east = destination_point(TEHRAN[0], TEHRAN[1], 90, 100)
    assert box.max_lat == pytest.approx(north)
    # The widest point of the circle is slightly poleward of due east, so the box is a bit
    # wider than the due-east point, but not by much.
    assert east < box.max_lon < east + 0.01


def test_circle_across_the_antimeridian_gets_one_box_on_each_side() -> None:
    boxes = bounding_box(-17.8, 179.9, 50)
    assert len(boxes) == 2
    assert _in_any(boxes, -17.8, -179.8)
    assert _in_any(boxes, -17.8, 179.6)
    assert not _in_any(boxes, -17.8, 0.0)


def test_circle_reaching_a_pole_spans_all_longitudes() -> None:
    (north,) = bounding_box(89.9, 10.0, 50)
    assert north.min_lat == pytest.approx(89.9 - math.degrees(50 / EARTH_RADIUS_KM))
    assert (north.max_lat, north.min_lon, north.max_lon) == (90.0, -180.0, 180.0)
    (south,) = bounding_box(-89.9, 10.0, 50)
    assert (south.min_lat, south.min_lon, south.max_lon) == (-90.0, -180.0, 180.0)


def test_negative_radius_is_refused() -> None:
    with pytest.raises(ValueError, match="radius_km"):
        bounding_box(0, 0, -1)


def test_split_antimeridian_turns_a_continuous_frame_into_sql_ranges() -> None:
    assert split_antimeridian(BoundingBox(-20, -15, 175, 185)) == [
        BoundingBox(-20, -15, 175, 180),
        BoundingBox(-20, -15, -180, -175),
    ]
    assert split_antimeridian(BoundingBox(0, 1, 10, 20)) == [BoundingBox(0, 1, 10, 20)]
    assert split_antimeridian(BoundingBox(0, 1, -200, 200)) == [BoundingBox(0, 1, -180, 180)]


# A "U" open to the north: the notch between the arms is outside.
U_SHAPE = [
    (0.0, 0.0),
    (0.0, 3.0),
    (3.0, 3.0),
    (3.0, 2.0),
    (1.0, 2.0),
    (1.0, 1.0),
    (3.0, 1.0),
    (3.0, 0.0),
]


@pytest.mark.parametrize(
    ("lat", "lon", "inside"),
    [
        (0.5, 1.5, True),  # the base
        (2.0, 0.5, True),  # left arm
        (2.0, 2.5, True),  # right arm
        (2.0, 1.5, False),  # the notch
        (4.0, 1.5, False),  # beyond the arms
        (-1.0, 1.5, False),  # below
        (0.5, 3.5, False),  # right of it
    ],
)
def test_point_in_concave_polygon(lat: float, lon: float, inside: bool) -> None:
    assert point_in_polygon(lat, lon, U_SHAPE) is inside


def test_point_in_polygon_accepts_closed_rings() -> None:
    closed = [*U_SHAPE, U_SHAPE[0]]
    assert point_in_polygon(2.0, 0.5, closed)
    assert not point_in_polygon(2.0, 1.5, closed)


def test_point_in_polygon_refuses_degenerate_polygons() -> None:
    with pytest.raises(ValueError, match="at least 3 vertices"):
        point_in_polygon(0, 0, [(0, 0), (1, 1)])


def test_geofence_across_the_antimeridian_contains_points_on_both_sides() -> None:
    fence = circle_polygon(-17.0, 179.5, 100)
    assert point_in_polygon(-17.0, -179.8, fence)  # 74 km east, past the antimeridian
    assert point_in_polygon(-17.0, 179.0, fence)
    assert not point_in_polygon(-17.0, -178.5, fence)  # 180 km east
    assert not point_in_polygon(-17.0, 0.0, fence)


def test_circle_polygon_vertices_lie_on_the_circle() -> None:
    ring = circle_polygon(*TEHRAN, 25, n=48)
    assert len(ring) == 48
    for lat, lon in ring:
        assert haversine_km(*TEHRAN, lat, lon) == pytest.approx(25)
    assert point_in_polygon(*TEHRAN, ring)
    assert not point_in_polygon(*SHIRAZ, ring)


def test_circle_polygon_refuses_circles_around_a_pole() -> None:
    with pytest.raises(ValueError, match="encloses a pole"):
        circle_polygon(89.5, 0, 100)


def test_polygon_bbox_wraps_the_polygon() -> None:
    assert polygon_bbox(U_SHAPE) == BoundingBox(0.0, 3.0, 0.0, 3.0)
    fence = circle_polygon(-17.0, 179.5, 100)
    box = polygon_bbox(fence)
    assert box.max_lon > 180  # the fence's own continuous frame
    assert all(box.contains(lat, lon) for lat, lon in fence)


def test_clustering_accounts_for_every_point_once() -> None:
    rng = random.Random(11)
    points = [(rng.uniform(-60, 70), rng.uniform(-180, 180)) for _ in range(2000)]
    points += [(35.7 + rng.uniform(0, 0.2), 51.4 + rng.uniform(0, 0.2)) for _ in range(300)]
    clusters = cluster_points(points, cell_deg=5.0)
    assert sum(cluster.count for cluster in clusters) == len(points)
    members = sorted(index for cluster in clusters for index in cluster.members)
    assert members == list(range(len(points)))
    assert clusters[0].count >= 300  # the dense Tehran cell comes first
    assert clusters[0].lat == pytest.approx(35.8, abs=2.5)
    for cluster in clusters:
        assert cluster.count == len(cluster.members)
        lats = [points[index][0] for index in cluster.members]
        assert cluster.lat == pytest.approx(sum(lats) / len(lats))


def test_clustering_puts_nearby_points_together_and_far_ones_apart() -> None:
    clusters = cluster_points([(35.70, 51.40), (35.71, 51.41), (29.59, 52.58)], cell_deg=1.0)
    assert sorted(cluster.count for cluster in clusters) == [1, 2]


def test_clustering_refuses_a_non_positive_cell() -> None:
    with pytest.raises(ValueError, match="cell_deg"):
        cluster_points([(0, 0)], cell_deg=0)


def test_equirectangular_projection_maps_the_viewport_onto_the_canvas() -> None:
    view = BoundingBox(25.0, 40.0, 44.0, 64.0)  # Iran
    assert project_equirectangular(40.0, 44.0, view, 800, 600) == (0.0, 0.0)
    assert project_equirectangular(25.0, 64.0, view, 800, 600) == (800.0, 600.0)
    x, y = project_equirectangular(*TEHRAN, view, 800, 600)
    assert 0 < x < 800 and 0 < y < 600
    shiraz_x, shiraz_y = project_equirectangular(*SHIRAZ, view, 800, 600)
    assert shiraz_y > y  # Shiraz is south of Tehran, so lower on the SVG canvas


def test_projection_viewport_may_cross_the_antimeridian() -> None:
    view = BoundingBox(-20.0, -15.0, 175.0, 185.0)
    x, _ = project_equirectangular(-17.0, -178.0, view, 1000, 500)
    assert x == pytest.approx(700.0)


def test_projection_refuses_an_empty_viewport() -> None:
    with pytest.raises(ValueError, match="no area"):
        project_equirectangular(0, 0, BoundingBox(1, 1, 0, 10), 100, 100)
