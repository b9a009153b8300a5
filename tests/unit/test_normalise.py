"""One normalisation for reconcile and verification (maas_helpers/normalise.py): porta keeps a backend's
private endpoint with the scheme's port (backend_api.rb), fees as decimals whose JSON form varies
(db/schema.rb `plans`: decimal, default 0.0), and Keycloak keeps redirect URIs as a set (ClientModel)."""

from __future__ import annotations

from decimal import Decimal

from maas_helpers.normalise import comparable, endpoint, money, public_url, same_endpoint


def test_a_backend_url_without_port_equals_what_porta_stores() -> None:
    assert same_endpoint("http://granite.llm", "http://granite.llm:80")
    assert same_endpoint("https://granite.llm/v1/", "https://granite.llm:443/v1")
    assert not same_endpoint("http://granite.llm", "http://granite.llm:8080")
    assert not same_endpoint("http://granite.llm:443", "https://granite.llm")
    assert endpoint("http://h:9000/x") == "http://h:9000/x"


def test_public_urls_lose_only_the_trailing_slash() -> None:
    assert public_url("https://gw.example/") == "https://gw.example"
    assert public_url(None) == ""


def test_money_compares_porta_strings_and_numbers_as_decimals() -> None:
    assert money("10.0") == money(10) == Decimal(10)
    assert money(None) == money("") == 0
    assert comparable("setup_fee", None) == 0  # porta's fee columns are never null
    assert comparable("description", None) is None  # other fields are compared as they are


def test_redirect_uris_compare_as_sets() -> None:
    assert comparable("redirectUris", ["b", "a"]) == comparable("redirectUris", ["a", "b"])
    assert comparable("redirectUris", ["a"]) != comparable("redirectUris", ["a", "b"])
