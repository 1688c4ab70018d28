"""Uniqueness Piccolo cannot model, on which exactly-once sending rests.

* ``marketing_send (campaign, step, contact)``: a second send of the same campaign step to
  the same contact cannot be inserted, whatever workers do.
* ``marketing_enrolment (campaign, contact)``: a contact is enrolled in a drip once.
* ``marketing_segment_member (segment, contact)`` and ``marketing_do_not_contact
  (contact, channel)``: one row per pair.
* Indexes the sender's claim query and the reports read.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T08:43:26:844672"
VERSION = "1.38.0"
DESCRIPTION = "unique keys: sends, enrolments, list members, do-not-contact"

STATEMENTS = (
    "CREATE UNIQUE INDEX IF NOT EXISTS marketing_send_once "
    "ON marketing_send (campaign, step, contact)",
    "CREATE INDEX IF NOT EXISTS marketing_send_claim ON marketing_send (campaign, state, id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS marketing_enrolment_once "
    "ON marketing_enrolment (campaign, contact)",
    "CREATE UNIQUE INDEX IF NOT EXISTS marketing_segment_member_pair "
    "ON marketing_segment_member (segment, contact)",
    "CREATE UNIQUE INDEX IF NOT EXISTS marketing_do_not_contact_pair "
    "ON marketing_do_not_contact (contact, channel)",
    "CREATE INDEX IF NOT EXISTS marketing_tracking_event_report "
    "ON marketing_tracking_event (campaign, kind, at)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="crm_marketing", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)

    return manager
