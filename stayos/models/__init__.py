from stayos.models.base import (
    ActiveManager,
    PropertyScopedModel,
    StaleVersionError,
    TrackedModel,
)
from stayos.models.property import NAME_COLLATION, Property
from stayos.models.rate_plans import RatePlan, RatePlanSeason, Weekday
from stayos.models.rooms import Amenity, Room, RoomType

__all__ = [
    "NAME_COLLATION",
    "ActiveManager",
    "Amenity",
    "Property",
    "PropertyScopedModel",
    "RatePlan",
    "RatePlanSeason",
    "Room",
    "RoomType",
    "StaleVersionError",
    "TrackedModel",
    "Weekday",
]
