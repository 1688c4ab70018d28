"""Contact full-text search and the indexes Piccolo cannot model.

* SQLite: ``contact_fts``, an FTS5 external-content table over ``contact.search_text``
  (unicode61 tokenizer folding Latin diacritics; prefix index so "محم" or "ali" match as
  you type), kept in sync by triggers on every insert, update and delete.
* PostgreSQL: ``contact.search_vector``, a tsvector generated from ``search_text`` with the
  'simple' configuration (no stemming: names and Persian words stay as written), GIN-indexed.
* Both: one tag per contact/company at most, one custom field key per entity, and a
  case-insensitive company name index for get-or-create by name.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T07:49:31:450239"
VERSION = "1.38.0"
DESCRIPTION = "contact full-text search"

COMMON = (
    "CREATE UNIQUE INDEX IF NOT EXISTS contact_tag_unique ON contact_tag (contact, tag)",
    "CREATE UNIQUE INDEX IF NOT EXISTS company_tag_unique ON company_tag (company, tag)",
    "CREATE UNIQUE INDEX IF NOT EXISTS custom_field_entity_key ON custom_field (entity, key)",
    "CREATE INDEX IF NOT EXISTS company_name_lower ON company (lower(name))",
    "CREATE INDEX IF NOT EXISTS contact_point_kind_value ON contact_point (kind, value)",
)

SQLITE = (
    "CREATE VIRTUAL TABLE contact_fts USING fts5("
    "search_text, content='contact', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3 4')",
    "CREATE TRIGGER contact_fts_insert AFTER INSERT ON contact BEGIN "
    "INSERT INTO contact_fts (rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER contact_fts_delete AFTER DELETE ON contact BEGIN "
    "INSERT INTO contact_fts (contact_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER contact_fts_update AFTER UPDATE OF search_text ON contact BEGIN "
    "INSERT INTO contact_fts (contact_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO contact_fts (rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO contact_fts (contact_fts) VALUES ('rebuild')",
)

POSTGRES = (
    "ALTER TABLE contact ADD COLUMN IF NOT EXISTS search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', coalesce(search_text, ''))) STORED",
    "CREATE INDEX IF NOT EXISTS contact_search_vector ON contact USING GIN (search_vector)",
)

SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS contact_fts_insert",
    "DROP TRIGGER IF EXISTS contact_fts_delete",
    "DROP TRIGGER IF EXISTS contact_fts_update",
    "DROP TABLE IF EXISTS contact_fts",
)
POSTGRES_DOWN = (
    "DROP INDEX IF EXISTS contact_search_vector",
    "ALTER TABLE contact DROP COLUMN IF EXISTS search_vector",
)
COMMON_DOWN = tuple(
    f"DROP INDEX IF EXISTS {name}"
    for name in (
        "contact_tag_unique",
        "company_tag_unique",
        "custom_field_entity_key",
        "company_name_lower",
        "contact_point_kind_value",
    )
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="crm_core", description=DESCRIPTION)

    async def create_search():
        engine = engine_finder()
        specific = SQLITE if engine.engine_type == "sqlite" else POSTGRES
        for statement in (*COMMON, *specific):
            await engine.run_ddl(statement)

    async def drop_search():
        engine = engine_finder()
        specific = SQLITE_DOWN if engine.engine_type == "sqlite" else POSTGRES_DOWN
        for statement in (*specific, *COMMON_DOWN):
            await engine.run_ddl(statement)

    manager.add_raw(create_search)
    manager.add_raw_backwards(drop_search)
    return manager
