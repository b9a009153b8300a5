"""The sandbox's Admin/Master API over plain HTTP, token in the query as the 3scale-api client sends it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from maas_sandbox.control import SandboxInfo

ROOT = Path(__file__).resolve().parents[2]
LLM_MANIFEST = ROOT / "policies" / "llm-metrics" / "1.0.0" / "apicast-policy.json"
T0 = "2025-06-04T10:30:30Z"  # a Wednesday, mid-minute: no period rolls over while the clock is frozen here


class AdminHTTP:
    """Raw responses: `token` is "admin" (default), "master", a token value, or None (no token at all)."""

    def __init__(self, info: SandboxInfo) -> None:
        self.info = info
        self.base = info.admin_url
        self.session = requests.Session()

    def request(self, method: str, path: str, token: str | None = "admin", **kwargs: Any) -> requests.Response:
        params = dict(kwargs.pop("params", {}) or {})
        if token == "admin":
            params["access_token"] = self.info.admin_token
        elif token == "master":
            params["access_token"] = self.info.master_token
        elif token is not None:
            params["access_token"] = token
        return self.session.request(method, self.base + path, params=params, timeout=30, **kwargs)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)

    def set_clock(self, now: str | None = None, *, advance: float | None = None, freeze: bool = False) -> Any:
        """The sandbox's test clock (a sandbox started with test_clock=True): set, freeze or advance it."""
        body: dict[str, Any] = {"freeze": freeze}
        if now is not None:
            body["now"] = now
        if advance is not None:
            body["advance"] = advance
        resp = self.put("/sandbox/api/clock.json", token="master", json=body)
        resp.raise_for_status()
        return resp.json()["clock"]

    def advance_clock(self, seconds: float) -> Any:
        return self.set_clock(advance=seconds)

    def reset_clock(self) -> None:
        self.put("/sandbox/api/clock.json", token="master", json={"reset": True}).raise_for_status()


class Admin(AdminHTTP):
    """`call` returns the decoded body and fails (AssertionError) on anything but 200/201, for building state."""

    def call(self, method: str, path: str, *, token: str | None = None, **kw: Any) -> Any:
        resp = self.request(method, path, token=token or "admin", **kw)
        if resp.status_code not in (200, 201):
            raise AssertionError(f"{method} {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else None

    def freeze_clock(self, now: str = T0) -> None:
        self.call("PUT", "/sandbox/api/clock.json", token=self.info.master_token, json={"now": now, "freeze": True})

    def register_llm_metrics(self) -> None:
        registry = self.call("GET", "/admin/api/registry/policies.json")
        names = {p["policy"]["name"] for p in registry.get("policies", [])}
        if "llm-metrics" not in names:
            schema = json.loads(LLM_MANIFEST.read_text())
            self.call(
                "POST", "/admin/api/registry/policies.json",
                json={"name": "llm-metrics", "version": "1.0.0", "schema": schema},
            )

    def usage(self, app_id: int, metric: str, day: str = T0[:10]) -> int:
        body = self.call(
            "GET", f"/stats/applications/{app_id}/usage.json",
            params={"metric_name": metric, "period": "day", "since": day},
        )
        return int(body["total"])
