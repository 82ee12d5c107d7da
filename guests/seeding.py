"""Demo guests: international profiles, corporate accounts and travelling groups.

Called by ``manage.py seed`` after the hotel setup. Deterministic for a random seed (one
Faker per locale, seeded from the plan), and idempotent: rows are found by natural keys
(company name; guest e-mail and name; group name and arrival) and only missing ones are made.
A few likely duplicates are seeded on purpose, for the duplicate finder to find.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import dataclasses
import datetime
import itertools
import random
import unicodedata
from collections.abc import Callable, Iterator
from decimal import Decimal

import phonenumbers
from django.contrib.postgres.indexes import GinIndex
from django.db import connection, models, transaction
from django.db.models import Q
from faker import Faker
from psycopg import sql

from audit.context import send_context
from guests.models import Company, DocumentType, Guest, GuestGroup, GuestKind, GuestTitle
from stayos.models import Property, RatePlan
from stayos.roles import ACCOUNTING, AUDITOR, FRONT_DESK, MANAGER
from stayos.seeding import DEMO_PROPERTY_CODES, SeedPlan

# The staff roles' part of the guest pages (see stayos.roles). Merging, anonymizing and
# exporting a guest's personal data are a manager's decisions.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    FRONT_DESK: tuple(
        f"guests.{action}_{model}"
        for model in ("guest", "company", "guestgroup")
        for action in ("view", "add", "change")
    ),
    ACCOUNTING: ("guests.view_company", "guests.add_company", "guests.change_company"),
    AUDITOR: ("guests.view_*",),
    MANAGER: ("guests.*",),
}

GUESTS_PER_PROPERTY = 320
COMPANIES_PER_PROPERTY = 14
GROUPS_PER_PROPERTY = 8
DUPLICATES_PER_PROPERTY = 8


@dataclasses.dataclass(frozen=True)
class Origin:
    locale: str
    country: str
    language: str
    weight: int


# Where the guests of a Lisbon and an Edinburgh hotel come from, Latin-script names only.
ORIGINS = (
    Origin("pt_PT", "PT", "pt", 14),
    Origin("en_GB", "GB", "en", 16),
    Origin("de_DE", "DE", "de", 12),
    Origin("fr_FR", "FR", "fr", 12),
    Origin("es_ES", "ES", "es", 10),
    Origin("it_IT", "IT", "it", 8),
    Origin("nl_NL", "NL", "nl", 6),
    Origin("sv_SE", "SE", "sv", 4),
    Origin("pl_PL", "PL", "pl", 4),
    Origin("cs_CZ", "CZ", "cs", 3),
    Origin("en_US", "US", "en", 8),
    Origin("pt_BR", "BR", "pt", 3),
)

NOTES = (
    "Allergic to nuts.",
    "Gluten-free breakfast, please.",
    "Prefers a quiet room away from the lift.",
    "Travels with a small dog.",
    "Late arrival usual (after 23:00).",
    "Celebrating an anniversary in most stays.",
)

GROUP_THEMES = (
    "wedding party",
    "wine society tour",
    "football supporters",
    "choir tour",
    "medical congress delegation",
    "school trip",
    "cycling club",
    "film crew",
)


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(char for char in folded.lower() if char.isalnum())


def _phone(rng: random.Random, country: str) -> str:
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    national = str(example.national_number)
    for _ in range(20):
        # Keep the operator prefix of the example, vary the subscriber digits.
        tail = "".join(str(rng.randrange(10)) for _ in range(4))
        candidate = phonenumbers.PhoneNumber(
            country_code=example.country_code, national_number=int(national[:-4] + tail)
        )
        if phonenumbers.is_valid_number(candidate):
            return phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


class _Fakers:
    def __init__(self, plan: SeedPlan) -> None:
        self.by_locale = {}
        for origin in ORIGINS:
            fake = Faker(origin.locale)
            fake.seed_instance(f"{plan.random_seed}:guests:{origin.locale}")
            self.by_locale[origin.locale] = fake

    def __getitem__(self, origin: Origin) -> Faker:
        return self.by_locale[origin.locale]


def seed(plan: SeedPlan) -> dict[str, int]:
    """Create what is missing of the demo guests; returns counts of rows created."""
    rng = plan.rng("guests")
    fakers = _Fakers(plan)
    created = dict.fromkeys(["companies", "guests", "groups"], 0)
    for prop in Property.objects.filter(code__in=DEMO_PROPERTY_CODES).order_by("code"):
        companies = _seed_companies(prop, rng, fakers)
        created["companies"] += companies[1]
        guests, count = _seed_guests(prop, plan, rng, fakers, companies[0])
        created["guests"] += count
        created["groups"] += _seed_groups(prop, plan, rng, guests)
    return created


def _seed_companies(
    prop: Property, rng: random.Random, fakers: _Fakers
) -> tuple[list[Company], int]:
    existing = {c.name: c for c in Company.all_objects.filter(property=prop)}
    rate_plans = list(RatePlan.objects.filter(property=prop, code__startswith="BAR-"))
    wanted: dict[str, Company] = {}
    while len(wanted) < COMPANIES_PER_PROPERTY:
        origin = rng.choices(ORIGINS, weights=[o.weight for o in ORIGINS])[0]
        fake = fakers[origin]
        name = fake.company()
        if name in wanted:
            continue
        wanted[name] = Company(
            property=prop,
            name=name,
            vat_number=f"{origin.country}{rng.randrange(10**8, 10**9)}",
            email=f"accounts@{_ascii(name)[:20] or 'company'}.example.com",
            phone=_phone(rng, origin.country),
            street=fake.street_address()[:200],
            postal_code=fake.postcode()[:20],
            city=fake.city()[:100],
            country=origin.country,
            negotiated_rate_plan=rng.choice(rate_plans) if rate_plans else None,
            credit_limit=Decimal(rng.choice([2500, 5000, 10000, 25000])),
        )
    new = [company for name, company in wanted.items() if name not in existing]
    Company.objects.bulk_create(new)
    return [existing.get(name, company) for name, company in wanted.items()], len(new)


def _guest(
    prop: Property,
    plan: SeedPlan,
    rng: random.Random,
    fakers: _Fakers,
    companies: list[Company],
    number: int,
) -> Guest:
    origin = rng.choices(ORIGINS, weights=[o.weight for o in ORIGINS])[0]
    fake = fakers[origin]
    female = rng.random() < 0.5
    given = fake.first_name_female() if female else fake.first_name_male()
    family = fake.last_name()
    kind = rng.choices(list(GuestKind), weights=[75, 12, 5, 8])[0]
    born = plan.today - datetime.timedelta(days=rng.randrange(18 * 365, 85 * 365))
    has_document = rng.random() < 0.7
    domain = rng.choice(["example.com", "example.org", "example.net"])
    return Guest(
        property=prop,
        kind=kind,
        title=rng.choice([GuestTitle.MS, GuestTitle.MRS] if female else [GuestTitle.MR])
        if rng.random() < 0.8
        else rng.choice([GuestTitle.DR, GuestTitle.MX, ""]),
        given_name=given,
        family_name=family,
        email=f"{_ascii(given)}.{_ascii(family)}{number}@{domain}",
        phone=_phone(rng, origin.country) if rng.random() < 0.85 else "",
        nationality=origin.country,
        language=origin.language,
        date_of_birth=born if rng.random() < 0.9 else None,
        document_type=rng.choice([DocumentType.PASSPORT, DocumentType.NATIONAL_ID])
        if has_document
        else "",
        document_number=(
            f"{chr(65 + rng.randrange(26))}{chr(65 + rng.randrange(26))}"
            f"{rng.randrange(10**6, 10**7)}"
        )
        if has_document
        else None,
        address=f"{fake.street_address()}\n{fake.postcode()}" if rng.random() < 0.6 else None,
        city=fake.city()[:100],
        country=origin.country,
        company=rng.choice(companies) if kind == GuestKind.CORPORATE else None,
        marketing_consent=rng.random() < 0.4,
        preferences={
            key: rng.choice(values)
            for key, values in (
                ("pillow", ["firm", "soft", "hypoallergenic"]),
                ("floor", ["high", "low"]),
                ("bed", ["double", "twin"]),
            )
            if rng.random() < 0.35
        },
        notes=rng.choice(NOTES) if rng.random() < 0.1 else None,
        vip_level=rng.randint(1, 5) if kind == GuestKind.VIP else 0,
    )


def _seed_guests(
    prop: Property,
    plan: SeedPlan,
    rng: random.Random,
    fakers: _Fakers,
    companies: list[Company],
) -> tuple[list[Guest], int]:
    wanted = [
        _guest(prop, plan, rng, fakers, companies, number)
        for number in range(1, GUESTS_PER_PROPERTY + 1)
    ]
    # Likely duplicates: the same person registered twice, once without the accents or with a
    # different e-mail, but the same date of birth; or the same e-mail under a short name.
    for original in rng.sample(wanted[: GUESTS_PER_PROPERTY // 2], DUPLICATES_PER_PROPERTY):
        twin = Guest(
            property=prop,
            kind=GuestKind.INDIVIDUAL,
            given_name=original.given_name,
            family_name=unicodedata.normalize("NFKD", original.family_name)
            .encode("ascii", "ignore")
            .decode()
            or original.family_name,
            email=f"{_ascii(original.given_name)}{rng.randrange(100)}@example.com",
            nationality=original.nationality,
            language=original.language,
            date_of_birth=original.date_of_birth or plan.today.replace(year=1980),
            city=original.city,
            country=original.country,
        )
        if twin.family_name == original.family_name and twin.email == original.email:
            continue
        original.date_of_birth = twin.date_of_birth
        wanted.append(twin)
    for original in rng.sample(wanted[GUESTS_PER_PROPERTY // 2 : GUESTS_PER_PROPERTY], 4):
        wanted.append(
            Guest(
                property=prop,
                given_name=original.given_name[:1],
                family_name=original.family_name,
                email=original.email,
                nationality=original.nationality,
                country=original.country,
            )
        )

    # Only the demo's own addresses: after `--scale` the property holds a million guests,
    # which must not all be read (and decrypted) to find these few hundred.
    existing = {
        (guest.email, guest.family_name, guest.given_name): guest
        for guest in Guest.all_objects.filter(
            property=prop, email__in={guest.email for guest in wanted}
        )
    }
    new = [
        guest
        for guest in wanted
        if (guest.email, guest.family_name, guest.given_name) not in existing
    ]
    Guest.objects.bulk_create(new, batch_size=500)
    everyone = [
        existing.get((guest.email, guest.family_name, guest.given_name), guest) for guest in wanted
    ]
    return everyone, len(new)


def _seed_groups(prop: Property, plan: SeedPlan, rng: random.Random, guests: list[Guest]) -> int:
    contacts = [guest for guest in guests if guest.kind == GuestKind.GROUP_CONTACT]
    existing = set(
        GuestGroup.all_objects.filter(property=prop).values_list("name", "arrival_date")
    )
    new = []
    for theme in rng.sample(GROUP_THEMES, GROUPS_PER_PROPERTY):
        contact = rng.choice(contacts) if contacts else None
        arrival = plan.today + datetime.timedelta(days=rng.randrange(-60, 120))
        group = GuestGroup(
            property=prop,
            name=f"{contact.family_name if contact else 'Spring'} {theme}",
            contact=contact,
            company_id=contact.company_id if contact else None,
            arrival_date=arrival,
            departure_date=arrival + datetime.timedelta(days=rng.randint(2, 6)),
            expected_size=rng.randint(8, 60),
        )
        # Checked after drawing every random number, so a re-run draws the same ones.
        if (group.name, group.arrival_date) not in existing:
            new.append(group)
    GuestGroup.objects.bulk_create(new)
    return len(new)


def reset() -> None:
    """Remove the demo guests, companies and groups (before the hotel setup goes)."""
    demo = Q(property__code__in=DEMO_PROPERTY_CODES)
    GuestGroup.all_objects.filter(demo).delete()
    Guest.all_objects.filter(demo, merged_into__isnull=False).update(merged_into=None)
    Guest.all_objects.filter(demo).delete()
    Company.all_objects.filter(demo).delete()


# --- At scale: `manage.py seed --scale N` ---------------------------------------------------
# Hundreds of thousands of guests, to see the admin pages at a hotel group's real size. Faker
# costs tens of microseconds a call, so it only fills pools of names, cities and streets once;
# each guest is then a few random picks from the pools. Rows go in with COPY, a batch per
# transaction: PostgreSQL's triggers fill the search columns and write one audit row per guest,
# exactly as for any other insert, while the encryption and blind indexes are computed here so
# the keys never reach the database.

SCALE_BATCH = 50_000
# Connections loading batches at once (PostgreSQL does most of the work, a core each).
SCALE_WORKERS = 2
SCALE_DOMAINS = ("mail.example.com", "post.example.org", "inbox.example.net")
_POOL_NAMES = 400
_POOL_PLACES = 120
_POOL_PHONES = 2_000

# Every column a scaled guest gets; id, created_at/updated_at come from the column defaults,
# the search columns from the maintain_search trigger and the search_typos generated column.
SCALE_COLUMNS = (
    "property_id",
    "kind",
    "title",
    "given_name",
    "family_name",
    "email",
    "phone",
    "nationality",
    "language",
    "date_of_birth",
    "date_of_birth_index",
    "document_type",
    "document_number",
    "document_number_index",
    "address",
    "city",
    "country",
    "company_id",
    "marketing_consent",
    "preferences",
    "notes",
    "vip_level",
    "version",
)


@dataclasses.dataclass(frozen=True)
class _Pools:
    female: tuple[str, ...]
    male: tuple[str, ...]
    family: tuple[str, ...]
    cities: tuple[str, ...]
    streets: tuple[str, ...]
    postcodes: tuple[str, ...]
    phones: tuple[str, ...]


def _distinct(draw, count: int) -> tuple[str, ...]:
    # Some locales have fewer names than asked for: stop after enough draws either way.
    seen: dict[str, None] = {}
    for _ in range(count * 3):
        seen.setdefault(draw(), None)
        if len(seen) == count:
            break
    return tuple(seen)


def _valid_phones(rng: random.Random, country: str, count: int) -> tuple[str, ...]:
    """Distinct valid mobile numbers of a country, E.164 (validated once, reused by many)."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    national = str(example.national_number)
    found: dict[str, None] = {}
    for _ in range(count * 3):
        tail = str(rng.randrange(10**6)).zfill(6)
        candidate = phonenumbers.PhoneNumber(
            country_code=example.country_code, national_number=int(national[:-6] + tail)
        )
        if phonenumbers.is_valid_number(candidate):
            found.setdefault(
                phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164), None
            )
        if len(found) == count:
            break
    return tuple(found) or (
        phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164),
    )


def _scale_pools(plan: SeedPlan) -> dict[str, _Pools]:
    rng = plan.rng("guests:scale:pools")
    pools = {}
    for origin in ORIGINS:
        fake = Faker(origin.locale)
        fake.seed_instance(f"{plan.random_seed}:guests:scale:{origin.locale}")
        pools[origin.locale] = _Pools(
            female=_distinct(fake.first_name_female, _POOL_NAMES),
            male=_distinct(fake.first_name_male, _POOL_NAMES),
            family=_distinct(fake.last_name, _POOL_NAMES * 2),
            cities=tuple(city[:100] for city in _distinct(fake.city, _POOL_PLACES)),
            streets=_distinct(fake.street_name, _POOL_PLACES),
            postcodes=_distinct(fake.postcode, _POOL_PLACES),
            phones=_valid_phones(rng, origin.country, _POOL_PHONES),
        )
    return pools


class _ScaledGuests:
    """Makes COPY rows of scaled guests; number ``n`` is the same guest on every run."""

    def __init__(self, plan: SeedPlan, companies: dict[object, list[object]]) -> None:
        self.plan = plan
        self.pools = _scale_pools(plan)
        self.companies = companies
        self.properties = sorted(companies, key=str)
        self.weights = list(itertools.accumulate(origin.weight for origin in ORIGINS))
        field = Guest._meta.get_field
        self.seal_birth = field("date_of_birth").get_prep_value
        self.seal_document = field("document_number").get_prep_value
        self.seal_address = field("address").get_prep_value
        self.index_birth = field("date_of_birth_index").digest
        self.index_document = field("document_number_index").digest
        self.kinds = [GuestKind.INDIVIDUAL, GuestKind.CORPORATE, GuestKind.VIP]
        self.kinds += [GuestKind.GROUP_CONTACT]
        self.kind_weights = list(itertools.accumulate([85, 8, 5, 2]))

    def rows(self, start: int, stop: int) -> Iterator[tuple]:
        # One stream per batch: a batch re-made after an interrupted run is the same batch.
        rng = random.Random(f"{self.plan.random_seed}:guests:scale:{start}")
        choice, choices, rand, randrange = rng.choice, rng.choices, rng.random, rng.randrange
        today = self.plan.today
        for number in range(start, stop):
            origin = choices(ORIGINS, cum_weights=self.weights)[0]
            pools = self.pools[origin.locale]
            female = rand() < 0.5
            given = choice(pools.female if female else pools.male)
            family = choice(pools.family)
            prop = self.properties[number % len(self.properties)]
            kind = choices(self.kinds, cum_weights=self.kind_weights)[0]
            company = None
            if kind == GuestKind.CORPORATE:
                company = choice(self.companies[prop]) if self.companies[prop] else None
                kind = kind if company else GuestKind.INDIVIDUAL
            born = today - datetime.timedelta(days=randrange(18 * 365, 85 * 365))
            born = born if rand() < 0.9 else None
            document = None
            if rand() < 0.7:
                document = (
                    f"{chr(65 + randrange(26))}{chr(65 + randrange(26))}{randrange(10**6, 10**7)}"
                )
            address = None
            if rand() < 0.6:
                address = f"{randrange(1, 200)} {choice(pools.streets)}\n{choice(pools.postcodes)}"
            yield (
                prop,
                kind,
                choice(("ms", "mrs") if female else ("mr",)) if rand() < 0.8 else "",
                given,
                family,
                f"{_ascii(given)}.{_ascii(family)}.{number}@{SCALE_DOMAINS[number % 3]}",
                choice(pools.phones) if rand() < 0.85 else "",
                origin.country,
                origin.language,
                self.seal_birth(born),
                self.index_birth(born),
                choice(("passport", "national_id")) if document else "",
                self.seal_document(document),
                self.index_document(document),
                self.seal_address(address),
                choice(pools.cities),
                origin.country,
                company,
                rand() < 0.4,
                "{}",
                None,
                randrange(1, 6) if kind == GuestKind.VIP else 0,
                1,
            )


def scale(
    plan: SeedPlan, size: int, *, progress: Callable[..., None] | None = None
) -> dict[str, int]:
    """Grow the demo properties' guests to ``size`` (never fewer), ``SCALE_BATCH`` a commit.

    Guests already there count, scaled or not; a run stopped half-way keeps its committed
    batches, and the next run goes on from there with the guests it would have made.
    """
    demo = Property.objects.filter(code__in=DEMO_PROPERTY_CODES)
    companies: dict[object, list[object]] = {prop.pk: [] for prop in demo}
    if not companies:
        raise ValueError("No demo property to add guests to: run `manage.py seed` first.")
    for prop_id, company_id in Company.objects.filter(property__in=demo).values_list(
        "property_id", "pk"
    ):
        companies[prop_id].append(company_id)
    _restore_missing_indexes()
    have = Guest.all_objects.filter(property__in=demo).count()
    if have >= size:
        return {"guests": 0}
    maker = _ScaledGuests(plan, companies)
    copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(Guest._meta.db_table),
        sql.SQL(", ").join(map(sql.Identifier, SCALE_COLUMNS)),
    )
    done = 0
    if progress:
        progress(0, size - have)
    # At least doubling the guests: the search indexes are cheaper built afresh at the end.
    # Not inside a caller's transaction: its deferred foreign-key checks would still be
    # pending, and PostgreSQL builds no index over a table with pending trigger events.
    rebuild = size - have >= Guest.all_objects.count() and not connection.in_atomic_block
    with _bulk_search_indexes(rebuild=rebuild):
        done = _copy_batches(maker, copy, have, size, progress)
        if progress:
            progress(done, size - have, "(merging into the search indexes)")
    with connection.cursor() as cursor:
        # Fresh statistics, so the admin's plans fit the new size before autovacuum comes by.
        cursor.execute(f"ANALYZE {Guest._meta.db_table}")
    return {"guests": done}


def _copy_batches(
    maker: _ScaledGuests,
    copy: sql.Composable,
    have: int,
    size: int,
    progress: Callable[..., None] | None,
) -> int:
    batches = [(start, min(start + SCALE_BATCH, size)) for start in range(have, size, SCALE_BATCH)]
    done = 0
    if connection.in_atomic_block or SCALE_WORKERS < 2:
        # Inside the caller's transaction (a test), other connections would not see its rows.
        for start, stop in batches:
            _copy_batch(maker, copy, start, stop)
            done += stop - start
            if progress:
                progress(done, size - have)
        return done
    # Most of a guest's cost is PostgreSQL's (triggers, indexes, its audit row), and one
    # backend uses one core: two connections load two batches at once. Batches commit out of
    # order, so a run stopped half-way may leave a gap in the numbering; the next run counts
    # what is there and fills up to the size all the same (e-mails carry the names as well
    # as the number, so they stay distinct).
    with concurrent.futures.ThreadPoolExecutor(max_workers=SCALE_WORKERS) as pool:
        futures = [
            pool.submit(contextvars.copy_context().run, _copy_batch_in_thread, maker, copy, *batch)
            for batch in batches
        ]
        try:
            for future in concurrent.futures.as_completed(futures):
                done += future.result()
                if progress:
                    progress(done, size - have)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return done


def _copy_batch_in_thread(
    maker: _ScaledGuests, copy: sql.Composable, start: int, stop: int
) -> int:
    try:
        return _copy_batch(maker, copy, start, stop)
    finally:
        connection.close()  # this thread's own connection


def _copy_batch(maker: _ScaledGuests, copy: sql.Composable, start: int, stop: int) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        # COPY does not pass through Django's execute wrappers: send the audit context
        # (who, why) into this transaction ourselves, for the audit rows the COPY writes.
        send_context(cursor)
        with cursor.cursor.copy(copy) as writer:
            for row in maker.rows(start, stop):
                writer.write_row(row)
    return stop - start


# Pending list of each GIN index during a bulk load, in kB (the default is 4 MB).
_BULK_PENDING_LIST_KB = 64 * 1024
# Memory for rebuilding a GIN index: its entries are sorted in memory, in runs of this size.
_REBUILD_MEMORY = "256MB"


def _search_indexes() -> list[GinIndex]:
    # The guests' GIN indexes (search), which run with fastupdate off (see Guest.Meta).
    return [
        index
        for index in Guest._meta.indexes
        if isinstance(index, GinIndex) and index.fastupdate is False
    ]


def _restore_missing_indexes() -> None:
    """Re-create indexes a killed bulk load left dropped (see _bulk_search_indexes)."""
    with connection.cursor() as cursor:
        present = connection.introspection.get_constraints(cursor, Guest._meta.db_table)
    missing = [index for index in Guest._meta.indexes if index.name not in present]
    if missing:
        _create_indexes(missing)


def _create_indexes(indexes: list[models.Index], *, workers: int = 1) -> None:
    if workers > 1 and not connection.in_atomic_block:
        # One index per connection at a time: each build is one backend's sort, and two
        # builds share the table's SHARE lock. The biggest (typo keys) takes half the time.
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(_create_index_in_thread, index) for index in indexes]:
                future.result()
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('maintenance_work_mem', %s, false)", [_REBUILD_MEMORY])
    try:
        with connection.schema_editor() as editor:
            for index in indexes:
                editor.add_index(Guest, index)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET maintenance_work_mem")


def _create_index_in_thread(index: models.Index) -> None:
    try:
        _create_indexes([index])
    finally:
        connection.close()  # this thread's own connection


@contextlib.contextmanager
def _bulk_search_indexes(*, rebuild: bool) -> Iterator[None]:
    """The guests' GIN indexes during a bulk load: rebuilt after it, or fed in bulk.

    With ``fastupdate`` off each new row goes straight into each GIN index: ~0.4 ms a guest,
    four fifths of a bulk insert. When the load at least doubles the table (``rebuild``), the
    indexes are dropped and built again at the end, sorted, which is cheapest (a million
    guests: ~60 s instead of ~100 s through pending lists; two at a time), and the model's
    B-tree indexes with them. The table is searched without them meanwhile (slowly, by
    scanning); a load killed outright leaves them dropped, and the next ``seed --scale``
    re-creates them before anything else. Otherwise a pending list
    takes the new entries and merges them sorted, several times cheaper than one by one,
    while the entries stay searchable. Either way (an error too), the indexes end as the
    migration made them.
    """
    indexes = _search_indexes()
    if rebuild:
        # The model's other indexes too (look-ups, the ICU name order): built sorted at the
        # end they cost seconds, kept up row by row a third of what remains of the load.
        rebuilt = list(Guest._meta.indexes)
        with connection.schema_editor() as editor:
            for index in rebuilt:
                editor.remove_index(Guest, index)
        try:
            yield
        finally:
            _create_indexes(rebuilt, workers=SCALE_WORKERS)
        return
    with connection.cursor() as cursor:
        for index in indexes:
            cursor.execute(
                sql.SQL("ALTER INDEX {} SET (fastupdate = on, gin_pending_list_limit = {})")
                .format(sql.Identifier(index.name), sql.Literal(_BULK_PENDING_LIST_KB))
                .as_string(cursor.cursor)
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for index in indexes:
                name = sql.Identifier(index.name)
                cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [index.name])
                cursor.execute(
                    sql.SQL("ALTER INDEX {} SET (fastupdate = off)")
                    .format(name)
                    .as_string(cursor.cursor)
                )
                cursor.execute(
                    sql.SQL("ALTER INDEX {} RESET (gin_pending_list_limit)")
                    .format(name)
                    .as_string(cursor.cursor)
                )
