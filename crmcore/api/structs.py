"""Request and response bodies of the contacts, companies, tags and custom-fields API.

Explicit msgspec structs, not table-derived DTOs: the API's shape is a promise to
integrators and changes only on purpose. Output fields a reader may not see (a plugin's
restricted field) are left out of the response rather than sent empty, so every output
field but ``id`` is optional in the schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "CompanyIn",
    "CompanyOut",
    "CompanyPage",
    "CompanyPatch",
    "ContactFilterOut",
    "ContactIn",
    "ContactOut",
    "ContactPage",
    "ContactPatch",
    "CustomFieldIn",
    "CustomFieldOut",
    "CustomFieldPatch",
    "StageChangeOut",
    "TagIn",
    "TagOut",
    "TagPatch",
    "TaggingIn",
    "TaggingOut",
    "UntaggingIn",
    "sent_fields",
]

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType
Stage = Literal["lead", "prospect", "customer", "churned"]
FieldType = Literal["text", "number", "date", "bool", "choice", "multi_choice"]
Entity = Literal["contact", "company"]

Custom = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description=(
            "Custom field values by field key. Which keys exist, their types (text, number, "
            "date, bool, choice, multi_choice), choices and whether they are required is "
            "defined by an admin: GET /api/v1/custom-fields?entity=contact (or company)."
        )
    ),
]
Emails = Annotated[
    list[str],
    msgspec.Meta(description="Email addresses, the first one primary; stored lower-cased."),
]
Phones = Annotated[
    list[str],
    msgspec.Meta(
        description=(
            "Phone numbers, the first one primary; national numbers are read in the "
            "contact's country (else the instance's default region) and stored in E.164."
        )
    ),
]


def sent_fields(data: msgspec.Struct) -> dict[str, Any]:
    """The fields a client actually sent (UNSET ones dropped)."""
    return {k: v for k, v in msgspec.structs.asdict(data).items() if v is not UNSET}


# --------------------------------------------------------------------------- contacts


class ContactIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new contact: at least a name, an email address or a phone number.

    ``email``/``phone`` give a single address; ``emails``/``phones`` several. ``company``
    names a company (found by name, created if new); ``company_id`` picks one by id.
    """

    first_name: str | Unset = UNSET
    last_name: str | Unset = UNSET
    email: str | None | Unset = UNSET
    phone: str | None | Unset = UNSET
    emails: Emails | Unset = UNSET
    phones: Phones | Unset = UNSET
    company: str | None | Unset = UNSET
    company_id: int | None | Unset = UNSET
    title: str | Unset = UNSET
    street: str | Unset = UNSET
    city: str | Unset = UNSET
    region: str | Unset = UNSET
    postal_code: str | Unset = UNSET
    country: Annotated[str, msgspec.Meta(description="ISO 3166 two-letter code")] | Unset = UNSET
    stage: Stage | Unset = UNSET
    source: str | Unset = UNSET
    owner_id: int | None | Unset = UNSET
    language: str | Unset = UNSET
    birthday: Annotated[str, msgspec.Meta(description="YYYY-MM-DD")] | None | Unset = UNSET
    tags: list[str] | Unset = UNSET
    custom: Custom | Unset = UNSET


class ContactPatch(ContactIn, forbid_unknown_fields=True):
    """Fields to change; absent fields stay as they are. ``email``/``phone`` replace the
    primary address, ``emails``/``phones`` the whole list, ``tags`` all tags; ``custom``
    changes only the keys given (``null`` removes a value)."""


class ContactOut(msgspec.Struct, omit_defaults=True):
    """A contact as readers see it."""

    id: int
    first_name: str | Unset = UNSET
    last_name: str | Unset = UNSET
    name: str | Unset = UNSET
    email: str | None | Unset = UNSET
    phone: str | None | Unset = UNSET
    emails: Emails | Unset = UNSET
    phones: Phones | Unset = UNSET
    company_id: int | None | Unset = UNSET
    company_name: str | None | Unset = UNSET
    title: str | Unset = UNSET
    street: str | Unset = UNSET
    city: str | Unset = UNSET
    region: str | Unset = UNSET
    postal_code: str | Unset = UNSET
    country: str | Unset = UNSET
    stage: Stage | Unset = UNSET
    source: str | Unset = UNSET
    owner_id: int | None | Unset = UNSET
    language: str | Unset = UNSET
    birthday: str | None | Unset = UNSET
    tags: list[str] | Unset = UNSET
    custom: Custom | Unset = UNSET
    created_at: datetime | Unset = UNSET
    updated_at: datetime | Unset = UNSET


class ContactPage(msgspec.Struct):
    """One page of contacts; pass ``next`` back as ``cursor`` for the following page."""

    items: list[ContactOut]
    next: str | None


class StageChangeOut(msgspec.Struct):
    from_stage: str | None
    to_stage: str
    changed_at: datetime
    changed_by: int | None


class ContactFilterOut(msgspec.Struct):
    """A named filter usable in ``filters`` trees (``{"filter": name, **params}``)."""

    name: str
    label: str
    params: dict[str, str]


# --------------------------------------------------------------------------- companies


class CompanyIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str | Unset = UNSET
    domain: str | None | Unset = UNSET
    industry: str | Unset = UNSET
    size: str | Unset = UNSET
    street: str | Unset = UNSET
    city: str | Unset = UNSET
    region: str | Unset = UNSET
    postal_code: str | Unset = UNSET
    country: str | Unset = UNSET
    owner_id: int | None | Unset = UNSET
    tags: list[str] | Unset = UNSET
    custom: Custom | Unset = UNSET


class CompanyPatch(CompanyIn, forbid_unknown_fields=True):
    """Fields to change; absent fields stay as they are."""


class CompanyOut(msgspec.Struct, omit_defaults=True):
    id: int
    name: str | Unset = UNSET
    domain: str | None | Unset = UNSET
    industry: str | Unset = UNSET
    size: str | Unset = UNSET
    street: str | Unset = UNSET
    city: str | Unset = UNSET
    region: str | Unset = UNSET
    postal_code: str | Unset = UNSET
    country: str | Unset = UNSET
    owner_id: int | None | Unset = UNSET
    tags: list[str] | Unset = UNSET
    custom: Custom | Unset = UNSET
    created_at: datetime | Unset = UNSET
    updated_at: datetime | Unset = UNSET


class CompanyPage(msgspec.Struct):
    items: list[CompanyOut]
    next: str | None


# --------------------------------------------------------------------------- tags


class TagIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    color: str = ""


class TagPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | Unset = UNSET
    color: str | Unset = UNSET


class TagOut(msgspec.Struct):
    id: int
    name: str
    color: str
    contact_count: int


# A row id in the range of the id columns (PostgreSQL SERIAL is 32-bit): larger numbers are
# refused with 400 instead of overflowing the driver.
RowId = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]


class TaggingIn(msgspec.Struct, forbid_unknown_fields=True):
    """Tag many contacts at once; missing tags are created."""

    contact_ids: list[RowId]
    tags: list[str]


class UntaggingIn(msgspec.Struct, forbid_unknown_fields=True):
    contact_ids: list[RowId]
    tag: str


class TaggingOut(msgspec.Struct):
    changed: Annotated[int, msgspec.Meta(description="Contacts whose tags changed")]


# --------------------------------------------------------------------------- custom fields


class CustomFieldIn(msgspec.Struct, forbid_unknown_fields=True):
    entity: Entity
    key: Annotated[str, msgspec.Meta(description="a-z, 0-9 and _, starting with a letter")]
    field_type: FieldType
    label: str = ""
    required: bool = False
    choices: list[str] = msgspec.field(default_factory=list)


class CustomFieldPatch(msgspec.Struct, forbid_unknown_fields=True):
    label: str | Unset = UNSET
    required: bool | Unset = UNSET
    choices: list[str] | Unset = UNSET
    position: int | Unset = UNSET


class CustomFieldOut(msgspec.Struct):
    id: int
    entity: Entity
    key: str
    label: str
    field_type: FieldType
    required: bool
    choices: list[str]
    position: int
