from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks


class GuestsConfig(AppConfig):
    name = "guests"
    verbose_name = "Guests"

    def ready(self) -> None:
        checks.register(check_pii_keys, checks.Tags.security)


def check_pii_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Refuse to start without usable keys for guests' personal data."""
    from guests.pii import PIIKeyError, keyring

    try:
        keyring()
    except PIIKeyError as error:
        return [checks.Error(str(error), hint="See .env.example.", id="guests.E001")]
    return []
