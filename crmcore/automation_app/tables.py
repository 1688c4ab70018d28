"""Tables of the `automation` built-in: the embedded job queue, webhooks, rules, inbound sources.

Table names start with ``automation_`` (the built-in plugin's name), like any plugin's.
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
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

from crmcore.tables import Contact, User

JOB_STATUSES = ("queued", "running", "done", "dead", "cancelled")


class QueuedJob(Table, tablename="automation_job"):
    """One job of the embedded queue. ``key`` deduplicates: a second enqueue with the same
    key finds this row instead of adding one, for as long as the row is kept."""

    id = Serial(primary_key=True)
    name = Varchar(length=200, index=True)
    payload = JSON(default={})
    key = Varchar(length=300, null=True, default=None, unique=True)
    status = Varchar(length=16, default="queued", index=True)
    attempts = Integer(default=0)
    max_attempts = Integer(default=6)
    run_at = Timestamptz(default=TimestamptzNow(), index=True)
    # A running job belongs to the worker named in locked_by until locked_until; a worker
    # that dies stops renewing the lease and another worker takes the job over.
    locked_until = Timestamptz(null=True, default=None)
    locked_by = Varchar(length=120, null=True, default=None)
    last_error = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None, index=True)


class Webhook(Table, tablename="automation_webhook"):
    """A subscription: POST events whose name matches one of ``events`` to ``url``."""

    id = Serial(primary_key=True)
    url = Varchar(length=2000)
    events = JSON(default=["*"])
    secret = Varchar(length=200)
    description = Text(default="")
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)


class WebhookDelivery(Table, tablename="automation_webhook_delivery"):
    """One event sent to one webhook; ``uid`` is the ``X-CRM-Delivery`` header."""

    id = Serial(primary_key=True)
    uid = Varchar(length=36, unique=True)
    webhook = ForeignKey(references=Webhook, null=False, on_delete=OnDelete.cascade, index=True)
    event_id = Integer(index=True)
    event = Varchar(length=100)
    status = Varchar(length=16, default="pending", index=True)  # pending delivered failed
    attempts = Integer(default=0)
    last_response_code = Integer(null=True, default=None)
    last_error = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    delivered_at = Timestamptz(null=True, default=None)


class WebhookAttempt(Table, tablename="automation_webhook_attempt"):
    """Every HTTP attempt of a delivery: when, how long, what came back."""

    id = Serial(primary_key=True)
    delivery = ForeignKey(
        references=WebhookDelivery, null=False, on_delete=OnDelete.cascade, index=True
    )
    attempt = Integer()
    at = Timestamptz(default=TimestamptzNow())
    ok = Boolean(default=False)
    response_code = Integer(null=True, default=None)
    duration_ms = Integer(default=0)
    error = Text(default="")


class Rule(Table, tablename="automation_rule"):
    """An automation rule: a trigger, conditions on the contact, and actions in order."""

    id = Serial(primary_key=True)
    name = Varchar(length=200)
    enabled = Boolean(default=True, index=True)
    trigger = JSON(default={})
    conditions = JSON(null=True, default=None)
    actions = JSON(default=[])
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)


class RuleRun(Table, tablename="automation_rule_run"):
    """One evaluation of a rule for one contact; ``run_key`` makes a retried job find it."""

    id = Serial(primary_key=True)
    rule = ForeignKey(references=Rule, null=False, on_delete=OnDelete.cascade, index=True)
    run_key = Varchar(length=300, unique=True)
    contact = ForeignKey(references=Contact, null=True, on_delete=OnDelete.set_null, index=True)
    event_id = Integer(null=True, default=None)
    status = Varchar(length=16, default="running", index=True)
    steps = JSON(default=[])
    error = Text(default="")
    started_at = Timestamptz(default=TimestamptzNow(), index=True)
    finished_at = Timestamptz(null=True, default=None)


class InboundSource(Table, tablename="automation_inbound_source"):
    """Another system allowed to post interactions to ``/api/v1/inbound/{name}``."""

    id = Serial(primary_key=True)
    name = Varchar(length=64, unique=True)
    secret = Varchar(length=200)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


TABLES: list[type[Table]] = [
    QueuedJob,
    Webhook,
    WebhookDelivery,
    WebhookAttempt,
    Rule,
    RuleRun,
    InboundSource,
]
