"""Keycloak's brute-force arithmetic (services/.../DefaultBruteForceProtector.java) in maas_sandbox.login_guard."""

from __future__ import annotations

from maas_sandbox.login_guard import CLIENT_SETTINGS, BruteForce, BruteForceSettings


def test_failure_factor_then_wait_increment_capped() -> None:
    guard = BruteForce(BruteForceSettings(failure_factor=3, wait_increment=60, max_failure_wait=100))
    t = 1000.0
    for i in range(2):
        guard.failure("Bob", t + 10 * i)  # 10 s apart: no quick-login rule
    assert not guard.locked("bob", t + 20)
    guard.failure("bob", t + 20)  # third failure: 60 × (3 // 3)
    assert guard.locked("BOB", t + 79) and not guard.locked("bob", t + 81)
    for i in range(3):
        guard.failure("bob", t + 100 + 10 * i)  # sixth: 60 × 2 = 120, capped at 100
    assert guard.locked("bob", t + 219) and not guard.locked("bob", t + 221)


def test_quick_login_rule_and_reset() -> None:
    guard = BruteForce(BruteForceSettings())
    guard.failure("eve", 50.0)
    assert not guard.locked("eve", 50.1)  # a first failure never locks
    guard.failure("eve", 50.5)  # second within 1,000 ms: minimumQuickLoginWaitSeconds
    assert guard.locked("eve", 110.4) and not guard.locked("eve", 110.6)
    guard.failure("eve", 50.5 + 13 * 3600)  # after maxDeltaTimeSeconds the count restarts
    assert guard.entries["eve"].count == 1
    guard.success("eve")
    assert "eve" not in guard.entries


def test_disabled_realm_and_client_guard() -> None:
    off = BruteForce(BruteForceSettings.from_realm({"realm": "r"}))  # Keycloak's default: off
    for i in range(50):
        off.failure("x", float(i) / 100)
    assert not off.locked("x", 1.0)
    on = BruteForceSettings.from_realm({"bruteForceProtected": True, "failureFactor": 5})
    assert on.enabled and on.failure_factor == 5 and on.wait_increment == 60
    clients = BruteForce(CLIENT_SETTINGS)
    for i in range(99):  # concurrent checks finishing out of order (times not increasing) never lock early
        clients.failure("127.0.0.1", 10.0 - (i % 3) * 0.1)
    assert not clients.locked("127.0.0.1", 10.0)
    clients.failure("127.0.0.1", 10.0)
    assert clients.locked("127.0.0.1", 10.0)
