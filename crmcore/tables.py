"""The core's tables (DESIGN §3). Plugins prefix their own table names (``geo_…``).

Values that belong to one record and are read with it (custom field values, interaction
metadata) are JSON columns; anything the CRM looks records up by (emails, phones, tags,
external ids) has its own indexed column or table.
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

STAGES = ("lead", "prospect", "customer", "churned")
CHANNELS = (
    "email",
    "phone",
    "sms",
    "web",
    "social",
    "meeting",
    "chat",
    "note",
    "purchase",
    "support",
)
DIRECTIONS = ("inbound", "outbound", "internal")
TASK_STATUSES = ("planned", "done", "cancelled")


class Role(Table, tablename="role"):
    id = Serial(primary_key=True)
    name = Varchar(length=64, unique=True)
    description = Text(default="")
    permissions = JSON(default=[])
    # "all": every record; "own": only records the user owns or is assigned.
    record_scope = Varchar(length=8, default="all")
    builtin = Boolean(default=False)


class User(Table, tablename="crm_user"):
    id = Serial(primary_key=True)
    email = Varchar(length=320, unique=True)
    name = Varchar(length=200, default="")
    password_hash = Text(default="")
    active = Boolean(default=True)
    language = Varchar(length=8, default="en")
    timezone = Varchar(length=64, default="UTC")
    role = ForeignKey(references=Role, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    last_login_at = Timestamptz(null=True, default=None)


class ApiToken(Table, tablename="api_token"):
    id = Serial(primary_key=True)
    user = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=100, default="")
    prefix = Varchar(length=16, default="")
    token_hash = Varchar(length=128, unique=True)
    scopes = JSON(default=[])
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)


class WebSession(Table, tablename="web_session"):
    id = Serial(primary_key=True)
    key_hash = Varchar(length=128, unique=True)
    user = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade, index=True)
    csrf_token = Varchar(length=128)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(index=True)
    last_seen_at = Timestamptz(default=TimestamptzNow())
    ip = Varchar(length=64, default="")
    user_agent = Varchar(length=300, default="")


class LoginAttempt(Table, tablename="login_attempt"):
    id = Serial(primary_key=True)
    email = Varchar(length=320, index=True)
    ip = Varchar(length=64, index=True)
    at = Timestamptz(default=TimestamptzNow(), index=True)
    success = Boolean(default=False)


class Company(Table, tablename="company"):
    id = Serial(primary_key=True)
    name = Varchar(length=300, index=True)
    domain = Varchar(length=255, null=True, default=None, index=True)
    industry = Varchar(length=120, default="")
    size = Varchar(length=32, default="")
    street = Varchar(length=300, default="")
    city = Varchar(length=120, default="")
    region = Varchar(length=120, default="")
    postal_code = Varchar(length=32, default="")
    country = Varchar(length=2, default="")
    owner = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null, index=True)
    custom = JSON(default={})
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow(), index=True)


class Contact(Table, tablename="contact"):
    id = Serial(primary_key=True)
    first_name = Varchar(length=150, default="")
    last_name = Varchar(length=150, default="", index=True)
    title = Varchar(length=150, default="")
    company = ForeignKey(references=Company, null=True, on_delete=OnDelete.set_null, index=True)
    # Primary email/phone, normalised; every address lives in contact_point too.
    email = Varchar(length=320, null=True, default=None, index=True)
    phone = Varchar(length=32, null=True, default=None, index=True)
    street = Varchar(length=300, default="")
    city = Varchar(length=120, default="")
    region = Varchar(length=120, default="")
    postal_code = Varchar(length=32, default="")
    country = Varchar(length=2, default="")
    stage = Varchar(length=16, default="lead", index=True)
    source = Varchar(length=100, default="")
    owner = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null, index=True)
    language = Varchar(length=8, default="")
    birthday = Date(null=True, default=None)
    custom = JSON(default={})
    # Names, emails, phones (several formats), company and tags: what full-text search reads.
    search_text = Text(default="")
    import_id = Integer(null=True, default=None, index=True)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    updated_at = Timestamptz(default=TimestamptzNow(), index=True)


class ContactPoint(Table, tablename="contact_point"):
    """One email address or phone number of a contact, normalised (lower-case / E.164)."""

    id = Serial(primary_key=True)
    contact = ForeignKey(references=Contact, null=False, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=8)  # email | phone
    value = Varchar(length=320, index=True)
    label = Varchar(length=32, default="")
    is_primary = Boolean(default=False)


class StageChange(Table, tablename="stage_change"):
    id = Serial(primary_key=True)
    contact = ForeignKey(references=Contact, null=False, on_delete=OnDelete.cascade, index=True)
    from_stage = Varchar(length=16, null=True, default=None)
    to_stage = Varchar(length=16)
    changed_at = Timestamptz(default=TimestamptzNow())
    changed_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)


class Tag(Table, tablename="tag"):
    id = Serial(primary_key=True)
    name = Varchar(length=100, unique=True)
    color = Varchar(length=16, default="")


class ContactTag(Table, tablename="contact_tag"):
    id = Serial(primary_key=True)
    contact = ForeignKey(references=Contact, null=False, on_delete=OnDelete.cascade, index=True)
    tag = ForeignKey(references=Tag, null=False, on_delete=OnDelete.cascade, index=True)


class CompanyTag(Table, tablename="company_tag"):
    id = Serial(primary_key=True)
    company = ForeignKey(references=Company, null=False, on_delete=OnDelete.cascade, index=True)
    tag = ForeignKey(references=Tag, null=False, on_delete=OnDelete.cascade, index=True)


class CustomField(Table, tablename="custom_field"):
    id = Serial(primary_key=True)
    entity = Varchar(length=16)  # contact | company
    key = Varchar(length=64)
    label = Varchar(length=200)
    field_type = Varchar(length=16)  # text number date bool choice multi_choice
    required = Boolean(default=False)
    choices = JSON(default=[])
    position = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())


class Interaction(Table, tablename="interaction"):
    """A touchpoint on any channel; with ``status`` set it is a planned task or reminder."""

    id = Serial(primary_key=True)
    contact = ForeignKey(references=Contact, null=True, on_delete=OnDelete.cascade, index=True)
    company = ForeignKey(references=Company, null=True, on_delete=OnDelete.set_null, index=True)
    channel = Varchar(length=16, index=True)
    direction = Varchar(length=16, default="outbound")
    occurred_at = Timestamptz(default=TimestamptzNow(), index=True)
    subject = Varchar(length=500, default="")
    body = Text(default="")
    value = Numeric(digits=(14, 2), null=True, default=None)
    currency = Varchar(length=3, default="")
    source = Varchar(length=64, default="")
    external_id = Varchar(length=200, null=True, default=None)
    author = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    meta = JSON(default={})
    status = Varchar(length=16, null=True, default=None, index=True)
    due_at = Timestamptz(null=True, default=None, index=True)
    assignee = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null, index=True)
    completed_at = Timestamptz(null=True, default=None)
    completed_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class AuditLog(Table, tablename="audit_log"):
    """Append-only: who changed which record and how (restricted values masked on read)."""

    id = Serial(primary_key=True)
    at = Timestamptz(default=TimestamptzNow(), index=True)
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    actor_label = Varchar(length=320, default="")
    action = Varchar(length=16)
    table_name = Varchar(length=64, index=True)
    record_id = Integer(index=True)
    changes = JSON(default={})
    plugin = Varchar(length=64, default="core")


class OutboxEvent(Table, tablename="outbox_event"):
    """Events written in the same transaction as the change; delivered after commit."""

    id = Serial(primary_key=True)
    event = Varchar(length=100, index=True)
    payload = JSON(default={})
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    dispatched_at = Timestamptz(null=True, default=None, index=True)


CORE_TABLES: list[type[Table]] = [
    Role,
    User,
    ApiToken,
    WebSession,
    LoginAttempt,
    Company,
    Contact,
    ContactPoint,
    StageChange,
    Tag,
    ContactTag,
    CompanyTag,
    CustomField,
    Interaction,
    AuditLog,
    OutboxEvent,
]
