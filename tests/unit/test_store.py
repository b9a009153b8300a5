"""The generic object store: filters (incl. booleans and a field named `kind`), transactions, generation."""

from __future__ import annotations

from pathlib import Path

import pytest

from maas_sandbox.store import Store


def test_filters_on_booleans_and_kind_field(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    a = store.insert("plan", {"name": "a", "default": True})
    store.insert("plan", {"name": "b", "default": False})
    assert [p["id"] for p in store.list("plan", default=True)] == [a["id"]]
    assert [p["name"] for p in store.list("plan", default=False)] == ["b"]
    store.insert("authentication_provider", {"kind": "keycloak"})
    assert store.first("authentication_provider", kind="keycloak")["kind"] == "keycloak"
    assert store.first("authentication_provider", kind="github") is None


def test_transaction_rolls_back_and_generation_counts_commits(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    start = store.generation
    with pytest.raises(RuntimeError), store.transaction():
        store.insert("service", {"name": "x"})
        raise RuntimeError("boom")
    assert store.list("service") == [] and store.generation == start
    with store.transaction():
        s = store.insert("service", {"name": "y"})
        store.update("service", s["id"], {"name": "z"})
    assert store.generation == start + 1
    assert store.get("service", s["id"])["name"] == "z"
    assert store.get("plan", s["id"]) is None  # ids are typed by kind
    assert store.delete_where("service", name="z") == 1


def test_persists_across_reopen_and_counters_never_reuse(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    obj = store.insert("backend_api", {"name": "b"})
    assert store.next_counter("slot") == 1 and store.next_counter("slot") == 2
    store.close()
    again = Store(tmp_path / "db.sqlite")
    assert again.get("backend_api", obj["id"])["name"] == "b"
    assert again.next_counter("slot") == 3


def test_ids_outside_the_sqlite_range_are_simply_absent(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    assert store.get("service", 99999999999999999999) is None
    assert store.get("service", "-1") is None
    assert store.delete("service", 2**64) is False
