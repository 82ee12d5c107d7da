"""guest_create: validated before anything is written, normalized, encrypted."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from guests.models import Guest
from guests.services import guest_create
from tests.factories import PropertyFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_it_creates_a_normalized_profile_as_the_actor():
    clerk = UserFactory()
    guest = guest_create(
        property=PropertyFactory(),
        family_name="O'Connor",
        given_name="Siobhán",
        email="Siobhan.OConnor@Example.IE",
        phone="00353 85 012 3456",
        nationality="IE",
        date_of_birth=datetime.date(1991, 6, 16),
        actor=clerk,
    )
    guest = Guest.objects.get(pk=guest.pk)
    assert (guest.email, guest.phone) == ("siobhan.oconnor@example.ie", "+353850123456")
    assert guest.created_by == clerk


@pytest.mark.parametrize(
    "profile, field",
    [
        ({"date_of_birth": datetime.date(2999, 1, 1)}, "date_of_birth"),
        ({"nationality": "QQ"}, "nationality"),
        ({"email": "not-an-address"}, "email"),
        ({"phone": "+1 555"}, "phone"),
    ],
)
def test_it_refuses_bad_input_and_writes_nothing(profile: dict, field: str):
    with pytest.raises(ValidationError) as error:
        guest_create(property=PropertyFactory(), family_name="Doe", actor=None, **profile)
    assert field in error.value.message_dict
    assert not Guest.all_objects.exists()


def test_it_refuses_fields_that_are_not_part_of_a_profile():
    with pytest.raises(TypeError, match="search_name"):
        guest_create(property=PropertyFactory(), family_name="Doe", actor=None, search_name="x")
