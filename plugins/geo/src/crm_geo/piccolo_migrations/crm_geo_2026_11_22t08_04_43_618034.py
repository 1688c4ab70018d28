"""The spatial index of ``geo_location`` and the uniqueness Piccolo cannot model.

* SQLite: ``geo_location_rtree``, an R*Tree virtual table holding each location as a
  degenerate box (lat..lat, lon..lon), kept in sync by triggers on insert, update and delete
  (foreign-key cascades included). Radius, polygon and box queries read candidate ids from
  it, then filter exactly.
* PostgreSQL: a btree on (lat, lon) that radius, box and polygon queries (and the contact
  filters) use, plus, when the ``cube`` and ``earthdistance`` extensions can be created, a
  GiST index on ``ll_to_earth(lat, lon)`` that answers nearest-N queries in one ordered scan. Creating an extension needs a privilege the
  CRM's database user may lack: the attempt runs in a savepoint and the btree alone is the
  fallback, so the migration passes either way.
* Both: one location per contact and per company, one presence row per contact and geofence.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T08:04:43:618034"
VERSION = "1.38.0"
DESCRIPTION = "spatial index and unique indexes"

COMMON = (
    "CREATE UNIQUE INDEX IF NOT EXISTS geo_location_one_per_contact ON geo_location (contact)",
    "CREATE UNIQUE INDEX IF NOT EXISTS geo_location_one_per_company ON geo_location (company)",
    "CREATE UNIQUE INDEX IF NOT EXISTS geo_fence_presence_pair "
    "ON geo_fence_presence (contact, geofence)",
    "CREATE INDEX IF NOT EXISTS geo_location_consent_latest "
    "ON geo_location_consent (contact, at, id)",
    "CREATE INDEX IF NOT EXISTS geo_geofence_edge_band ON geo_geofence_edge (geofence, min_lat)",
)

SQLITE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS geo_location_rtree "
    "USING rtree(id, min_lat, max_lat, min_lon, max_lon)",
    "INSERT INTO geo_location_rtree (id, min_lat, max_lat, min_lon, max_lon) "
    "SELECT id, lat, lat, lon, lon FROM geo_location",
    "CREATE TRIGGER IF NOT EXISTS geo_location_rtree_insert AFTER INSERT ON geo_location "
    "BEGIN INSERT INTO geo_location_rtree (id, min_lat, max_lat, min_lon, max_lon) "
    "VALUES (new.id, new.lat, new.lat, new.lon, new.lon); END",
    "CREATE TRIGGER IF NOT EXISTS geo_location_rtree_update "
    "AFTER UPDATE OF id, lat, lon ON geo_location "
    "BEGIN DELETE FROM geo_location_rtree WHERE id = old.id; "
    "INSERT INTO geo_location_rtree (id, min_lat, max_lat, min_lon, max_lon) "
    "VALUES (new.id, new.lat, new.lat, new.lon, new.lon); END",
    "CREATE TRIGGER IF NOT EXISTS geo_location_rtree_delete AFTER DELETE ON geo_location "
    "BEGIN DELETE FROM geo_location_rtree WHERE id = old.id; END",
)

POSTGRES = ("CREATE INDEX IF NOT EXISTS geo_location_lat_lon ON geo_location (lat, lon)",)

POSTGRES_EARTH = (
    "CREATE EXTENSION IF NOT EXISTS cube",
    "CREATE EXTENSION IF NOT EXISTS earthdistance",
    "CREATE INDEX IF NOT EXISTS geo_location_earth ON geo_location "
    "USING gist (ll_to_earth(lat, lon))",
)

SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS geo_location_rtree_insert",
    "DROP TRIGGER IF EXISTS geo_location_rtree_update",
    "DROP TRIGGER IF EXISTS geo_location_rtree_delete",
    "DROP TABLE IF EXISTS geo_location_rtree",
)
POSTGRES_DOWN = (
    "DROP INDEX IF EXISTS geo_location_earth",
    "DROP INDEX IF EXISTS geo_location_lat_lon",
)
COMMON_DOWN = tuple(
    f"DROP INDEX IF EXISTS {name}"
    for name in (
        "geo_location_one_per_contact",
        "geo_location_one_per_company",
        "geo_fence_presence_pair",
        "geo_location_consent_latest",
        "geo_geofence_edge_band",
    )
)


async def _try_earth_index(engine):
    """Create the extensions and the GiST index, or leave no trace if not allowed."""
    await engine.run_ddl("SAVEPOINT geo_earth")
    try:
        for statement in POSTGRES_EARTH:
            await engine.run_ddl(statement)
    except Exception as exc:  # any refusal (privilege, missing contrib) means: btree only
        await engine.run_ddl("ROLLBACK TO SAVEPOINT geo_earth")
        print(f"geo: cube/earthdistance unavailable ({exc}); radius queries use the btree")
    else:
        await engine.run_ddl("RELEASE SAVEPOINT geo_earth")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="crm_geo", description=DESCRIPTION)

    async def create_indexes():
        engine = engine_finder()
        specific = SQLITE if engine.engine_type == "sqlite" else POSTGRES
        for statement in (*COMMON, *specific):
            await engine.run_ddl(statement)
        if engine.engine_type != "sqlite":
            await _try_earth_index(engine)

    async def drop_indexes():
        engine = engine_finder()
        specific = SQLITE_DOWN if engine.engine_type == "sqlite" else POSTGRES_DOWN
        for statement in (*specific, *COMMON_DOWN):
            await engine.run_ddl(statement)

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
