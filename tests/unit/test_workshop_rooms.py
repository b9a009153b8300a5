"""One folder per room (issue 29 item 9): where the CLI finds a room, and the handout's loopback check."""

from __future__ import annotations

from pathlib import Path

import pytest

from maas_helpers.errors import ConfigError
from maas_helpers.workshop import STATE, room_dir, up_room
from maas_helpers.workshop.handout import loopback_urls


def test_room_dir_is_the_given_folder_else_one_per_prefix_else_the_only_room(tmp_path: Path) -> None:
    assert room_dir(tmp_path / "mine", "ai", base=tmp_path) == tmp_path / "mine"
    assert room_dir(None, "ai", base=tmp_path) == tmp_path / "ai"
    with pytest.raises(ConfigError, match="no room under"):
        room_dir(None, None, base=tmp_path)
    (tmp_path / "ai").mkdir()
    (tmp_path / "ai" / STATE).write_text('{"prefix": "ai"}')
    assert room_dir(None, None, base=tmp_path) == tmp_path / "ai"
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / STATE).write_text('{"prefix": "team"}')
    with pytest.raises(ConfigError, match="several rooms"):
        room_dir(None, None, base=tmp_path)


def test_up_without_prefix_completes_the_one_room_else_draws_a_new_prefix_in_its_own_folder(tmp_path: Path) -> None:
    """Issue 23's unguessable default prefix meets issue 29's one folder per room."""
    where, prefix = up_room(None, None, base=tmp_path)
    assert prefix.startswith("ws") and len(prefix) == 6 and where == tmp_path / prefix
    assert up_room(None, "ai", base=tmp_path) == (tmp_path / "ai", "ai")
    assert up_room(tmp_path / "mine", None, base=tmp_path) == (tmp_path / "mine", "")  # WorkshopSpec draws
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / STATE).write_text('{"prefix": "ws0a1b"}')
    assert up_room(tmp_path / "mine", None, base=tmp_path) == (tmp_path / "mine", "ws0a1b")
    assert up_room(None, None, base=tmp_path) == (tmp_path / "mine", "ws0a1b")
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / STATE).write_text('{"prefix": "team"}')
    with pytest.raises(ConfigError, match="several rooms"):
        up_room(None, None, base=tmp_path)


def test_loopback_urls_are_the_ones_attendees_cannot_reach() -> None:
    urls = ["http://127.0.0.1:8931", "http://localhost:9000/x", "http://[::1]:80", "https://maas.apps.example.com",
            "http://10.0.0.5:8080", "", "http://127.0.0.1:8931"]
    assert loopback_urls(urls) == ["http://127.0.0.1:8931", "http://localhost:9000/x", "http://[::1]:80"]
