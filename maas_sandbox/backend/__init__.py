"""The sandbox's apisonator: usage counters, plan limits and the usage that feeds Analytics."""

from __future__ import annotations

from maas_sandbox import extra as _extra  # noqa: F401  (first: names the [sandbox] extra if missing)
from maas_sandbox.backend.engine import AUTH_FAILED, LIMITS_EXCEEDED, OK, Backend, Decision, Reservation
from maas_sandbox.context import Sandbox


def create_backend(sandbox: Sandbox) -> Backend:
    return Backend(sandbox)


__all__ = ["AUTH_FAILED", "LIMITS_EXCEEDED", "OK", "Backend", "Decision", "Reservation", "create_backend"]
