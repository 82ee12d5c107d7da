"""Hotel, room type, amenity and rate plan names sort as people expect (ICU collation)."""

from __future__ import annotations

import pytest

from stayos.models import Property, RatePlan, RoomType
from tests.factories import RatePlanFactory, RoomTypeFactory

pytestmark = pytest.mark.django_db

IN_ORDER = ["Åland Suite", "Alfama", "Bähr Haus", "Baker Street", "Oporto", "Øresund", "Zenith"]


def test_names_sort_as_people_expect():
    for name in reversed(IN_ORDER):
        room_type = RoomTypeFactory(name=name)
        RatePlanFactory(property=room_type.property, name=name)
        Property.objects.filter(pk=room_type.property_id).update(name=name)
    for model in (Property, RoomType, RatePlan):
        assert list(model.objects.order_by("name").values_list("name", flat=True)) == IN_ORDER
