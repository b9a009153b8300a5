"""IANA → Rails zone names for the Master API provider update (porta account.rb `validate_timezone`)."""

from __future__ import annotations

import pytest

from maas_helpers import timezones
from maas_helpers.errors import ConfigError
from maas_sandbox.admin import rails_zones


def test_kit_and_sandbox_use_one_activesupport_table() -> None:
    assert timezones.ZONES is rails_zones.ZONES and len(timezones.ZONES) == 151


@pytest.mark.parametrize(("iana", "rails"), [
    ("Europe/Berlin", "Berlin"), ("Europe/London", "London"), ("UTC", "UTC"), ("Etc/UTC", "UTC"),
    ("America/New_York", "Eastern Time (US & Canada)"), ("Europe/Kyiv", "Kyiv"), ("Berlin", "Berlin"),
    ("Asia/Tokyo", "Tokyo"),
])
def test_iana_names_map_to_the_rails_name(iana: str, rails: str) -> None:
    assert timezones.rails_zone(iana) == rails
    assert rails_zones.allowed(rails)


@pytest.mark.parametrize(("name", "says"), [
    ("Asia/Kolkata", "not allowed by 3scale"),  # +05:30: account/provider_methods.rb whole hours only
    ("Europe/Oslo", "has no 3scale (Rails) name"),
    ("Mars/Olympus", "is not a time zone"),
])
def test_zones_3scale_refuses_are_one_clear_line(name: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        timezones.rails_zone(name)
    assert says in str(err.value) and "\n" not in str(err.value)
