"""Shared fixtures live in the one test harness (tests/harness/, also used by benchmarks/): see harness.plugin.

Tests never touch the developer's `.maas/`. Tests needing a pristine tenant or a restart use
`fresh_sandbox` (function scope) instead of the shared `sandbox`.
"""

from __future__ import annotations

from harness.admin import AdminHTTP  # noqa: F401 - `from tests.conftest import AdminHTTP` keeps working
from harness.names import unique  # noqa: F401

pytest_plugins = ["harness.plugin"]
