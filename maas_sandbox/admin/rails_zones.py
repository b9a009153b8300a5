"""Rails time zone names, the only ones a 3scale account's `timezone` takes (porta account.rb
`validate_timezone`: `ActiveSupport::TimeZone.new(timezone)` must be in Account::ProviderMethods
ALLOWED_TIMEZONES, i.e. `ActiveSupport::TimeZone.all` minus zones whose offset is not a whole hour).

ZONES is ActiveSupport's `TimeZone::MAPPING` (Rails name → tz identifier). A tz identifier such as
`Europe/Berlin` is not a Rails name, so porta refuses it ("Timezone Europe/Berlin is not allowed"); the kit
maps IANA names to Rails names before it calls (the table: maas_resources/rails_zones.py, shared with the kit).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from maas_resources.rails_zones import ZONES


def base_offset_seconds(identifier: str) -> int:
    """A zone's standard offset now (ActiveSupport `utc_offset`: TZInfo's current `base_utc_offset`)."""
    moment = datetime.now(UTC).astimezone(ZoneInfo(identifier))
    offset, dst = moment.utcoffset(), moment.dst()
    seconds = offset.total_seconds() if offset is not None else 0.0
    return int(seconds - (dst.total_seconds() if dst is not None else 0.0))


def allowed(name: str) -> bool:
    """A Rails zone name whose standard offset is a whole number of hours."""
    return name in ZONES and base_offset_seconds(ZONES[name]) % 3600 == 0
