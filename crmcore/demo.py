"""Demo data: a realistic, seeded instance so every page and report has something to show.

Half of the people are Iranian (Persian names from Faker's ``fa_IR`` locale, mobile numbers
such as +98 912…, real Iranian cities, purchases in IRR), half American (``en_US``, US
numbers and cities, purchases in USD). Companies, owners, tags and custom fields come
first; then two years of interactions on every channel, and tasks around today, some
overdue, some upcoming, some done.

Speed comes from the bulk paths: contacts go through
:func:`crmcore.services.contacts_bulk.bulk_insert_contacts` (the same rules as
``create_contact``, written with ``executemany``/``COPY``, search text included), and the
companies and interactions written here use the same technique on the transaction's own
connection. Everything after the demo users is one transaction: a failure leaves nothing
half-written. Per-record plugin hooks are not called (one bulk event describes each batch);
after the commit, plugins get every new id at once through ``demo_data_created``.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from faker import Faker

from crmcore.errors import Conflict, NotFound
from crmcore.services.actor import SYSTEM, Actor
from crmcore.services.outbox import emit_event
from crmcore.services.records import engine_type, fetch, plugin_manager
from crmcore.services.transaction import write_transaction

__all__ = ["DemoRefused", "DemoReport", "generate_demo"]

HISTORY = timedelta(days=730)
Progress = Callable[[str], None]

# Real places, so maps and geocoding have something true to show.
IR_CITIES = (
    ("تهران", "تهران"), ("مشهد", "خراسان رضوی"), ("اصفهان", "اصفهان"), ("شیراز", "فارس"),
    ("تبریز", "آذربایجان شرقی"), ("کرج", "البرز"), ("اهواز", "خوزستان"), ("قم", "قم"),
    ("کرمانشاه", "کرمانشاه"), ("ارومیه", "آذربایجان غربی"), ("رشت", "گیلان"),
    ("زاهدان", "سیستان و بلوچستان"), ("کرمان", "کرمان"), ("همدان", "همدان"), ("یزد", "یزد"),
    ("اردبیل", "اردبیل"), ("بندرعباس", "هرمزگان"), ("اراک", "مرکزی"), ("زنجان", "زنجان"),
    ("سنندج", "کردستان"), ("قزوین", "قزوین"), ("گرگان", "گلستان"), ("ساری", "مازندران"),
    ("کاشان", "اصفهان"), ("بوشهر", "بوشهر"), ("بیرجند", "خراسان جنوبی"), ("سمنان", "سمنان"),
)  # fmt: skip
US_CITIES = (
    ("New York", "NY", "212"), ("Los Angeles", "CA", "213"), ("Chicago", "IL", "312"),
    ("Houston", "TX", "713"), ("Phoenix", "AZ", "602"), ("Philadelphia", "PA", "215"),
    ("San Antonio", "TX", "210"), ("San Diego", "CA", "619"), ("Dallas", "TX", "214"),
    ("Austin", "TX", "512"), ("Seattle", "WA", "206"), ("Denver", "CO", "303"),
    ("Boston", "MA", "617"), ("Portland", "OR", "503"), ("Atlanta", "GA", "404"),
    ("Miami", "FL", "305"), ("Minneapolis", "MN", "612"), ("San Francisco", "CA", "415"),
)  # fmt: skip
IR_MOBILE_PREFIXES = "912 919 935 936 937 938 939 901 902 910 911 913 914 915 917 990".split()
INDUSTRIES = ("Retail", "Manufacturing", "Software", "Logistics", "Food & beverage",
              "Construction", "Healthcare", "Education", "Tourism", "Textiles")  # fmt: skip
SIZES = ("1-10", "11-50", "51-200", "201-1000", "1000+")
SOURCES = ("web", "referral", "event", "import", "social", "cold call")
STAGE_WEIGHTS = (("lead", 35), ("prospect", 25), ("customer", 30), ("churned", 10))
STAGE_PATHS = {
    "lead": ("lead",),
    "prospect": ("lead", "prospect"),
    "customer": ("lead", "prospect", "customer"),
    "churned": ("lead", "prospect", "customer", "churned"),
}
TAGS = ("VIP", "Newsletter", "Partner", "Wholesale", "Trade show", "B2B", "مشتری وفادار",
        "عمده‌فروش")  # fmt: skip
CUSTOM_FIELDS = (
    ("contact", "loyalty_tier", "Loyalty tier", "choice", ["bronze", "silver", "gold"]),
    ("contact", "newsletter_opt_in", "Newsletter opt-in", "bool", None),
    ("contact", "customer_since", "Customer since", "date", None),
    ("company", "employees", "Employees", "number", None),
)
DEMO_USERS = (
    ("سارا احمدی", "sara.ahmadi", "agent", "fa", "Asia/Tehran"),
    ("رضا کریمی", "reza.karimi", "agent", "fa", "Asia/Tehran"),
    ("Emily Carter", "emily.carter", "agent", "en", "America/New_York"),
    ("James Walker", "james.walker", "manager", "en", "America/Chicago"),
)
CHANNEL_WEIGHTS = (
    ("email", 24), ("phone", 20), ("sms", 7), ("web", 9), ("social", 5),
    ("meeting", 8), ("chat", 6), ("note", 8), ("purchase", 8), ("support", 5),
)  # fmt: skip
SUBJECTS = {
    "email": (("Quote sent", "ارسال پیش‌فاکتور"), ("Re: delivery schedule", "پاسخ: زمان تحویل"),
              ("Welcome aboard", "خوش آمدید"), ("Invoice question", "سؤال درباره فاکتور")),
    "phone": (("Follow-up call", "تماس پیگیری"), ("Intro call", "تماس آشنایی"),
              ("Called about renewal", "تماس درباره تمدید")),
    "sms": (("Order shipped", "سفارش ارسال شد"), ("Appointment reminder", "یادآوری قرار")),
    "web": (("Filled in the contact form", "پر کردن فرم تماس"),
            ("Downloaded the catalogue", "دریافت کاتالوگ")),
    "social": (("Asked about prices on Instagram", "پرسش قیمت در اینستاگرام"),
               ("Mentioned us on LinkedIn", "اشاره به ما در لینکدین")),
    "meeting": (("Product demo", "جلسه معرفی محصول"), ("Quarterly review", "جلسه بررسی فصلی"),
                ("Site visit", "بازدید از محل")),
    "chat": (("Website chat: shipping costs", "گفتگوی سایت: هزینه ارسال"),
             ("Chat: discount code", "گفتگو: کد تخفیف")),
    "note": (("Prefers calls in the morning", "ترجیح می‌دهد صبح تماس بگیریم"),
             ("Budget approved for next quarter", "بودجه فصل بعد تأیید شد"),
             ("Interested in the premium plan", "به طرح ویژه علاقه دارد")),
    "purchase": (("Order", "سفارش"),),
    "support": (("Support: login problem", "پشتیبانی: مشکل ورود"),
                ("Support: damaged item", "پشتیبانی: کالای آسیب‌دیده"),
                ("Support: return request", "پشتیبانی: درخواست مرجوعی")),
}  # fmt: skip
TASK_SUBJECTS = (("Call back about the quote", "تماس برای پیگیری پیش‌فاکتور", "phone"),
                 ("Send the contract", "ارسال قرارداد", "email"),
                 ("Meeting to review the order", "جلسه بررسی سفارش", "meeting"),
                 ("Check in after delivery", "پیگیری پس از تحویل", "phone"))  # fmt: skip
DIRECTIONS = {"note": "internal", "web": "inbound", "purchase": "inbound", "support": "inbound"}
INTERACTION_COLUMNS = (
    "id", "contact", "company", "channel", "direction", "occurred_at", "subject", "body",
    "value", "currency", "source", "external_id", "author", "meta", "status", "due_at",
    "assignee", "completed_at", "completed_by", "created_at",
)  # fmt: skip
COMPANY_COLUMNS = (
    "id", "name", "domain", "industry", "size", "street", "city", "region", "postal_code",
    "country", "owner", "custom", "created_at", "updated_at",
)  # fmt: skip


class DemoRefused(Conflict):
    """The instance already holds data and ``force`` was not given."""


@dataclass
class DemoReport:
    contacts: int = 0
    companies: int = 0
    interactions: int = 0
    tasks: int = 0
    tags: int = 0
    custom_fields: int = 0
    users: list[str] = field(default_factory=list)
    password: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Person:
    """One generated contact and what its interactions need to know about it."""

    persian: bool
    created_at: datetime
    stage: str
    owner_id: int | None
    company_id: int | None
    row: dict[str, Any]
    id: int = 0


class _Pools:
    """Values drawn from one Faker locale up front: picking from a pool costs a fraction of
    a Faker call, which matters for thousands of contacts, and the seed still decides all."""

    SIZES = {"first_name": 300, "last_name": 300, "job": 150, "street_address": 150,
             "postcode": 100, "user_name": 200, "sentence": 200}  # fmt: skip

    def __init__(self, faker: Faker, seed: int, rng: random.Random) -> None:
        faker.seed_instance(seed)
        self.faker, self.rng = faker, rng
        self.values = {
            name: [getattr(faker, name)() for _ in range(size)] for name, size in self.SIZES.items()
        }

    def pick(self, name: str) -> str:
        return self.rng.choice(self.values[name])


class _Generator:
    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.fa = _Pools(Faker("fa_IR"), seed, self.rng)
        self.en = _Pools(Faker("en_US"), seed + 1, self.rng)
        # Order numbers must be unique across runs (a --force run adds to an earlier one,
        # possibly within the same second), so the run tag is random, not a timestamp.
        self.run = f"{seed}-{secrets.token_hex(4)}"
        self.orders = 0

    def pick(self, weighted: tuple[tuple[str, int], ...]) -> str:
        names, weights = zip(*weighted, strict=True)
        return self.rng.choices(names, weights)[0]

    def moment_since(self, start: datetime) -> datetime:
        span = max((self.now - start).total_seconds(), 60.0)
        return start + timedelta(seconds=self.rng.uniform(0, span))

    def ir_mobile(self) -> str:
        return f"+98{self.rng.choice(IR_MOBILE_PREFIXES)}{self.rng.randrange(10**7):07d}"

    def email(self, pools: _Pools, index: int) -> str:
        # Reserved example domains: demo data must never email a real person.
        domain = self.rng.choice(("example.com", "example.net", "example.org"))
        return f"{pools.pick('user_name')}{index}@{domain}"

    def us_phone(self, area: str) -> str:
        # Every exchange 201-989 is a valid number in these area codes (the bulk path checks).
        return f"+1{area}{self.rng.randint(201, 989)}{self.rng.randrange(10**4):04d}"

    def company(self, index: int, owners: list[int]) -> dict[str, Any]:
        persian = index % 2 == 0
        faker = self.fa if persian else self.en
        if persian:
            city, region = self.rng.choice(IR_CITIES)
            name, country, domain = faker.faker.company(), "IR", None
        else:
            city, region, _area = self.rng.choice(US_CITIES)
            name, country = faker.faker.company(), "US"
            slug = "-".join(re.findall(r"[a-z]+", name.lower())[:2])
            domain = f"{slug}{index}.example.com"
        return {
            "name": name,
            "domain": domain,
            "industry": self.rng.choice(INDUSTRIES),
            "size": self.rng.choice(SIZES),
            "street": faker.pick("street_address")[:300],
            "city": city,
            "region": region,
            "postal_code": faker.pick("postcode"),
            "country": country,
            "owner": self.rng.choice(owners) if owners else None,
            "custom": {"employees": self.rng.choice((4, 12, 35, 80, 240, 1200))},
            "persian": persian,
        }

    def person(self, index: int, owners: list[int], companies: list[dict[str, Any]]) -> _Person:
        persian = index % 2 == 0
        faker = self.fa if persian else self.en
        first, last = faker.pick("first_name"), faker.pick("last_name")
        if persian:
            city, region = self.rng.choice(IR_CITIES)
            phone, country, language = self.ir_mobile(), "IR", "fa"
        else:
            city, region, area = self.rng.choice(US_CITIES)
            phone, country, language = self.us_phone(area), "US", "en"
        stage = self.pick(STAGE_WEIGHTS)
        created = self.now - timedelta(seconds=self.rng.uniform(0, HISTORY.total_seconds()))
        same_side = [c for c in companies if c["persian"] == persian]
        company = self.rng.choice(same_side) if same_side and self.rng.random() < 0.7 else None
        owner = self.rng.choice(owners) if owners else None
        custom: dict[str, Any] = {"newsletter_opt_in": self.rng.random() < 0.4}
        if stage in ("customer", "churned"):
            custom["loyalty_tier"] = self.rng.choice(("bronze", "silver", "gold"))
            custom["customer_since"] = (created + timedelta(days=30)).date().isoformat()
        row: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "title": faker.pick("job")[:150],
            "email": self.email(faker, index) if self.rng.random() < 0.95 else None,
            "phone": phone if self.rng.random() < 0.9 else None,
            "company_id": company["id"] if company else None,
            "street": faker.pick("street_address")[:300],
            "city": city,
            "region": region,
            "postal_code": faker.pick("postcode"),
            "country": country,
            "stage": stage,
            "source": self.rng.choice(SOURCES),
            "owner_id": owner,
            "language": language,
            "tags": self.rng.sample(TAGS, self.rng.choice((0, 0, 1, 1, 2))),
            "custom": custom,
        }
        if self.rng.random() < 0.4:
            row["birthday"] = date(self.rng.randint(1960, 2004), self.rng.randint(1, 12), 15)
        return _Person(persian, created, stage, owner, row["company_id"], row)

    def interactions(self, person: _Person) -> list[dict[str, Any]]:
        count = self.rng.choice((1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14))
        items = []
        for _ in range(count):
            channel = self.pick(CHANNEL_WEIGHTS)
            if channel == "purchase" and person.stage == "lead":
                channel = "web"
            english, persian = self.rng.choice(SUBJECTS[channel])
            subject = persian if person.persian else english
            item: dict[str, Any] = {
                "channel": channel,
                "direction": DIRECTIONS.get(channel)
                or self.rng.choice(("inbound", "outbound", "outbound")),
                "occurred_at": self.moment_since(person.created_at),
                "subject": subject,
                "body": (self.fa if person.persian else self.en).pick("sentence")
                if self.rng.random() < 0.6
                else "",
                "value": None,
                "currency": "",
                "source": "",
                "external_id": None,
            }
            if channel == "purchase":
                self.orders += 1
                if person.persian:
                    item["value"] = Decimal(self.rng.randint(50, 5000) * 100_000)
                    item["currency"] = "IRR"
                else:
                    item["value"] = Decimal(self.rng.randint(1900, 250_000)) / 100
                    item["currency"] = "USD"
                item["subject"] = f"{subject} #{1000 + self.orders}"
                item["source"] = "shop"
                item["external_id"] = f"demo-{self.run}-{self.orders}"
            items.append(item)
        return items

    def task(self, person: _Person, owners: list[int]) -> dict[str, Any]:
        english, persian, channel = self.rng.choice(TASK_SUBJECTS)
        due = self.now + timedelta(hours=self.rng.uniform(-20 * 24, 30 * 24))
        due = due.replace(minute=0, second=0, microsecond=0)
        assignee = person.owner_id or self.rng.choice(owners)
        roll = self.rng.random()
        if due < self.now:
            status = "done" if roll < 0.6 else ("planned" if roll < 0.9 else "cancelled")
        else:
            status = "planned" if roll < 0.95 else "cancelled"
        done_at = due + timedelta(hours=self.rng.uniform(0, 30)) if status == "done" else None
        if done_at is not None and done_at > self.now:
            done_at = self.now
        return {
            "channel": channel,
            "direction": "outbound",
            "occurred_at": done_at or due,
            "subject": persian if person.persian else english,
            "body": "",
            "value": None,
            "currency": "",
            "source": "",
            "external_id": None,
            "status": status,
            "due_at": due,
            "assignee": assignee,
            "completed_at": done_at,
            "completed_by": assignee if done_at else None,
        }


# --------------------------------------------------------------------------- writing


async def _reserve_ids(connection: Any, table: str, count: int) -> list[int]:
    """Ids for new rows, known before writing so other rows can refer to them."""
    if engine_type() == "sqlite":
        # Inside the IMMEDIATE write transaction nobody else writes: max(id)+1… are free.
        async with connection.execute(f"SELECT coalesce(max(id), 0) AS last FROM {table}") as cur:
            start = int((await cur.fetchone())["last"])
        return list(range(start + 1, start + 1 + count))
    rows = await connection.fetch(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id "
        "FROM generate_series(1, $1)",
        count,
    )
    return [row["id"] for row in rows]


async def _write_rows(
    connection: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    if not rows:
        return
    if engine_type() == "sqlite":
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        await connection.executemany(sql, rows)
    else:
        await connection.copy_records_to_table(table, records=rows, columns=list(columns))


async def _update_rows(
    connection: Any, sqlite_sql: str, postgres_sql: str, rows: list[tuple[Any, ...]]
) -> None:
    """Update many rows: ``executemany`` on SQLite; on PostgreSQL one statement joining
    ``unnest`` of one array per column (a round trip per row would dominate)."""
    if not rows:
        return
    if engine_type() == "sqlite":
        await connection.executemany(sqlite_sql, rows)
    else:
        columns = [list(column) for column in zip(*rows, strict=True)]
        await connection.execute(postgres_sql, *columns)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------- steps


async def _ensure_users(report: DemoReport) -> list[int]:
    """Demo owners through the users service; without it, whoever already exists owns."""
    try:
        from crmcore.services.users import create_user, get_user_by_email
    except ImportError:
        create_user = None  # type: ignore[assignment]
    if create_user is not None:
        password = secrets.token_urlsafe(12)
        for name, handle, role, language, timezone in DEMO_USERS:
            email = f"{handle}@demo.example.com"
            try:
                await get_user_by_email(email)
            except NotFound:
                await create_user(
                    email=email,
                    password=password,
                    role=role,
                    name=name,
                    language=language,
                    timezone=timezone,
                )
                report.users.append(email)
                report.password = password
    rows = await fetch("SELECT id FROM crm_user WHERE active = {} ORDER BY id", [True])
    return [row["id"] for row in rows]


async def _ensure_custom_fields(actor: Actor, report: DemoReport) -> None:
    from crmcore.services.custom_fields import define_field

    for entity, key, label, field_type, choices in CUSTOM_FIELDS:
        try:
            await define_field(entity, key, label, field_type, False, choices, actor=actor)
            report.custom_fields += 1
        except Conflict:
            continue


async def _insert_companies(
    connection: Any, gen: _Generator, count: int, owners: list[int]
) -> list[dict[str, Any]]:
    from crmcore.services.custom_fields import check_custom, list_fields

    definitions = {f["key"]: f for f in await list_fields("company")}
    companies = [gen.company(i, owners) for i in range(count)]
    ids = await _reserve_ids(connection, "company", count)
    rows = []
    for company_id, company in zip(ids, companies, strict=True):
        company["id"] = company_id
        custom = check_custom("company", definitions, company["custom"], False)
        created = gen.now - timedelta(seconds=gen.rng.uniform(0, HISTORY.total_seconds()))
        rows.append(
            (company_id, company["name"], company["domain"], company["industry"],
             company["size"], company["street"], company["city"], company["region"],
             company["postal_code"], company["country"], company["owner"], _json(custom),
             created, created)
        )  # fmt: skip
    await _write_rows(connection, "company", COMPANY_COLUMNS, rows)
    if ids:
        await emit_event("company.bulk_created", {"count": len(ids), "source": "demo"})
    return companies


async def _backdate_contacts(connection: Any, gen: _Generator, people: list[_Person]) -> None:
    """Spread contacts over two years and give each the stage history that led to its stage.

    The bulk path recorded one stage row per contact (entering its stage now); it becomes
    the last step of a dated history.
    """
    await _update_rows(
        connection,
        "UPDATE contact SET created_at = ?1, updated_at = ?1 WHERE id = ?2",
        "UPDATE contact AS c SET created_at = v.at, updated_at = v.at "
        "FROM unnest($1::timestamptz[], $2::int[]) AS v(at, id) WHERE c.id = v.id",
        [(p.created_at, p.id) for p in people],
    )
    earlier: list[tuple[Any, ...]] = []
    last_steps: list[tuple[Any, ...]] = []
    for person in people:
        path = STAGE_PATHS[person.stage]
        moments = sorted(gen.moment_since(person.created_at) for _ in path[1:])
        moments = [person.created_at, *moments]
        for step, stage in enumerate(path[:-1]):
            before = path[step - 1] if step else None
            earlier.append((person.id, before, stage, moments[step], person.owner_id))
        previous = path[-2] if len(path) > 1 else None
        last_steps.append((previous, moments[-1], person.id))
    await _update_rows(
        connection,
        "UPDATE stage_change SET from_stage = ?, changed_at = ? WHERE contact = ?",
        "UPDATE stage_change AS s SET from_stage = v.stage, changed_at = v.at "
        "FROM unnest($1::text[], $2::timestamptz[], $3::int[]) AS v(stage, at, contact) "
        "WHERE s.contact = v.contact",
        last_steps,
    )
    columns = ("contact", "from_stage", "to_stage", "changed_at", "changed_by")
    await _write_rows(connection, "stage_change", columns, earlier)


async def _insert_interactions(
    connection: Any, gen: _Generator, people: list[_Person], owners: list[int], report: DemoReport
) -> set[int]:
    """Interactions and tasks for everyone; returns each noted contact's notes, newest first."""
    planned: list[tuple[_Person, dict[str, Any], bool]] = []
    for person in people:
        planned.extend((person, item, False) for item in gen.interactions(person))
        if owners and gen.rng.random() < 0.25:
            planned.append((person, gen.task(person, owners), True))
    ids = await _reserve_ids(connection, "interaction", len(planned))
    rows: list[tuple[Any, ...]] = []
    notes: dict[int, list[tuple[datetime, int, str, str]]] = {}
    for interaction_id, (person, item, is_task) in zip(ids, planned, strict=True):
        author = person.owner_id
        rows.append(
            (interaction_id, person.id, person.company_id, item["channel"], item["direction"],
             item["occurred_at"], item["subject"], item["body"], item["value"],
             item["currency"], item["source"], item["external_id"], author, _json({}),
             item.get("status"), item.get("due_at"), item.get("assignee"),
             item.get("completed_at"), item.get("completed_by"),
             item.get("due_at") or item["occurred_at"])
        )  # fmt: skip
        report.tasks += is_task
        report.interactions += not is_task
        if item["channel"] == "note":
            notes.setdefault(person.id, []).append(
                (item["occurred_at"], interaction_id, item["subject"], item["body"])
            )
    await _write_rows(connection, "interaction", INTERACTION_COLUMNS, rows)
    if ids:
        await emit_event(
            "interaction.bulk_logged", {"count": len(ids), "first_id": ids[0], "source": "demo"}
        )
    return {contact_id: sorted(found, reverse=True) for contact_id, found in notes.items()}


async def _index_notes(
    connection: Any, notes: dict[int, list[tuple[datetime, int, str, str]]]
) -> None:
    """Make notes searchable with their contact, as ``refresh_search_text`` does after a note
    is logged by hand. The contact text builder puts the notes last, so appending the words
    of the newest notes (up to the same length) gives the text it would build."""
    from crmcore.services.search import MAX_NOTES_CHARS, search_words

    updates = []
    for contact_id, found in notes.items():
        text = ""
        for _at, _id, subject, body in found:
            if len(text) >= MAX_NOTES_CHARS:
                break
            text = f"{text} {subject} {body}"
        words = " ".join(search_words(text[:MAX_NOTES_CHARS]))
        if words:
            updates.append((f" {words}", contact_id))
    await _update_rows(
        connection,
        "UPDATE contact SET search_text = search_text || ? WHERE id = ?",
        "UPDATE contact AS c SET search_text = c.search_text || v.words "
        "FROM unnest($1::text[], $2::int[]) AS v(words, id) WHERE c.id = v.id",
        updates,
    )


async def _let_plugins_fill_in(
    contact_ids: list[int], company_ids: list[int], actor: Actor, say: Progress
) -> None:
    """The bulk writes skip the per-record hooks, so plugins get the new ids in one call
    (``demo_data_created``) to add their side of the demo: locations, scores, …"""
    pm = plugin_manager()
    if pm is None or not pm.hook.demo_data_created.get_hookimpls():
        return
    say("Adding the plugins' demo data…")
    await pm.fire(
        "demo_data_created", contact_ids=contact_ids, company_ids=company_ids, actor=actor
    )


async def generate_demo(
    contacts: int = 500,
    seed: int = 42,
    *,
    force: bool = False,
    actor: Actor = SYSTEM,
    progress: Progress | None = None,
) -> DemoReport:
    """Fill the open database with ``contacts`` demo contacts and everything around them.

    Refuses (DemoRefused, a 409) when the instance already holds contacts, unless
    ``force``: then the demo data is added next to what is there. The same ``seed`` gives
    the same people, companies and history (relative to today).
    """
    from crmcore.services.contacts_bulk import bulk_insert_contacts

    say = progress or (lambda _message: None)
    started = time.perf_counter()
    if contacts < 1:
        raise ValueError("contacts must be at least 1")
    existing = (await fetch("SELECT count(*) AS n FROM contact"))[0]["n"]
    if existing and not force:
        raise DemoRefused(
            f"this instance already holds {existing} contacts; `crm demo` fills an empty "
            "instance. Run it with --force to add demo data next to them anyway."
        )
    report = DemoReport()
    gen = _Generator(seed, datetime.now(UTC))
    say("Creating demo users, tags and custom fields…")
    owners = await _ensure_users(report)
    await _ensure_custom_fields(actor, report)
    async with write_transaction() as txn:
        connection = txn.connection
        say(f"Creating {max(contacts // 10, 1):,} companies…")
        companies = await _insert_companies(connection, gen, max(contacts // 10, 1), owners)
        report.companies = len(companies)
        say(f"Creating {contacts:,} contacts…")
        people = [gen.person(i, owners, companies) for i in range(contacts)]
        ids = await bulk_insert_contacts([p.row for p in people], actor)
        for person, contact_id in zip(people, ids, strict=True):
            person.id = contact_id
        report.contacts = len(ids)
        await _backdate_contacts(connection, gen, people)
        say("Logging two years of interactions and planning tasks…")
        notes = await _insert_interactions(connection, gen, people, owners, report)
        await _index_notes(connection, notes)
    await _let_plugins_fill_in(ids, [c["id"] for c in companies], actor, say)
    report.tags = len(TAGS)
    report.seconds = round(time.perf_counter() - started, 2)
    return report
