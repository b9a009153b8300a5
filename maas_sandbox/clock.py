"""One injectable clock for the whole sandbox (limits, analytics, timestamps).

Tests move time through the master-token-protected clock endpoint instead of sleeping through a period.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall clock plus an offset, optionally frozen. Thread-safe; cheap on the hot path."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._frozen: float | None = None
        self._lock = threading.Lock()

    def time(self) -> float:
        """Seconds since the epoch, as the sandbox sees them."""
        frozen = self._frozen
        return frozen if frozen is not None else time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def set(self, when: datetime, *, freeze: bool = False) -> None:
        target = when.astimezone(UTC).timestamp() if when.tzinfo else when.replace(tzinfo=UTC).timestamp()
        with self._lock:
            if freeze:
                self._frozen = target
            else:
                self._frozen = None
                self._offset = target - time.time()

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
            self._frozen = None

    @property
    def frozen(self) -> bool:
        return self._frozen is not None


def iso(dt: datetime) -> str:
    """3scale-style UTC timestamp: 2025-06-01T10:42:19Z."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


__all__ = ["Clock", "iso", "parse_iso", "timedelta"]
