"""3scale account time zones: Rails names (porta account.rb `validate_timezone`), from IANA names.

3scale keeps a provider's `timezone` as an ActiveSupport (Rails) zone name such as `Berlin`, and allows only
zones whose standard offset is a whole hour (Account::ProviderMethods ALLOWED_TIMEZONES). ZONES is
ActiveSupport's `TimeZone::MAPPING` (Rails name → tz identifier), in maas_resources/rails_zones.py, shared
with the sandbox.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maas_helpers.errors import ConfigError
from maas_resources.rails_zones import ZONES

# Current IANA names of identifiers the table spells the old way (tzdata `backward`).
ALIASES = {"Europe/Kyiv": "Europe/Kiev", "America/Nuuk": "America/Godthab", "Asia/Yangon": "Asia/Rangoon",
           "UTC": "Etc/UTC", "Etc/UCT": "Etc/UTC", "Etc/Universal": "Etc/UTC", "Etc/Zulu": "Etc/UTC",
           "Asia/Calcutta": "Asia/Kolkata", "Asia/Katmandu": "Asia/Kathmandu"}


def _base_offset(identifier: str) -> int:
    """Standard offset now, as ActiveSupport's `utc_offset` (TZInfo `base_utc_offset`)."""
    moment = datetime.now(UTC).astimezone(ZoneInfo(identifier))
    offset, dst = moment.utcoffset(), moment.dst()
    seconds = offset.total_seconds() if offset is not None else 0.0
    return int(seconds - (dst.total_seconds() if dst is not None else 0.0))


def _utc(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    return f"UTC{sign}{abs(seconds) // 3600:02d}:{abs(seconds) % 3600 // 60:02d}"


def rails_zone(name: str) -> str:
    """The Rails zone name 3scale accepts for `name` (an IANA identifier, or already a Rails name); a
    ConfigError naming the fix when 3scale has no such zone or does not allow it."""
    if name in ZONES:
        candidates = [name]
    else:
        identifier = ALIASES.get(name, name)
        city = identifier.rsplit("/", 1)[-1].replace("_", " ")
        # several Rails names may share an identifier: prefer the one named after it (London, not Edinburgh)
        candidates = sorted((rails for rails, tz in ZONES.items() if tz == identifier), key=lambda r: r != city)
    if not candidates:
        try:
            offset = _base_offset(ALIASES.get(name, name))
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"timezone {name!r} is not a time zone; use an IANA name such as Europe/Berlin "
                              "or a 3scale (Rails) name such as Berlin") from None
        same = [rails for rails, tz in ZONES.items() if _base_offset(tz) == offset][:4]
        hint = f" (3scale zones at {_utc(offset)}: {', '.join(same)})" if same else ""
        raise ConfigError(f"timezone {name} has no 3scale (Rails) name{hint}; set timezone to one 3scale has")
    chosen = candidates[0]
    offset = _base_offset(ZONES[chosen])
    if offset % 3600:
        raise ConfigError(f"timezone {name} (3scale name {chosen!r}, {_utc(offset)}) is not allowed by 3scale, "
                          "which accepts whole-hour offsets only; choose another timezone")
    return chosen
