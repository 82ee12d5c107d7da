"""Demo data for the hotel setup: two properties, their room types, rooms and rate plans.

Called by ``manage.py seed`` (each app's ``seeding`` module, in INSTALLED_APPS order), which
also sets up the staff roles from every app's ``ROLE_PERMISSIONS`` (``staff_roles_setup``).
Rows are found by their natural keys first, so a second run changes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
import importlib
import random
from decimal import Decimal
from types import ModuleType

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q

from stayos.models import Amenity, Property, RatePlan, RatePlanSeason, Room, RoomType, Weekday
from stayos.roles import ACCOUNTING, AUDITOR, FRONT_DESK, HOUSEKEEPING, MANAGER, ROLES, crud


@dataclasses.dataclass(frozen=True)
class SeedPlan:
    """What every app's seeding receives: a reproducible source of randomness and a date."""

    random_seed: int
    today: datetime.date

    def rng(self, app_label: str) -> random.Random:
        # One stream per app, so adding an app's seed data does not reshuffle another's.
        return random.Random(f"{self.random_seed}:{app_label}")


@dataclasses.dataclass(frozen=True)
class RoomTypeSpec:
    code: str
    name: str
    capacity: int
    base_occupancy: int
    base_rate: Decimal
    amenities: tuple[str, ...]
    description: str


@dataclasses.dataclass(frozen=True)
class PropertySpec:
    code: str
    name: str
    time_zone: str
    currency: str
    street: str
    city: str
    postal_code: str
    country: str
    phone: str
    email: str
    floors: int
    rooms_per_floor: int
    room_types: tuple[RoomTypeSpec, ...]


AMENITIES = {
    "wifi": "Wi-Fi",
    "minibar": "Minibar",
    "safe": "In-room safe",
    "coffee": "Coffee machine",
    "bathtub": "Bathtub",
    "balcony": "Balcony",
    "river-view": "River view",
    "castle-view": "Castle view",
    "sofa-bed": "Sofa bed",
    "kitchenette": "Kitchenette",
}

PROPERTIES = (
    PropertySpec(
        code="LIS1",
        name="StayOS Lisbon Riverside",
        time_zone="Europe/Lisbon",
        currency="EUR",
        street="Avenida 24 de Julho 52",
        city="Lisboa",
        postal_code="1200-868",
        country="PT",
        phone="+351 21 000 1000",
        email="frontdesk.lis1@stayos.example",
        floors=6,
        rooms_per_floor=12,
        room_types=(
            RoomTypeSpec(
                "STD",
                "Standard Double",
                2,
                2,
                Decimal("129.00"),
                ("wifi", "safe"),
                "Queen bed, city side, shower.",
            ),
            RoomTypeSpec(
                "KNG",
                "Deluxe King River View",
                3,
                2,
                Decimal("179.00"),
                ("wifi", "safe", "minibar", "coffee", "river-view"),
                "King bed, floor-to-ceiling windows over the Tagus, bathtub.",
            ),
            RoomTypeSpec(
                "STE",
                "Junior Suite",
                4,
                2,
                Decimal("259.00"),
                ("wifi", "safe", "minibar", "coffee", "balcony", "river-view", "sofa-bed"),
                "Separate lounge with sofa bed and a balcony over the river.",
            ),
        ),
    ),
    PropertySpec(
        code="EDI1",
        name="StayOS Edinburgh Old Town",
        time_zone="Europe/London",
        currency="GBP",
        street="112 Cowgate",
        city="Edinburgh",
        postal_code="EH1 1JN",
        country="GB",
        phone="+44 131 000 2000",
        email="frontdesk.edi1@stayos.example",
        floors=5,
        rooms_per_floor=12,
        room_types=(
            RoomTypeSpec(
                "STD",
                "Classic Double",
                2,
                2,
                Decimal("115.00"),
                ("wifi", "coffee"),
                "Double bed, courtyard side.",
            ),
            RoomTypeSpec(
                "TWN",
                "Classic Twin",
                2,
                2,
                Decimal("119.00"),
                ("wifi", "coffee"),
                "Two single beds, ideal for colleagues travelling together.",
            ),
            RoomTypeSpec(
                "FAM",
                "Family Room Castle View",
                4,
                2,
                Decimal("189.00"),
                ("wifi", "coffee", "bathtub", "castle-view", "sofa-bed", "kitchenette"),
                "Double bed and bunk beds, kitchenette, view of the castle rock.",
            ),
        ),
    ),
)

DEMO_PROPERTY_CODES = tuple(spec.code for spec in PROPERTIES)

# What each staff role may do with the hotel setup, and with the third-party pages that have
# no seeding module of their own (user accounts, the Celery beat schedule). Every app grants
# its own models' permissions in its own seeding module (see stayos.roles).
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    FRONT_DESK: (
        "stayos.view_property",
        "stayos.view_roomtype",
        "stayos.view_room",
        "stayos.change_room_housekeeping_status",
        "stayos.view_amenity",
        "stayos.view_rateplan",
        "stayos.view_rateplanseason",
    ),
    HOUSEKEEPING: ("stayos.view_room", "stayos.change_room_housekeeping_status"),
    ACCOUNTING: (
        "stayos.view_property",
        "stayos.view_roomtype",
        "stayos.view_rateplan",
        "stayos.add_rateplan",
        "stayos.change_rateplan",
        # Seasons are rows of the rate plan's page: adding or removing one edits the plan.
        *crud("stayos", "rateplanseason"),
    ),
    AUDITOR: (
        "stayos.view_*",
        "stayos.view_monitoring",
        "auth.view_user",
        "auth.view_group",
        "django_celery_beat.view_*",
    ),
    MANAGER: (
        "stayos.view_property",
        "stayos.change_property",
        *crud("stayos", "roomtype", "room", "amenity", "rateplan", "rateplanseason"),
        "stayos.change_room_housekeeping_status",
        "stayos.view_monitoring",
        "django_celery_beat.view_*",
    ),
}


def seeding_modules() -> list[tuple[str, ModuleType]]:
    """Each installed app's ``seeding`` module, lowest layer first (INSTALLED_APPS order)."""
    modules = []
    for config in apps.get_app_configs():
        try:
            modules.append((config.label, importlib.import_module(f"{config.name}.seeding")))
        except ModuleNotFoundError as error:
            if error.name != f"{config.name}.seeding":
                raise
    return modules


def role_permissions() -> dict[str, set[Permission]]:
    """Every role's permissions, gathered from every app's ``ROLE_PERMISSIONS``.

    A role name the kernel does not know, or an entry that names no permission (a typo, a
    renamed model, a ``Meta.permissions`` whose migration has not run), is refused rather
    than skipped: a role silently missing a page is found only by the person who needs it.
    """
    known = {
        f"{permission.content_type.app_label}.{permission.codename}": permission
        for permission in Permission.objects.select_related("content_type")
    }
    granted: dict[str, set[Permission]] = {role: set() for role in ROLES}
    for label, module in seeding_modules():
        for role, entries in getattr(module, "ROLE_PERMISSIONS", {}).items():
            if role not in ROLES:
                raise ImproperlyConfigured(
                    f"{label}.seeding grants permissions to {role!r}, "
                    f"which is not a staff role ({', '.join(ROLES)})."
                )
            for entry in entries:
                matched = [known[name] for name in fnmatch.filter(known, entry)]
                if not matched:
                    raise ImproperlyConfigured(
                        f"{label}.seeding grants {entry!r} to {role!r}: no such permission "
                        "(has `manage.py migrate` run?)."
                    )
                granted[role].update(matched)
    return granted


def staff_roles_setup() -> dict[str, int]:
    """Create the staff role groups and give each exactly its permissions; count per role."""
    counts = {}
    for role, permissions in role_permissions().items():
        group, _ = Group.objects.get_or_create(name=role)
        # Exactly, not added to: a grant taken out of the code is taken out of the group.
        group.permissions.set(permissions)
        counts[role] = len(permissions)
    return counts


def seed(plan: SeedPlan) -> dict[str, int]:
    """Create what is missing of the demo hotel setup; returns counts of rows created."""
    rng = plan.rng("stayos")
    created = dict.fromkeys(["properties", "room types", "rooms", "rate plans", "seasons"], 0)
    for spec in PROPERTIES:
        prop, is_new = Property.objects.get_or_create(
            code=spec.code,
            defaults={
                field.name: getattr(spec, field.name)
                for field in dataclasses.fields(spec)
                if field.name not in {"code", "floors", "rooms_per_floor", "room_types"}
            }
            | {"business_date": plan.today},
        )
        created["properties"] += is_new
        amenities = {
            code: Amenity.objects.get_or_create(property=prop, code=code, defaults={"name": name})[
                0
            ]
            for code, name in AMENITIES.items()
        }
        room_types = []
        for type_spec in spec.room_types:
            room_type, is_new = RoomType.objects.get_or_create(
                property=prop,
                code=type_spec.code,
                defaults={
                    "name": type_spec.name,
                    "capacity": type_spec.capacity,
                    "base_occupancy": type_spec.base_occupancy,
                    "description": type_spec.description,
                },
            )
            if is_new:
                room_type.amenities.set([amenities[code] for code in type_spec.amenities])
                created["room types"] += 1
            room_types.append(room_type)
        created["rooms"] += _seed_rooms(prop, spec, room_types, rng)
        plans, seasons = _seed_rate_plans(prop, spec, room_types, plan.today)
        created["rate plans"] += plans
        created["seasons"] += seasons
    return created


def _seed_rooms(
    prop: Property, spec: PropertySpec, room_types: list[RoomType], rng: random.Random
) -> int:
    existing = set(Room.all_objects.filter(property=prop).values_list("number", flat=True))
    statuses = Room.HousekeepingStatus
    new_rooms = []
    for floor in range(1, spec.floors + 1):
        for position in range(1, spec.rooms_per_floor + 1):
            number = f"{floor}{position:02d}"
            if number in existing:
                continue
            # Suites at the ends of the top floors, larger rooms on the corners, the rest standard.
            if floor >= spec.floors - 1 and position in (1, spec.rooms_per_floor):
                room_type = room_types[2]
            elif position in (2, 3, spec.rooms_per_floor - 1):
                room_type = room_types[1]
            else:
                room_type = room_types[0]
            accessible = floor == 1 and position in (4, 5)
            new_rooms.append(
                Room(
                    property=prop,
                    room_type=room_type,
                    number=number,
                    floor=floor,
                    housekeeping_status=rng.choices(
                        [
                            statuses.CLEAN,
                            statuses.DIRTY,
                            statuses.INSPECTED,
                            statuses.OUT_OF_ORDER,
                        ],
                        weights=[60, 25, 12, 3],
                    )[0],
                    accessibility=(
                        [
                            Room.Accessibility.WHEELCHAIR,
                            Room.Accessibility.ROLL_IN_SHOWER,
                            Room.Accessibility.GRAB_BARS,
                            Room.Accessibility.STEP_FREE,
                        ]
                        if accessible
                        else []
                    ),
                    notes="Connecting door to the next room." if position == 7 else "",
                )
            )
    Room.objects.bulk_create(new_rooms)
    return len(new_rooms)


def _seed_rate_plans(
    prop: Property, spec: PropertySpec, room_types: list[RoomType], today: datetime.date
) -> tuple[int, int]:
    year_start = today.replace(month=1, day=1)
    plans = seasons = 0
    for room_type, type_spec in zip(room_types, spec.room_types, strict=True):
        variants = [
            (
                f"BAR-{room_type.code}",
                f"Best available · {room_type.name}",
                Decimal("1"),
                {"refundable": True, "cancellation_deadline_hours": 24},
            ),
            (
                f"NRF-{room_type.code}",
                f"Non-refundable · {room_type.name}",
                Decimal("0.85"),
                {"refundable": False, "advance_purchase_days": 3},
            ),
            (
                f"WKD-{room_type.code}",
                f"Weekend break · {room_type.name}",
                Decimal("0.95"),
                {
                    "refundable": True,
                    "cancellation_deadline_hours": 48,
                    "min_stay": 2,
                    "closed_to_arrival": [Weekday.SUNDAY.value, Weekday.MONDAY.value],
                },
            ),
        ]
        for code, name, factor, conditions in variants:
            rate_plan, is_new = RatePlan.objects.get_or_create(
                property=prop,
                code=code,
                defaults={
                    "name": name,
                    "base_rate": (type_spec.base_rate * factor).quantize(Decimal("0.01")),
                    "valid_from": year_start,
                    "valid_to": year_start.replace(year=year_start.year + 2)
                    - datetime.timedelta(1),
                    "weekend_multiplier": Decimal("1.15"),
                    **conditions,
                },
            )
            if not is_new:
                continue
            plans += 1
            rate_plan.room_types.set([room_type])
            for year in (today.year, today.year + 1):
                for season_name, start, end, multiplier in (
                    ("Summer", (6, 15), (9, 15), Decimal("1.30")),
                    ("Christmas & New Year", (12, 20), (12, 31), Decimal("1.45")),
                ):
                    RatePlanSeason.objects.create(
                        property=prop,
                        rate_plan=rate_plan,
                        name=season_name,
                        start_date=datetime.date(year, *start),
                        end_date=datetime.date(year, *end),
                        multiplier=multiplier,
                    )
                    seasons += 1
    return plans, seasons


def reset() -> None:
    """Remove the demo hotel setup (after every app above it removed its own demo rows)."""
    demo = Q(property__code__in=DEMO_PROPERTY_CODES)
    RatePlanSeason.all_objects.filter(demo).delete()
    RatePlan.all_objects.filter(demo).delete()
    Room.all_objects.filter(demo).delete()
    RoomType.all_objects.filter(demo).delete()
    Amenity.all_objects.filter(demo).delete()
    Property.all_objects.filter(code__in=DEMO_PROPERTY_CODES).delete()
