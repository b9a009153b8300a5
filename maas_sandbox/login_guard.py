"""Password checks that cannot stall the event loop or be guessed at speed (portal and SSO logins).

- Hashing runs in one worker thread (argon2-cffi releases the GIL), so a flood of logins uses at most one core
  and the loop keeps serving gateways; the rest queue behind it.
- Brute-force detection with Keycloak's arithmetic (services/.../DefaultBruteForceProtector.java): per key, a
  failure more than `max_delta_time` after the previous one resets the count; after the failure,
  wait = wait_increment × (failures // failure_factor), or `minimum_quick_login_wait` when two failures come
  within `quick_login_check_ms`; capped at `max_failure_wait`; no password is checked before `not_before`.
  A success clears the key (Keycloak's successfulLogin). Keys are per username and per client address.
- An unknown user costs one hash too (against a dummy), so the answer's timing does not tell who exists.
- Every refused login is answered after FAILURE_DELAY (an asyncio sleep, free for the loop): a client thread
  can then try about one password a second, so a flood of wrong logins is a trickle of cheap requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from maas_sandbox.admin.domain_accounts import hash_password, verify_password

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="password-hash")
_DUMMY_HASH: str | None = None
FAILURE_DELAY = 1.0


async def refused() -> bool:
    """The answer to a refused login, locked or wrong alike (same delay: no lockout oracle either)."""
    await asyncio.sleep(FAILURE_DELAY)
    return False


@dataclass(frozen=True)
class BruteForceSettings:
    """Keycloak's realm attributes (and defaults): failureFactor, waitIncrementSeconds, ..."""

    enabled: bool = True
    failure_factor: int = 30
    wait_increment: int = 60
    quick_login_check_ms: int = 1000
    minimum_quick_login_wait: int = 60
    max_failure_wait: int = 900
    max_delta_time: int = 12 * 3600

    @classmethod
    def from_realm(cls, realm: dict[str, Any]) -> BruteForceSettings:
        def num(key: str, default: int) -> int:
            value = realm.get(key)
            return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else default

        base = cls()
        return cls(
            enabled=bool(realm.get("bruteForceProtected", False)),  # Keycloak's default: off
            failure_factor=max(num("failureFactor", base.failure_factor), 1),
            wait_increment=num("waitIncrementSeconds", base.wait_increment),
            quick_login_check_ms=num("quickLoginCheckMilliSeconds", base.quick_login_check_ms),
            minimum_quick_login_wait=num("minimumQuickLoginWaitSeconds", base.minimum_quick_login_wait),
            max_failure_wait=num("maxFailureWaitSeconds", base.max_failure_wait),
            max_delta_time=num("maxDeltaTimeSeconds", base.max_delta_time),
        )


# Per client address: a generous count before waits start and no quick-login rule (many users may share an
# address), so one address cycling through usernames is slowed without locking out a shared office.
CLIENT_SETTINGS = BruteForceSettings(failure_factor=100, quick_login_check_ms=0)


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    not_before: float = 0.0


@dataclass
class BruteForce:
    settings: BruteForceSettings
    entries: dict[str, _Failures] = field(default_factory=dict)
    max_entries: int = 100_000  # bounded memory under a flood of distinct usernames

    def locked(self, key: str, now: float) -> bool:
        entry = self.entries.get(key.lower())
        return self.settings.enabled and entry is not None and now < entry.not_before

    def failure(self, key: str, now: float) -> None:
        s = self.settings
        if not s.enabled:
            return
        key = key.lower()
        entry = self.entries.get(key)
        if entry is None:
            if len(self.entries) >= self.max_entries:
                self.entries.pop(next(iter(self.entries)))
            entry = self.entries[key] = _Failures()
        # concurrent checks can finish out of order: time never runs backwards for an entry
        now = max(now, entry.last)
        delta = now - entry.last if entry.last > 0 else 0.0
        had_failure = entry.last > 0
        entry.last = now
        if delta > s.max_delta_time:
            entry.count = 0
        entry.count += 1
        wait = s.wait_increment * (entry.count // s.failure_factor)
        if wait == 0 and had_failure and s.quick_login_check_ms > 0 and delta * 1000 < s.quick_login_check_ms:
            wait = s.minimum_quick_login_wait
        if wait > 0:
            entry.not_before = now + min(wait, s.max_failure_wait)

    def success(self, key: str) -> None:
        self.entries.pop(key.lower(), None)


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("not-a-real-password")
    return _DUMMY_HASH


async def verify_off_loop(password_hash: str | None, password: str) -> bool:
    """verify_password in the hashing thread; an absent hash is checked against a dummy (same cost)."""
    loop = asyncio.get_running_loop()
    if not password_hash:
        dummy = await loop.run_in_executor(_executor, _dummy_hash)
        await loop.run_in_executor(_executor, verify_password, dummy, password)
        return False
    return await loop.run_in_executor(_executor, verify_password, password_hash, password)


async def hash_off_loop(password: str, hasher: Callable[[str], str] = hash_password) -> str:
    """`hasher` (argon2: the accounts domain's by default) in the hashing thread."""
    return await asyncio.get_running_loop().run_in_executor(_executor, hasher, password)
