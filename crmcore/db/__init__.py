"""Database access: the engine built from a URL, the open database of this process,
and migrations per Piccolo app (core first, then enabled plugins in dependency order)."""

from crmcore.db.runtime import Database, current_database, open_database

__all__ = ["Database", "current_database", "open_database"]
