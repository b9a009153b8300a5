"""The shared test harness's own helpers (tests/harness): free ports really bind, masking checks never print a
secret, the secret patterns catch planted credentials and pass placeholders."""

from __future__ import annotations

import socket

from harness.names import suffixed, unique
from harness.ports import find_free_base_port, free_port
from harness.secrets import SECRET_PATTERNS, check_secrets, shown_secrets


def test_free_port_and_base_range_bind_on_loopback() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
    base = find_free_base_port(span=4)
    assert 20000 <= base < 32768  # below the ephemeral range: outgoing connections never take a sandbox port
    socks = [socket.socket() for _ in range(4)]
    try:
        for i, sock in enumerate(socks):
            sock.bind(("127.0.0.1", base + i))
    finally:
        for sock in socks:
            sock.close()


def test_shown_secrets_masks_what_it_finds() -> None:
    token = "0123456789abcdef0123456789abcdef"
    found = shown_secrets(f"error: access_token={token} refused", [token, "not-there-1234", ""])
    assert found == ["0123…"] and token not in str(found)
    assert shown_secrets("nothing here", [token]) == []


def test_secret_patterns_catch_credentials_not_placeholders() -> None:
    planted = ["user_key = 'a3f1c2d4e5f60718293a4b5c6d7e8f90'", "Authorization: Bearer abcdefghijklmnop1234",
               "-----BEGIN " + "PRIVATE KEY-----", "sk-" + "A" * 24]
    assert all(any(p.search(text) for p in SECRET_PATTERNS) for text in planted)
    assert not any(p.search("user_key = '<your key>'  # see the portal") for p in SECRET_PATTERNS)


def test_the_checker_is_loaded_once() -> None:
    assert check_secrets() is check_secrets() and hasattr(check_secrets(), "scan")


def test_unique_names_differ() -> None:
    assert unique("p").startswith("p-") and len(unique("p")) == 10 and unique("p") != unique("p")
    assert suffixed("acc_").startswith("acc_") and len(suffixed("acc_")) == 12
