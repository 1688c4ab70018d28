"""Roles, permissions, the per-route and app-wide guards, record scope, field-level access."""

from __future__ import annotations

import json
from typing import Any

import pytest
from auth_support import make_user, token_client
from litestar import post

from crmcore.auth.guards import is_read_only
from crmcore.auth.scope import ensure_sees_record, scope_condition, sees_record
from crmcore.errors import NotFound
from crmcore.hookspecs import hookimpl
from crmcore.permissions import Permission
from crmcore.services.actor import Actor
from crmcore.services.roles import create_role, list_roles
from crmcore.services.users import update_user
from crmcore.tables import Contact


class SecretsPlugin:
    """A plugin that restricts a field of the core's user table and has a write route
    that declares no permission of its own."""

    @hookimpl
    def register_permissions(self) -> list[Any]:
        return [
            Permission("secrets.read", "See the secrets area"),
            Permission(
                "secrets.view_timezone",
                "See where people live",
                restricts=(("crm_user", "timezone"),),
            ),
            Permission(
                "secrets.view_title",
                "See contacts' job titles",
                restricts=(("contact", "title"),),
            ),
        ]

    @hookimpl
    def register_api_routes(self) -> list[Any]:
        @post("/notes", sync_to_thread=False)
        def add_note() -> dict[str, str]:
            return {"stored": "yes"}

        return [add_note]


@pytest.fixture
def secrets_plugin(register_test_plugin):
    register_test_plugin(SecretsPlugin(), "secrets")


async def test_builtin_roles_are_seeded(crm_db):
    roles = {role["name"]: role for role in await list_roles()}
    assert list(roles) == ["admin", "manager", "agent", "viewer"]
    assert all(role["builtin"] for role in roles.values())
    assert roles["admin"]["permissions"] == ["*"]
    assert roles["agent"]["record_scope"] == "own"
    assert roles["manager"]["record_scope"] == "all"


@pytest.mark.crm_plugins("secrets")
async def test_viewer_gets_every_read_permission_but_no_restricted_one(secrets_plugin, crm_app):
    viewer = await make_user("viewer")
    async with await token_client(crm_app, viewer) as client:
        permissions = (await client.get("/api/v1/me")).json()["permissions"]
    assert "contacts.read" in permissions
    assert "secrets.read" in permissions  # a plugin's read permission, via *.read
    assert "secrets.view_timezone" not in permissions
    assert all(name.endswith(".read") for name in permissions)


async def test_missing_permission_answers_403_naming_it(crm_app):
    agent = await make_user("agent")
    async with await token_client(crm_app, agent) as client:
        response = await client.get("/api/v1/users")
    assert response.status_code == 403
    assert response.json()["permission"] == "users.manage"


async def test_unknown_permission_in_a_role_is_a_clear_error(crm_client):
    response = await crm_client.post(
        "/api/v1/roles", json={"name": "pilot", "permissions": ["contacts.read", "contacts.fly"]}
    )
    assert response.status_code == 422
    assert "contacts.fly" in response.json()["errors"]["permissions"]
    assert "contacts.read" not in response.json()["errors"]["permissions"]


@pytest.mark.crm_plugins("secrets")
async def test_admin_creates_a_role_and_its_users_get_exactly_its_permissions(
    secrets_plugin, crm_app, crm_client
):
    role = await crm_client.post(
        "/api/v1/roles",
        json={
            "name": "auditor",
            "permissions": ["audit.read", "contacts.read", "secrets.view_timezone"],
            "record_scope": "own",
        },
    )
    assert role.status_code == 201, role.text
    user = await crm_client.post(
        "/api/v1/users",
        json={"email": "aud@example.com", "password": "long password 1", "role": "auditor"},
    )
    assert user.status_code == 201, user.text
    from crmcore.services.tokens import create_token

    token = await create_token(user_id=user.json()["id"])
    me = await crm_client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["permissions"] == ["audit.read", "contacts.read", "secrets.view_timezone"]
    assert me.json()["record_scope"] == "own"
    listed = await crm_client.get("/api/v1/roles")
    assert "auditor" in [r["name"] for r in listed.json()]


async def test_builtin_roles_cannot_be_changed(crm_client):
    response = await crm_client.patch("/api/v1/roles/viewer", json={"permissions": ["*"]})
    assert response.status_code == 422
    assert "built-in" in response.json()["detail"]


@pytest.mark.crm_plugins("secrets")
async def test_write_route_without_declared_permission_refuses_read_only_roles(
    secrets_plugin, crm_app
):
    viewer = await make_user("viewer")
    agent = await make_user("agent")
    async with await token_client(crm_app, viewer) as client:
        refused = await client.post("/api/v1/secrets/notes")
    async with await token_client(crm_app, agent) as client:
        allowed = await client.post("/api/v1/secrets/notes")
    assert refused.status_code == 403
    assert "read-only" in refused.json()["detail"]
    assert allowed.status_code == 201


@pytest.mark.crm_plugins("secrets")
async def test_restricted_field_is_absent_from_api_json_and_masked_in_audit(
    secrets_plugin, crm_app, crm_client
):
    await create_role(name="people", permissions=["users.manage", "audit.read"])
    reader = await make_user("people", "hr@example.com")
    person = await make_user("agent", "ana@example.com")
    await update_user(person["id"], timezone="Asia/Tehran")

    async with await token_client(crm_app, reader) as client:
        shown = await client.get(f"/api/v1/users/{person['id']}")
        listed = await client.get("/api/v1/users")
        audit = await client.get(f"/api/v1/audit?table=crm_user&record={person['id']}")
    assert shown.status_code == 200
    assert "timezone" not in shown.json()
    assert "Asia/Tehran" not in listed.text
    assert all("timezone" not in row for row in listed.json())
    update = next(e for e in audit.json() if e["action"] == "update")
    assert update["changes"]["timezone"] == ["***", "***"]
    assert "Asia/Tehran" not in audit.text

    admin_view = await crm_client.get(f"/api/v1/users/{person['id']}")
    assert admin_view.json()["timezone"] == "Asia/Tehran"
    admin_audit = await crm_client.get(f"/api/v1/audit?table=crm_user&record={person['id']}")
    update = next(e for e in admin_audit.json() if e["action"] == "update")
    assert update["changes"]["timezone"] == ["UTC", "Asia/Tehran"]


def test_read_only_means_only_read_like_permissions():
    def actor(*permissions: str) -> Actor:
        return Actor(user_id=1, label="x", permissions=frozenset(permissions))

    assert is_read_only(actor("contacts.read", "hr.view_compensation", "contacts.export"))
    assert not is_read_only(actor("contacts.read", "contacts.write"))
    assert not is_read_only(actor("*"))


async def test_record_scope_limits_agents_to_their_own_records(crm_db):
    ana = await make_user("agent", "ana@example.com")
    bob = await make_user("agent", "bob@example.com")
    await Contact.insert(
        Contact(last_name="Ana's", owner=ana["id"]),
        Contact(last_name="Bob's", owner=bob["id"]),
        Contact(last_name="Nobody's", owner=None),
    )
    agent = Actor(user_id=ana["id"], label="ana", record_scope="own")
    manager = Actor(user_id=bob["id"], label="bob", record_scope="all")

    condition = scope_condition(agent, Contact.owner)
    visible = await Contact.select(Contact.last_name).where(condition)
    assert [row["last_name"] for row in visible] == ["Ana's"]
    assert scope_condition(manager, Contact.owner) is None

    assert sees_record(agent, ana["id"])
    assert sees_record(agent, None, ana["id"])  # assigned, not owner
    assert not sees_record(agent, bob["id"], None)
    assert sees_record(manager, None)
    with pytest.raises(NotFound):
        ensure_sees_record(agent, "contact 2", bob["id"])


@pytest.mark.crm_plugins("secrets")
async def test_restricted_contact_field_is_absent_from_contacts_api_and_masked_in_audit(
    secrets_plugin, crm_app, crm_client
):
    from crmcore.services.actor import SYSTEM
    from crmcore.services.contacts import create_contact, update_contact

    manager = await make_user("manager")
    contact = await create_contact({"first_name": "Reza", "title": "Chief Secret Officer"}, SYSTEM)
    await update_contact(contact["id"], {"title": "Head of Secrets"}, SYSTEM)

    async with await token_client(crm_app, manager) as client:
        shown = await client.get(f"/api/v1/contacts/{contact['id']}")
        listed = await client.get("/api/v1/contacts")
        audit = await client.get(f"/api/v1/audit?table=contact&record={contact['id']}")
    assert shown.status_code == 200
    assert "title" not in shown.json()
    assert "Secret" not in listed.text
    assert audit.status_code == 200
    assert "Secret" not in audit.text
    update = next(e for e in audit.json() if e["action"] == "update")
    assert update["changes"]["title"] == ["***", "***"]

    admin_view = await crm_client.get(f"/api/v1/contacts/{contact['id']}")
    assert admin_view.json()["title"] == "Head of Secrets"


@pytest.mark.crm_plugins("secrets")
async def test_restricted_contact_field_stays_out_of_pages_and_exports(
    secrets_plugin, crm_app, crm_client
):
    from crmcore.services.actor import SYSTEM
    from crmcore.services.contacts import create_contact

    manager = await make_user("manager")
    contact = await create_contact({"first_name": "Reza", "title": "Chief Secret Officer"}, SYSTEM)
    async with await token_client(crm_app, manager) as client:
        responses = [
            await client.get(f"/contacts/{contact['id']}"),
            await client.get(f"/contacts/{contact['id']}/edit"),
            await client.get("/contacts"),
            await client.get("/search", params={"q": "Reza"}),
            await client.get("/api/v1/exports/contacts", params={"format": "csv"}),
            await client.get("/api/v1/exports/contacts", params={"format": "jsonl"}),
        ]
    for response in responses:
        assert response.status_code == 200, (response.request.url, response.text[:200])
        assert "Reza" in response.text, response.request.url  # the contact itself is there
        assert "Secret" not in response.text, response.request.url
    exported = await crm_client.get("/api/v1/exports/contacts", params={"format": "csv"})
    assert "Chief Secret Officer" in exported.text  # the admin's export has the column


@pytest.mark.crm_plugins("secrets")
async def test_search_by_a_restricted_value_finds_nothing_without_the_permission(
    secrets_plugin, crm_app, crm_client
):
    from crmcore.services.actor import SYSTEM
    from crmcore.services.contacts import create_contact

    manager = await make_user("manager")
    await create_contact({"first_name": "Reza", "title": "Chief Secret Officer"}, SYSTEM)
    # The admin, who may see titles, finds the contact by it: the search really looks.
    assert "Reza" in (await crm_client.get("/api/v1/contacts", params={"q": "Secret"})).text
    async with await token_client(crm_app, manager) as client:
        by_value = [
            await client.get("/api/v1/contacts", params={"q": "Secret"}),
            await client.get("/contacts", params={"q": "Secret"}),
            await client.get("/search", params={"q": "Secret"}),
            await client.get("/api/v1/exports/contacts", params={"q": "Secret"}),
        ]
    for response in by_value:
        assert response.status_code == 200, (response.request.url, response.text[:200])
        assert "Reza" not in response.text, f"{response.request.url} found it by the title"


async def _pages(client: Any, url: str, **params: Any) -> list[list[int]]:
    """Every page of a contacts list, following the cursor to the end."""
    pages: list[list[int]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=query)
        assert response.status_code == 200, response.text
        pages.append([item["id"] for item in response.json()["items"]])
        cursor = response.json()["next"]
        if cursor is None:
            return pages


@pytest.mark.crm_plugins("secrets")
async def test_search_without_the_permission_counts_only_visible_fields_page_by_page(
    secrets_plugin, crm_app, crm_client, monkeypatch
):
    from crmcore.services import contacts
    from crmcore.services.actor import SYSTEM
    from crmcore.services.contacts import create_contact

    manager = await make_user("manager")
    visible, hidden_only = [], []
    for n in range(14):
        # Interleaved, so every batch of candidates holds both kinds.
        shown = await create_contact({"first_name": f"Ana{n}", "last_name": "Falcon"}, SYSTEM)
        secret = await create_contact(
            {"first_name": f"Bob{n}", "title": "Falcon Programme Lead"}, SYSTEM
        )
        visible.append(shown["id"])
        hidden_only.append(secret["id"])
    both = await create_contact(
        {"first_name": "Cyrus", "last_name": "Falconer", "title": "Falcon Auditor"}, SYSTEM
    )
    visible.append(both["id"])
    expected = sorted(visible, reverse=True)

    admin_pages = await _pages(crm_client, "/api/v1/contacts", q="falcon", limit=4)
    assert sorted(i for page in admin_pages for i in page) == sorted(visible + hidden_only)
    async with await token_client(crm_app, manager) as client:
        pages = await _pages(client, "/api/v1/contacts", q="falcon", limit=4)
        assert [i for page in pages for i in page] == expected
        assert all(len(page) == 4 for page in pages[:-1])
        # A visible word still has to be there: the hidden title does not complete a query.
        combined = await client.get("/api/v1/contacts", params={"q": "Ana3 programme"})
        assert combined.json()["items"] == []
        assert [
            c["id"]
            for c in (await client.get("/api/v1/contacts", params={"q": "Ana3 falcon"})).json()[
                "items"
            ]
        ] == [visible[3]]
        exported = await client.get(
            "/api/v1/exports/contacts", params={"q": "falcon", "format": "jsonl"}
        )
        assert sorted(json.loads(line)["id"] for line in exported.text.splitlines()) == sorted(
            visible
        )

        # However few candidates one request may read, paging still returns each visible
        # match once: short pages carry a cursor past the candidates they read.
        monkeypatch.setattr(contacts, "MAX_CANDIDATES_PER_PAGE", 3)
        bounded = await _pages(client, "/api/v1/contacts", q="falcon", limit=4)
        assert [i for page in bounded for i in page] == expected
        assert any(len(page) < 4 for page in bounded[:-1])


class WhereaboutsPlugin:
    """A plugin that hides where contacts live, how they are tagged, where they work and
    companies' domains from readers without its permission."""

    @hookimpl
    def register_permissions(self) -> list[Any]:
        return [
            Permission(
                "whereabouts.view",
                "See contacts' city, tags and company, and companies' domains",
                restricts=(
                    ("contact", "city"),
                    ("contact", "tags"),
                    ("contact", "company"),
                    ("company", "domain"),
                ),
            )
        ]


@pytest.fixture
def whereabouts_plugin(register_test_plugin):
    register_test_plugin(WhereaboutsPlugin(), "whereabouts")


@pytest.fixture
async def whereabouts(whereabouts_plugin, crm_app) -> dict[str, Any]:
    """Reza (Yazd, tagged vip, at Kavir Steel), a manager who may not see where he is and a
    "locator" who may."""
    from crmcore.services.actor import SYSTEM
    from crmcore.services.contacts import create_contact

    contact = await create_contact(
        {
            "first_name": "Reza",
            "city": "Yazd",
            "tags": ["vip"],
            "company": "Kavir Steel",
            "stage": "customer",
        },
        SYSTEM,
    )
    await create_contact({"first_name": "Sara", "city": "Tabriz", "stage": "lead"}, SYSTEM)
    await create_role(
        name="locator", permissions=["contacts.read", "contacts.export", "whereabouts.view"]
    )
    return {
        "contact": contact,
        "manager": await make_user("manager", "manager@example.com"),
        "locator": await make_user("locator", "locator@example.com"),
    }


# Filters on Reza's hidden fields, each naming the filter the refusal must name.
HIDDEN_FIELD_FILTERS = [
    ({"tag": "vip"}, "tag"),
    ({"company": "Kavir Steel"}, "company"),
    ({"filters": json.dumps({"filter": "city", "value": "Yazd"})}, "city"),
    (
        {
            "filters": json.dumps(
                {"and": [{"filter": "stage", "value": "customer"},
                         {"not": {"filter": "tag", "value": "nobody"}}]}
            )
        },
        "tag",
    ),
]  # fmt: skip


@pytest.mark.crm_plugins("whereabouts")
async def test_filter_on_a_restricted_field_is_refused_naming_it(whereabouts, crm_app):
    async with await token_client(crm_app, whereabouts["manager"]) as client:
        for params, name in HIDDEN_FIELD_FILTERS:
            response = await client.get("/api/v1/contacts", params=params)
            assert response.status_code == 403, (params, response.text)
            body = response.json()
            assert body["permission"] == "whereabouts.view"
            assert list(body["errors"]) == [name]
            assert f"filter {name!r}" in body["detail"]
            assert "Reza" not in response.text
        # A filter on a field the manager may read answers as ever.
        shown = await client.get("/api/v1/contacts", params={"stage": "customer"})
        assert [c["first_name"] for c in shown.json()["items"]] == ["Reza"]
        assert "city" not in shown.json()["items"][0]


@pytest.mark.crm_plugins("whereabouts")
async def test_reader_allowed_to_see_the_field_filters_by_it_as_before(whereabouts, crm_app):
    company_id = whereabouts["contact"]["company_id"]
    async with await token_client(crm_app, whereabouts["locator"]) as client:
        for params, _name in [*HIDDEN_FIELD_FILTERS, ({"company": str(company_id)}, "company")]:
            response = await client.get("/api/v1/contacts", params=params)
            assert response.status_code == 200, (params, response.text)
            assert [c["first_name"] for c in response.json()["items"]] == ["Reza"], params
        missed = await client.get(
            "/api/v1/contacts",
            params={"filters": json.dumps({"filter": "city", "value": "Shiraz"})},
        )
        assert missed.json()["items"] == []
        exported = await client.get(
            "/api/v1/exports/contacts", params={"tag": "vip", "format": "jsonl"}
        )
        assert exported.status_code == 200
        assert [json.loads(line)["first_name"] for line in exported.text.splitlines()] == ["Reza"]
        page = await client.get("/contacts", params={"tag": "vip"})
        assert page.status_code == 200
        assert "Reza" in page.text and "Sara" not in page.text


@pytest.mark.crm_plugins("whereabouts")
async def test_contacts_page_explains_a_refused_filter(whereabouts, crm_app):
    async with await token_client(crm_app, whereabouts["manager"]) as client:
        page = await client.get("/contacts", params={"tag": "vip"})
        rows = await client.get("/contacts", params={"tag": "vip"}, headers={"HX-Request": "true"})
        company = await client.get(f"/companies/{whereabouts['contact']['company_id']}")
    assert page.status_code == 403
    assert "You may not filter by “tag”" in page.text
    assert "whereabouts.view" in page.text
    assert 'id="contact-filters"' in page.text  # the list and its filters stay
    assert "Reza" not in page.text
    # htmx swaps in only successful answers: the rows carry the message.
    assert rows.status_code == 200
    assert "You may not filter by “tag”" in rows.text and "Reza" not in rows.text
    # The company page does not list who works there to a reader who may not see it.
    assert company.status_code == 200
    assert "Kavir Steel" in company.text
    assert "Your role cannot see which contacts work here." in company.text
    assert "Reza" not in company.text


@pytest.mark.crm_plugins("whereabouts")
async def test_export_filtered_by_a_restricted_field_is_refused(whereabouts, crm_app):
    company_id = whereabouts["contact"]["company_id"]
    async with await token_client(crm_app, whereabouts["locator"]) as locator:
        allowed = await locator.get(
            "/api/v1/exports/contacts", params={"company": company_id, "format": "jsonl"}
        )
    assert [json.loads(line)["first_name"] for line in allowed.text.splitlines()] == ["Reza"]
    await create_role(name="exporter", permissions=["contacts.read", "contacts.export"])
    exporter = await make_user("exporter", "exporter@example.com")
    async with await token_client(crm_app, exporter) as client:
        for params, name in [({"tag": "vip"}, "tag"), ({"company": company_id}, "company")]:
            response = await client.get(
                "/api/v1/exports/contacts", params={**params, "format": "csv"}
            )
            assert response.status_code == 403, (params, response.text)
            assert list(response.json()["errors"]) == [name]
            assert response.json()["permission"] == "whereabouts.view"
            assert "Reza" not in response.text
        fine = await client.get("/api/v1/exports/contacts", params={"stage": "customer"})
    assert fine.status_code == 200
    assert "Reza" in fine.text and "Yazd" not in fine.text


@pytest.mark.crm_plugins("whereabouts")
async def test_company_search_matches_only_the_fields_the_reader_may_see(whereabouts, crm_app):
    from crmcore.services.actor import SYSTEM
    from crmcore.services.companies import update_company

    await update_company(
        whereabouts["contact"]["company_id"], {"domain": "hidden-steel.example"}, SYSTEM
    )
    async with await token_client(crm_app, whereabouts["manager"]) as client:
        by_domain = await client.get("/api/v1/companies", params={"q": "hidden-steel"})
        by_name = await client.get("/api/v1/companies", params={"q": "kavir"})
        page = await client.get("/companies", params={"q": "hidden-steel"})
    assert by_domain.json()["items"] == []
    assert [c["name"] for c in by_name.json()["items"]] == ["Kavir Steel"]
    assert "Kavir Steel" not in page.text
    async with await token_client(crm_app, whereabouts["locator"]) as client:
        allowed = await client.get("/api/v1/companies", params={"q": "hidden-steel"})
    assert [c["name"] for c in allowed.json()["items"]] == ["Kavir Steel"]
