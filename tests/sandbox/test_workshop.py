"""`maas workshop` against a live sandbox over HTTP: bad input first, 25 up, re-run 0 writes, 30 adds 5, every
handout key calls its model through the gateway, `watch --once` totals = traffic sent, `reset` makes old keys
fail 403 (from their second call, as APIcast's auth cache), `down` removes exactly the workshop's objects.

Upstream followed: porta 3scale-2.16-stable config/routes.rb + app/controllers/admin/api/{signups,
buyers_applications}_controller.rb (signup, applications, `user_key` on update), the Analytics API
(`/stats/applications/{id}/usage.json`); Keycloak's admin REST UsersResource for SSO users.
The tests run in file order on one module sandbox (each builds on the room the previous one left).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from maas_helpers.cli import app
from maas_helpers.errors import ConfigError
from maas_helpers.kit import Kit
from maas_helpers.results import Change
from maas_helpers.workshop import Workshop, WorkshopSpec

from harness.sandbox import applied_kit, running

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def info(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # Its own sandbox: the applied catalogue's products would collide with the session sandbox's other users.
    with running(tmp_path_factory.mktemp("workshop") / "state") as state:
        yield state


@pytest.fixture(scope="module")
def kit(info: Any) -> Kit:
    return applied_kit(info, "MaaS Test Org")


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("handout")


@pytest.fixture(scope="module")
def room(kit: Kit, out_dir: Path) -> Workshop:
    return Workshop(kit, out_dir)


def _rows(out_dir: Path) -> list[dict[str, str]]:
    with (out_dir / "attendees.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _call(row: dict[str, str]) -> requests.Response:
    model, endpoint, key = row["model"], row["endpoint"], row["key"]
    headers = {"Authorization": f"Bearer {key}"}
    if "embed" in model:
        return requests.post(f"{endpoint}/v1/embeddings", json={"model": model, "input": "hi"}, headers=headers,
                             timeout=30)
    body = {"model": model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4}
    return requests.post(f"{endpoint}/v1/chat/completions", json=body, headers=headers, timeout=30)


def _cli(info: Any, out_dir: Path, *args: str) -> Any:
    runner = CliRunner()
    return runner.invoke(app, ["workshop", *args, "--state-dir", str(info.state_dir), "--out-dir", str(out_dir),
                               "--config", str(out_dir / "no-config.yaml")], env={"COLUMNS": "200"})


def test_bad_input_is_one_line_before_any_write(kit: Kit, room: Workshop) -> None:
    for bad in ({"attendees": 0}, {"attendees": 501}, {"attendees": 3, "prefix": "Team 1"},
                {"attendees": 3, "prefix": "1team"}):
        with pytest.raises(ConfigError) as err:
            WorkshopSpec(**bad)  # type: ignore[arg-type]
        assert "\n" not in str(err.value)
    kit.admin.reset_counts()
    with pytest.raises(ConfigError, match="realm 'maas' does not exist"):  # SSO not configured yet
        room.up(WorkshopSpec(prefix="team", attendees=3))
    kit.apply("sso")
    room.reset_counts()
    with pytest.raises(ConfigError, match="no plan 'gold'"):
        room.up(WorkshopSpec(prefix="team", attendees=3, plan="gold"))
    with pytest.raises(ConfigError, match="unknown model 'gpt-9'"):
        room.up(WorkshopSpec(prefix="team", attendees=3, models=("gpt-9",)))
    assert room.writes == 0, (dict(kit.admin.calls), dict(room.sso.calls))


def test_up_25_then_rerun_writes_nothing_then_30_adds_5(kit: Kit, room: Workshop, out_dir: Path) -> None:
    models = [p.system_name for p in kit.catalogue.products]
    room.reset_counts()
    first = room.up(WorkshopSpec(prefix="team", attendees=25))
    assert first.counts[Change.CREATED.value] == 25 * (2 + len(models)), str(first)
    # + 1 Admin API write per attendee: Signup Express leaves the user pending (porta), the kit activates it;
    # + 1 accept step per application: Standard is priced, so it needs approval (issue 28 item 4)
    assert room.writes == 25 * (3 + 2 * len(models)) and first.writes == 25 * (2 + 2 * len(models))
    assert kit.admin.writes == 25 * (2 + 2 * len(models)) and room.sso.writes == 25
    rows = _rows(out_dir)
    assert len(rows) == 25 * len(models) and len({r["username"] for r in rows}) == 25
    for name in ("attendees.csv", "handout.html"):
        assert oct((out_dir / name).stat().st_mode & 0o777) == "0o600"
    secrets_seen = {r["key"] for r in rows} | {r["temporary_password"] for r in rows}
    assert not any(s in str(first) for s in secrets_seen)  # the result (what the terminal shows) has none
    page = (out_dir / "handout.html").read_text()
    assert page.count('class="card"') == 25 and page.count("<svg") == 25 and "@media print" in page
    assert rows[0]["key"] in page and rows[0]["temporary_password"] in page

    room.reset_counts()
    again = room.up(WorkshopSpec(prefix="team", attendees=25))
    assert room.writes == 0 and again.in_sync, (dict(kit.admin.calls), dict(room.sso.calls))
    assert again.counts[Change.UNCHANGED.value] == 25
    assert _rows(out_dir) == rows  # same passwords and keys in the regenerated handout

    room.reset_counts()
    more = room.up(WorkshopSpec(prefix="team", attendees=30))
    created = sorted({a.name.split()[0] for a in more.actions if a.change is Change.CREATED})
    assert created == [f"team-{n:03d}" for n in range(26, 31)]
    assert room.writes == 5 * (3 + 2 * len(models))
    accounts = kit.admin.get_json("/admin/api/accounts.json")["accounts"]
    assert sum(1 for a in accounts if a["account"]["org_name"].endswith("[maas-workshop]")) == 30


def test_every_handout_key_calls_its_model(out_dir: Path) -> None:
    rows = _rows(out_dir)
    assert len(rows) == 30 * 3
    failures = [(r["username"], r["model"], resp.status_code) for r in rows if (resp := _call(r)).status_code != 200]
    assert not failures


def test_watch_once_totals_equal_the_traffic_sent(info: Any, room: Workshop, out_dir: Path) -> None:
    assert _cli(info, out_dir, "reset", "--usage").exit_code == 0  # count from now: earlier calls do not show
    rows = [r for r in _rows(out_dir) if r["model"] == "markov-chat-small"]
    sent: dict[str, int] = {}
    tokens = 0
    for row, times in ((rows[0], 3), (rows[4], 2), (rows[7], 1)):
        for _ in range(times):
            resp = _call(row)
            assert resp.status_code == 200
            tokens += resp.json()["usage"]["total_tokens"]
        sent[row["username"]] = times
    board = {r.username: r for r in room.board()}
    assert {u: r.requests for u, r in board.items() if r.requests} == sent
    assert sum(r.tokens for r in board.values()) == tokens
    shown = _cli(info, out_dir, "watch", "--once")
    assert shown.exit_code == 0, shown.output
    room_line = next(line for line in shown.output.splitlines() if "room (3/30 active)" in line)
    assert re.findall(r"\d+", room_line.split(")", 1)[1])[:2] == [str(sum(sent.values())), str(tokens)]
    assert not any(r["key"] in shown.output for r in _rows(out_dir))


def test_reset_between_sessions_new_keys_new_temporary_passwords_handout_rewritten(
        info: Any, room: Workshop, out_dir: Path) -> None:
    """Issue 29 item 9: a reset separates sessions. Keys: new (an old one 403 from its 2nd call). Passwords: a new
    temporary one per SSO user (Keycloak `reset-password` with temporary → UPDATE_PASSWORD required) and the
    user's sessions ended (`POST …/users/{id}/logout`), so a password set in the last session no longer signs
    in. The handout holds exactly the new keys and passwords."""
    old = _rows(out_dir)
    result = _cli(info, out_dir, "reset")
    assert result.exit_code == 0, result.output
    assert "120 updated" in result.output  # 90 keys + 30 SSO users
    assert not any(r["key"] in result.output or r["temporary_password"] in result.output for r in old)
    new = {(r["username"], r["model"]): r for r in _rows(out_dir)}
    for row in old[:3]:
        # APIcast's strict auth cache (proxy.lua, backend/cache_handler.lua): the old key was authorised for this
        # call before, so its first call is served; the refused report drops it and the next is a 403
        assert _call(row).status_code == 200
        refused = _call(row)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "invalid_api_key"
        fresh = new[(row["username"], row["model"])]
        assert fresh["key"] != row["key"] and _call(fresh).status_code == 200
        assert fresh["temporary_password"] != row["temporary_password"]
    users = {u["username"]: u for u in room.sso.with_attribute("maas_workshop", "team")}
    assert len(users) == 30 and all("UPDATE_PASSWORD" in u.get("requiredActions", []) for u in users.values())
    page = (out_dir / "handout.html").read_text()
    assert all(r["temporary_password"] in page and r["key"] in page for r in new.values())
    assert not any(r["temporary_password"] in page for r in old)


def test_one_folder_per_room_another_rooms_handout_is_never_overwritten(kit: Kit, out_dir: Path) -> None:
    before = (out_dir / "attendees.csv").read_bytes()
    with pytest.raises(ConfigError, match="holds the handout of room 'team'"):
        Workshop(kit, out_dir).up(WorkshopSpec(attendees=1, prefix="other"))
    assert (out_dir / "attendees.csv").read_bytes() == before


def test_down_removes_exactly_the_workshop(info: Any, kit: Kit, room: Workshop, out_dir: Path) -> None:
    # A look-alike that is not the workshop's: same username pattern, no marker in its org name.
    other = kit.admin.send_json("POST", "/admin/api/signup.json", {
        "org_name": "Another team", "username": "team-999", "email": "team-999@other.example"})["account"]
    before = {a["account"]["id"] for a in kit.admin.get_json("/admin/api/accounts.json")["accounts"]}
    sso_before = room.sso.with_attribute("maas_workshop", "team")
    assert len(sso_before) == 30
    result = _cli(info, out_dir, "down", "--yes")
    assert result.exit_code == 0, result.output
    assert "150 deleted" in result.output  # 90 applications + 30 accounts + 30 SSO users
    after = {a["account"]["id"]: a["account"] for a in kit.admin.get_json("/admin/api/accounts.json")["accounts"]}
    assert other["id"] in after and len(before) - len(after) == 30
    assert not any(a["org_name"].endswith("[maas-workshop]") for a in after.values())
    apps = kit.admin.get_json("/admin/api/applications.json")["applications"]
    assert not any(a["application"]["description"].startswith("maas-workshop:") for a in apps)
    assert room.sso.with_attribute("maas_workshop", "team") == []
    demo = requests.get(f"{room.sso.base}?username=demo&exact=true", timeout=10,
                        headers={"Authorization": f"Bearer {info.master_token}"})
    assert demo.status_code == 200 and len(demo.json()) == 1  # the realm's own user stays
    assert not (out_dir / "attendees.csv").exists()


@pytest.mark.parametrize("concurrency", [1, 8])
def test_a_failure_half_way_lists_what_was_done_and_the_next_up_finishes(kit: Kit, room: Workshop,
                                                                          concurrency: int) -> None:
    """One at a time or side by side (maas_helpers/workshop/room.py `execute`), only the failed attendee stops
    and the others finish (issue 23: a taken e-mail is reported per attendee, the rest of the room is set up).
    Rows keep the one-at-a-time order either way."""
    prefix = f"half{concurrency}"
    # Keycloak refuses a second user with the same email (409): attendee 2's SSO user cannot be created.
    blocker = {"username": f"someone-else-{concurrency}", "email": f"{prefix}-002@workshop.example", "enabled": True}
    assert requests.post(room.sso.base, json=blocker, timeout=10,
                         headers={"Authorization": f"Bearer {kit.platform.info.master_token}"}).status_code == 201
    spec = WorkshopSpec(attendees=3, prefix=prefix, models=("markov-chat-small",))
    saved, kit.settings.concurrency = kit.settings.concurrency, concurrency
    try:
        stopped = room.up(spec)
        failed = [a for a in stopped.actions if a.change is Change.FAILED]
        assert [(a.kind, a.name) for a in failed] == [("SSO user", f"{prefix}-002")] and "409" in failed[0].detail
        done = [(a.kind, a.name) for a in stopped.actions if a.change is Change.CREATED]
        first_two = [("account", f"{prefix}-001"), ("application", f"{prefix}-001 markov-chat-small"),
                     ("SSO user", f"{prefix}-001"), ("account", f"{prefix}-002"),
                     ("application", f"{prefix}-002 markov-chat-small")]
        third = [("account", f"{prefix}-003"), ("application", f"{prefix}-003 markov-chat-small"),
                 ("SSO user", f"{prefix}-003")]
        assert done == first_two + third
        assert any("run the same command again" in n for n in stopped.notes)
        blocked = room.sso.session.get(room.sso.base, params={"username": blocker["username"], "exact": "true"}).json()
        room.sso.delete(blocked[0]["id"])
        finished = room.up(spec)
        assert [(a.kind, a.name) for a in finished.actions if a.change is Change.CREATED] == (
            [("SSO user", f"{prefix}-002")])
        assert room.down(prefix).counts[Change.DELETED.value] == 9
    finally:
        kit.settings.concurrency = saved


def test_realm_update_keeps_users_made_through_the_users_api(kit: Kit, room: Workshop) -> None:
    """`maas apply` re-importing the realm (PUT) must not drop the attendees (Keycloak's realm update ignores
    users)."""
    headers = {"Authorization": f"Bearer {kit.platform.info.master_token}"}
    assert requests.post(room.sso.base, json={"username": "kept-001", "enabled": True}, headers=headers,
                         timeout=10).status_code == 201
    realm_url = room.sso.base.rsplit("/users", 1)[0]
    demo = {"username": "demo", "enabled": True}
    assert requests.put(realm_url, json={"realm": "maas", "users": [demo]}, headers=headers, timeout=10).ok
    names = {u["username"] for u in room.sso.session.get(room.sso.base, timeout=10).json()}
    assert {"demo", "kept-001"} <= names


def test_cli_bad_input_is_one_line_and_exit_1(tmp_path: Path) -> None:
    runner = CliRunner()
    for args, expected in ((["-n", "0"], "between 1 and 500"), (["-n", "501"], "between 1 and 500"),
                           (["-n", "2", "--prefix", "No Good"], "not a valid username prefix")):
        result = runner.invoke(app, ["workshop", "up", *args, "--state-dir", str(tmp_path / "none"),
                                     "--out-dir", str(tmp_path)], env={"COLUMNS": "300"})
        assert result.exit_code == 1 and expected in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert not list(tmp_path.iterdir())  # nothing written, no sandbox started
