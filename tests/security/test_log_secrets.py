"""Issue 28 item 6: the admin token never reaches `sandbox.log`. Before the fix the developer portal forwarded each
view of a usage chart to the Admin API with `access_token=` in the query string, httpx logged the full URL at
INFO, and the log file was 0644. Now the portal sends the token in a header (HTTP Basic, as porta accepts it),
every log handler masks token-shaped values (maas_sandbox/log_masking.py) and the log files are 0600 in a 0700
directory. Figure: 0 occurrences of either sandbox token in any log file after 5 chart views and an Admin API
call with the token in its URL.
"""

from __future__ import annotations

import importlib.util
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from maas_sandbox.control import SandboxInfo

from harness.admin import AdminHTTP
from harness.sandbox import running
from harness.secrets import sandbox_tokens, shown_secrets

_spec = importlib.util.spec_from_file_location(
    "portal_tests", Path(__file__).resolve().parents[1] / "sandbox" / "test_portal.py")
portal_tests = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules.setdefault("portal_tests", portal_tests)
_spec.loader.exec_module(portal_tests)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxInfo, object]]:
    with running(tmp_path_factory.mktemp("logs") / "state") as info:
        yield info, portal_tests.portal_setup.setup_portal(info, AdminHTTP(info))


def test_usage_chart_views_leave_no_token_in_the_logs(portal) -> None:
    info, setup = portal
    session, token = portal_tests.signed_up(setup, "logan")
    url, _key = portal_tests.create_app(setup, session, token, "chart-app")
    app_id = url.rsplit("/", 1)[1]
    for _ in range(5):
        chart = session.get(f"{setup.portal_url}/stats/api/applications/{app_id}/usage.json", timeout=10,
                            params={"metric_name": "hits", "period": "day", "since": "2026-01-01"})
        assert chart.status_code == 200, chart.text[:200]
    # a client that puts the token in the URL itself (as the 3scale docs allow) is logged masked too
    assert AdminHTTP(info).get("/admin/api/services.json").status_code == 200
    time.sleep(0.5)

    logs = info.state_dir / "logs"
    files = [p for p in logs.iterdir() if p.is_file()]
    text = "\n".join(p.read_text(errors="replace") for p in files)
    assert "usage.json" in text or "HTTP Request" in text or files, "nothing logged: the check proved nothing"
    assert shown_secrets(text, sandbox_tokens(info)) == []
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path.name} is {oct(path.stat().st_mode)}"


def test_the_portal_sends_the_token_in_a_header(portal) -> None:
    """The Admin API accepts the portal's call without any token in its URL (HTTP Basic)."""
    info, _setup = portal
    resp = requests.get(f"{info.admin_url}/admin/api/services.json", auth=("", info.admin_token), timeout=10)
    assert resp.status_code == 200
