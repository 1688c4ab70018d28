"""Tables of the `geo` plugin (names prefixed `geo_`).

The spatial index is not a column: the raw migration adds an R*Tree virtual table
(``geo_location_rtree``) kept in sync by triggers on SQLite, and GiST/btree indexes on
PostgreSQL. Uniqueness Piccolo cannot model (one location per contact, one presence row per
contact and geofence) lives there too.
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    DoublePrecision,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from crmcore.tables import Company, Contact, User


class Location(Table, tablename="geo_location"):
    """Where a contact or company is, from which source and how precisely.

    At most one row per contact and one per company: the best position the CRM knows.
    """

    id = Serial(primary_key=True)
    contact = ForeignKey(references=Contact, null=True, on_delete=OnDelete.cascade, index=True)
    company = ForeignKey(references=Company, null=True, on_delete=OnDelete.cascade, index=True)
    lat = DoublePrecision()
    lon = DoublePrecision()
    source = Varchar(length=16, default="manual")  # geocoded | gps | manual | ip
    precision_m = Integer(default=0)
    label = Varchar(length=300, default="")
    recorded_at = Timestamptz(default=TimestamptzNow())


class Geofence(Table, tablename="geo_geofence"):
    """A named area: a circle (centre and radius) or a polygon of (lat, lon) vertices.

    Its bounding box is stored as up to two longitude ranges within [-180, 180] (two when it
    crosses the antimeridian; the second range is empty, 1..0, otherwise), so SQL can
    prefilter locations by index before the exact test. ``ref_lon`` is the longitude frame
    of the polygon (its first vertex): a point's longitude is read within half a turn of it.
    """

    id = Serial(primary_key=True)
    name = Varchar(length=200)
    description = Text(default="")
    kind = Varchar(length=16, default="circle")  # circle | polygon
    center_lat = DoublePrecision(null=True, default=None)
    center_lon = DoublePrecision(null=True, default=None)
    radius_km = DoublePrecision(null=True, default=None)
    polygon = JSON(default=[])
    ref_lon = DoublePrecision(default=0.0)
    min_lat = DoublePrecision(default=0.0, index=True)
    max_lat = DoublePrecision(default=0.0)
    min_lon = DoublePrecision(default=0.0)
    max_lon = DoublePrecision(default=0.0)
    min_lon2 = DoublePrecision(default=1.0)
    max_lon2 = DoublePrecision(default=0.0)
    active = Boolean(default=True)
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class GeofenceEdge(Table, tablename="geo_geofence_edge"):
    """One non-horizontal edge of a polygon geofence, ready for ray casting in SQL.

    An edge crosses the ray of a point at latitude ``lat`` when ``min_lat <= lat < max_lat``,
    at longitude ``vert_lon + (lat - vert_lat) * slope``; the point is inside when an odd
    number of edges cross east of it. A contact filter over a fence is thus one SQL
    expression, whatever the fence's shape.
    """

    id = Serial(primary_key=True)
    geofence = ForeignKey(references=Geofence, null=False, on_delete=OnDelete.cascade, index=True)
    min_lat = DoublePrecision()
    max_lat = DoublePrecision()
    vert_lat = DoublePrecision()
    vert_lon = DoublePrecision()
    slope = DoublePrecision()


class Checkin(Table, tablename="geo_checkin"):
    """A position reported for a contact (a mobile app's check-in), with the place found
    for it by reverse geocoding."""

    id = Serial(primary_key=True)
    contact = ForeignKey(references=Contact, null=False, on_delete=OnDelete.cascade, index=True)
    lat = DoublePrecision()
    lon = DoublePrecision()
    accuracy_m = Integer(default=0)
    place = Varchar(length=200, default="")
    country_code = Varchar(length=2, default="")
    at = Timestamptz(default=TimestamptzNow(), index=True)


class FencePresence(Table, tablename="geo_fence_presence"):
    """Whether a contact is inside a geofence, and when each event last fired (cooldown)."""

    id = Serial(primary_key=True)
    contact = ForeignKey(references=Contact, null=False, on_delete=OnDelete.cascade, index=True)
    geofence = ForeignKey(references=Geofence, null=False, on_delete=OnDelete.cascade, index=True)
    inside = Boolean(default=False)
    changed_at = Timestamptz(default=TimestamptzNow())
    last_entered_event_at = Timestamptz(null=True, default=None)
    last_exited_event_at = Timestamptz(null=True, default=None)


class LocationConsent(Table, tablename="geo_location_consent"):
    """Location-tracking consent, kept apart from marketing consent: one row per statement,
    the latest one counts. Without a granting row no check-in is stored for the contact."""

    id = Serial(primary_key=True)
    contact = ForeignKey(references=Contact, null=False, on_delete=OnDelete.cascade, index=True)
    granted = Boolean(default=False)
    source = Varchar(length=100, default="")
    at = Timestamptz(default=TimestamptzNow())
    recorded_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)


class GeocodeRun(Table, tablename="geo_geocode_run"):
    """One bulk geocoding of contacts without a location, with its progress."""

    id = Serial(primary_key=True)
    status = Varchar(length=16, default="queued")  # queued | running | done | failed
    total = Integer(default=0)
    processed = Integer(default=0)
    geocoded = Integer(default=0)
    not_found = Integer(default=0)
    error = Text(default="")
    job_id = Varchar(length=64, default="")
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)


TABLES: list[type[Table]] = [
    Location,
    Geofence,
    GeofenceEdge,
    Checkin,
    FencePresence,
    LocationConsent,
    GeocodeRun,
]
