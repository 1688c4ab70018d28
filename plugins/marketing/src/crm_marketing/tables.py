"""Tables of the `marketing` plugin (names prefixed `marketing_`).

Contact references are plain integers with indexes rather than foreign keys: sends, consent
records and scores outlive merges (moved by ``contact_merged``) and are removed by the
privacy erase hook, and bulk sends write them with the driver.
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Segment(Table, tablename="marketing_segment"):
    """A saved filter tree over contacts, or a static list."""

    id = Serial(primary_key=True)
    name = Varchar(length=200, unique=True)
    filter = JSON(default={})
    static = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())


class SegmentMember(Table, tablename="marketing_segment_member"):
    """A contact on a static list (unique per segment and contact)."""

    id = Serial(primary_key=True)
    segment = Integer(index=True)
    contact = Integer(index=True)
    added_at = Timestamptz(default=TimestamptzNow())


class EmailTemplate(Table, tablename="marketing_template"):
    """A user-authored email: subject, HTML and text parts, rendered in a sandbox."""

    id = Serial(primary_key=True)
    name = Varchar(length=200, unique=True)
    subject = Varchar(length=500, default="")
    html = Text(default="")
    text = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Campaign(Table, tablename="marketing_campaign"):
    """A broadcast (one template to a segment) or a drip sequence of ``steps``.

    ``status``: draft → sending → sent for broadcasts (paused in between); drips are
    active or paused. ``trigger`` says what enrols contacts into a drip.
    """

    id = Serial(primary_key=True)
    name = Varchar(length=200)
    kind = Varchar(length=20, default="broadcast")
    status = Varchar(length=20, default="draft", index=True)
    segment = Integer(null=True)
    template = Integer(null=True)
    subject = Varchar(length=500, default="")
    steps = JSON(default=[])
    trigger = JSON(default={})
    created_at = Timestamptz(default=TimestamptzNow())
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)


class Send(Table, tablename="marketing_send"):
    """One message to one contact for one campaign step; UNIQUE (campaign, step, contact).

    ``state``: queued → sending (claimed under ``claim_token`` until ``lease_until``) → sent,
    or failed after the last retry. ``links`` are the URLs of the rendered message: the
    click redirect follows only those.
    """

    id = Serial(primary_key=True)
    campaign = Integer()
    step = Integer(default=0)
    contact = Integer(index=True)
    email = Varchar(length=320, default="")
    state = Varchar(length=20, default="queued")
    claim_token = Varchar(length=40, null=True, default=None)
    lease_until = Timestamptz(null=True, default=None)
    attempts = Integer(default=0)
    message_id = Varchar(length=250, default="")
    links = JSON(default=[])
    error = Text(default="")
    queued_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)
    opened_at = Timestamptz(null=True, default=None)
    clicked_at = Timestamptz(null=True, default=None)
    unsubscribed_at = Timestamptz(null=True, default=None)
    bounced_at = Timestamptz(null=True, default=None)


class TrackingEvent(Table, tablename="marketing_tracking_event"):
    """An open, click, unsubscribe or bounce of a send, for reports over time."""

    id = Serial(primary_key=True)
    send = Integer(index=True)
    campaign = Integer(index=True)
    contact = Integer(index=True)
    kind = Varchar(length=20)
    url = Text(default="")
    user_agent = Varchar(length=500, default="")
    proxy = Boolean(default=False)
    at = Timestamptz(default=TimestamptzNow())


class Enrolment(Table, tablename="marketing_enrolment"):
    """A contact's place in a drip campaign; UNIQUE (campaign, contact).

    ``step`` is the index of the next step to run, at ``next_at``; ``state`` is active,
    done or exited.
    """

    id = Serial(primary_key=True)
    campaign = Integer()
    contact = Integer(index=True)
    step = Integer(default=0)
    state = Varchar(length=20, default="active")
    next_at = Timestamptz(null=True, default=None, index=True)
    enrolled_at = Timestamptz(default=TimestamptzNow())


class DoNotContact(Table, tablename="marketing_do_not_contact"):
    """The current do-not-contact state per contact and channel (unique pair)."""

    id = Serial(primary_key=True)
    contact = Integer(index=True)
    channel = Varchar(length=20, default="email")
    reason = Varchar(length=40, default="")
    at = Timestamptz(default=TimestamptzNow())


class ConsentRecord(Table, tablename="marketing_consent"):
    """The consent log: every grant, withdrawal and do-not-contact with its purpose, legal
    basis, source and time. Never updated, only appended."""

    id = Serial(primary_key=True)
    contact = Integer(index=True)
    channel = Varchar(length=20, default="email")
    action = Varchar(length=20)
    purpose = Varchar(length=200, default="")
    legal_basis = Varchar(length=40, default="")
    source = Varchar(length=200, default="")
    at = Timestamptz(default=TimestamptzNow())
    actor = Varchar(length=200, default="")


class ScoringRule(Table, tablename="marketing_scoring_rule"):
    """Points for an event (open, click, page_visit), a field value, or inactivity decay;
    kind ``threshold`` rules change the stage or fire an event at ``points`` or more."""

    id = Serial(primary_key=True)
    kind = Varchar(length=20)
    points = Integer(default=0)
    params = JSON(default={})


class Score(Table, tablename="marketing_score"):
    """A contact's lead score (one row per contact)."""

    id = Serial(primary_key=True)
    contact = Integer(unique=True)
    points = Integer(default=0)
    thresholds = JSON(default=[])
    updated_at = Timestamptz(default=TimestamptzNow())


TABLES: list[type[Table]] = [
    Segment,
    SegmentMember,
    EmailTemplate,
    Campaign,
    Send,
    TrackingEvent,
    Enrolment,
    DoNotContact,
    ConsentRecord,
    ScoringRule,
    Score,
]
