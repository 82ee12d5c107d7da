"""Demo guests: international profiles, corporate accounts and travelling groups.

Called by ``manage.py seed`` after the hotel setup. Deterministic for a random seed (one
Faker per locale, seeded from the plan), and idempotent: rows are found by natural keys
(company name; guest e-mail and name; group name and arrival) and only missing ones are made.
A few likely duplicates are seeded on purpose, for the duplicate finder to find.
"""

from __future__ import annotations

import dataclasses
import datetime
import random
import unicodedata
from decimal import Decimal

import phonenumbers
from django.db.models import Q
from faker import Faker

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

    existing = {
        (guest.email, guest.family_name, guest.given_name): guest
        for guest in Guest.all_objects.filter(property=prop)
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
