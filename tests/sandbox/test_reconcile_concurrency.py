"""Concurrency and the latency knob, against live sandboxes over HTTP: a full apply at concurrency 1 and 8
gives the same result table and the same Admin API state (normalised: ids, ports and timestamps dropped),
re-apply at 8 makes 0 writes, a product the sandbox refuses fails alone, and
MAAS_SANDBOX_ADMIN_LATENCY_MS / MAAS_SANDBOX_DEPLOY_LATENCY_MS delay answers (lower bound, loopback).

Pagination follows porta's app/controllers/admin/api/filters/pagination.rb (per_page 1..500, default 500);
deploy and promote paths follow porta's config/routes.rb (proxy deploy, proxy configs promote)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from maas_helpers.admin_client import AdminClient
from maas_helpers.catalogue import dump_catalogue
from maas_helpers.cli import app
from maas_helpers.kit import Kit
from maas_helpers.reconcile import ProductsFailed
from maas_helpers.results import Change, StepResult
from maas_sandbox import control
from maas_sandbox.control import SandboxInfo
from maas_sandbox.layout import find_free_base_port

from harness.sandbox import running

PORT = re.compile(r"(127\.0\.0\.1|localhost):\d+")
SECRET = re.compile(r"\*{4}[\w-]{4}")  # a masked generated secret (each sandbox generates its own tokens)


def _kit(info: SandboxInfo, concurrency: int) -> Kit:
    return Kit.configure(target="sandbox", state_dir=str(info.state_dir), org_name="MaaS Test Org",
                         concurrency=concurrency)


def _table(result: StepResult) -> list[tuple[str, str, str, str]]:
    return [(a.kind, a.name, a.change.value, SECRET.sub("****", PORT.sub("HOST", a.detail))) for a in result.actions]


def _items(body: dict[str, Any] | list[Any], plural: str, singular: str) -> list[dict[str, Any]]:
    rows = body if isinstance(body, list) else body.get(plural, [])  # porta answers some lists bare
    return [row.get(singular, row) for row in rows]


def _dump(admin: AdminClient, kit: Kit) -> dict[str, Any]:
    """What the catalogue owns, by system name, without ids/ports/timestamps: equal dumps = equal state."""
    get = admin.get_json
    services = {s["id"]: s for s in _items(get("/admin/api/services.json"), "services", "service")}
    backends = {b["id"]: b for b in _items(get("/admin/api/backend_apis.json"), "backend_apis", "backend_api")}
    out: dict[str, Any] = {"backends": sorted((b["system_name"], b["name"], PORT.sub("HOST", b["private_endpoint"]))
                                              for b in backends.values())}
    for sid, service in sorted(services.items(), key=lambda kv: kv[1]["system_name"]):
        base = f"/admin/api/services/{sid}"
        metrics = _items(get(f"{base}/metrics.json"), "metrics", "metric")
        names = {m["id"]: m["system_name"] for m in metrics}
        rules = _items(get(f"{base}/proxy/mapping_rules.json"), "mapping_rules", "mapping_rule")
        plans = _items(get(f"{base}/application_plans.json"), "plans", "application_plan")
        limits = {p["system_name"]: sorted((names.get(lim["metric_id"]), lim["period"], lim["value"]) for lim in _items(
            get(f"/admin/api/application_plans/{p['id']}/limits.json"), "limits", "limit")) for p in plans}
        proxy = get(f"{base}/proxy.json")["proxy"]
        staging = get(f"{base}/proxy/configs/sandbox/latest.json", allow_404=True)
        production = get(f"{base}/proxy/configs/production/latest.json", allow_404=True)
        out[service["system_name"]] = {
            "service": (service["name"], service.get("description")),
            "metrics": sorted((m["system_name"], m.get("friendly_name"), m.get("unit")) for m in metrics),
            "rules": sorted((r["http_method"], r["pattern"], names.get(r["metric_id"]), r["delta"], r["last"])
                            for r in rules),
            "chain": get(f"{base}/proxy/policies.json")["policies_config"],
            "auth": {k: proxy.get(k) for k in ("credentials_location", "auth_user_key", "error_status_auth_missing")},
            "plans": [(p["system_name"], p["name"], p["state"], p.get("default")) for p in plans],  # API order
            "limits": limits,
            "usages": sorted((backends[u["backend_id"]]["system_name"], u["path"]) for u in _items(
                get(f"{base}/backend_usages.json"), "backend_usages", "backend_usage") if u["backend_id"] in backends),
            "configs": tuple((c or {}).get("proxy_config", {}).get("version") for c in (staging, production)),
        }
    accounts = _items(get("/admin/api/accounts.json"), "accounts", "account")
    out["apps"] = sorted((a["org_name"], app["name"], services[app["service_id"]]["system_name"], app["plan_id"] > 0)
                         for a in accounts for app in _items(get(f"/admin/api/accounts/{a['id']}/applications.json"),
                                                             "applications", "application"))
    out["subscriptions"] = sorted((a["org_name"], services[s["service_id"]]["system_name"]) for a in accounts
                                  for s in _items(get(f"/admin/api/accounts/{a['id']}/service_subscriptions.json"),
                                                  "service_subscriptions", "service_subscription"))
    out["docs"] = sorted((d["system_name"], d["published"], services.get(d.get("service_id"), {}).get("system_name"))
                         for d in _items(get("/admin/api/active_docs.json"), "api_docs", "api_doc"))
    out["templates"] = sorted(
        (t.get("type"), t.get("system_name") or t.get("title")) for t in _items(
            get("/admin/api/cms/templates.json", params={"per_page": 100}), "collection", "template"))
    return out


def test_concurrency_1_and_8_same_state_and_tables(start_sandbox: Callable[..., SandboxInfo],
                                                    tmp_path: Path) -> None:
    runs = {}
    for concurrency in (1, 8):
        info = start_sandbox(tmp_path / f"c{concurrency}")
        kit = _kit(info, concurrency)
        seen: list[str] = []
        kit.progress = lambda action, seen=seen: seen.append(action.name)
        result = kit.apply()
        assert result.writes > 100 and not any(a.change is Change.FAILED for a in result.actions)
        assert len(seen) == len(result.actions)  # the progress bar advanced once per object
        kit.progress = None
        kit.admin.reset_counts()
        again = kit.apply()
        assert kit.admin.writes == 0 and again.in_sync, dict(kit.admin.calls)
        reads = kit.admin.total_calls
        # a change that 3scale deploys to staging by itself (proxy and chain updates): what was read of the
        # staging config before it must not be trusted afterwards
        catalogue = kit.catalogue.model_copy(deep=True)
        for product in catalogue.products:
            product.authentication = product.authentication.model_copy(update={"error_status_auth_missing": 403})
            product.policies[0] = product.policies[0].model_copy(
                update={"configuration": {**product.policies[0].configuration, "allow_origin": "https://lab.example.org"}})
        kit.catalogue = catalogue
        changed = kit.apply()
        runs[concurrency] = (_table(result), _table(again), _table(changed), _dump(kit.admin, kit), reads)
        control.down(info.state_dir)
    (table1, again1, changed1, dump1, reads1), (table8, again8, changed8, dump8, reads8) = runs[1], runs[8]
    assert table8 == table1  # same rows in the same order
    assert again8 == again1
    assert changed8 == changed1 and ("proxy", "markov-chat-small: authentication", "updated") in {
        row[:3] for row in changed1}
    assert dump8 == dump1
    assert dump1["markov-chat-small"]["configs"][0] == dump1["markov-chat-small"]["configs"][1]  # promoted
    assert reads8 <= reads1 + 2  # the prefetch reads what the sections would have read, not more


def test_failure_in_one_product_is_reported_and_the_rest_complete(fresh_sandbox: SandboxInfo, tmp_path: Path) -> None:
    kit = _kit(fresh_sandbox, 8)
    catalogue = kit.catalogue.model_copy(deep=True)
    broken = catalogue.products[1]
    # 3scale refuses a backend that is not an http(s) URL ("Invalid URL format"); the kit passes it on
    broken.backend = broken.backend.model_copy(update={"private_endpoint": "ftp://models.invalid/v1"})
    kit.catalogue = catalogue
    others = [p.system_name for p in catalogue.products if p is not broken]
    with pytest.raises(ProductsFailed) as caught:
        kit.apply()
    exc = caught.value
    assert list(exc.failed) == [broken.system_name] and exc.completed == others
    assert "backends:" in exc.failed[broken.system_name] and broken.system_name in str(exc)
    failed_rows = [a for a in exc.result.actions if a.change is Change.FAILED]
    assert [(a.kind, a.name) for a in failed_rows] == [("product", broken.system_name)]
    done = {(a.kind, a.name) for a in exc.result.actions}
    for name in others:  # every other product went all the way to production
        assert ("production config", name) in done
    services = {s["system_name"]: s for s in kit.admin.threescale.services.list()}
    assert broken.system_name not in services and set(others) <= set(services)
    for name in others:
        prod = kit.admin.get_json(f"/admin/api/services/{services[name]['id']}/proxy/configs/production/latest.json")
        assert prod["proxy_config"]["version"] >= 1

    # the CLI prints the table (with the failed row), then the one-line error, and exits 1
    path = tmp_path / "broken.yaml"
    dump_catalogue(catalogue, path)
    out = CliRunner().invoke(app, ["apply", str(path), "--state-dir", str(fresh_sandbox.state_dir),
                                   "--concurrency", "8"])
    assert out.exit_code == 1, out.output
    text = " ".join(out.output.split())
    assert f"failed product: {broken.system_name}" in text and "Completed: " + ", ".join(others) in text


def _timed_get(url: str, **params: str) -> float:
    start = time.perf_counter()
    resp = requests.get(url, params=params, timeout=30)
    assert resp.status_code == 200, resp.text[:200]
    return time.perf_counter() - start


def test_latency_knob_delays_admin_answers_and_deploy(tmp_path: Path, sandbox: SandboxInfo) -> None:
    plain = min(_timed_get(f"{sandbox.admin_url}/admin/api/services.json", access_token=sandbox.admin_token)
                for _ in range(3))
    with running(tmp_path / "slow", test_clock=False, admin_latency_ms=250, deploy_latency_ms=600) as info:
        slow = _timed_get(f"{info.admin_url}/admin/api/services.json", access_token=info.admin_token)
        health = _timed_get(f"{info.admin_url}/sandbox/health")
        service = requests.get(f"{info.admin_url}/admin/api/services.json", params={"access_token": info.admin_token},
                               timeout=30).json()["services"][0]["service"]
        start = time.perf_counter()
        resp = requests.post(f"{info.admin_url}/admin/api/services/{service['id']}/proxy/deploy.json",
                             params={"access_token": info.admin_token}, timeout=30)
        deploy = time.perf_counter() - start
        assert resp.ok, resp.text[:200]
    assert slow >= 0.25 and plain < 0.25, (slow, plain)
    assert health < 0.25  # health checks are not delayed
    assert deploy >= 0.6


def test_latency_knob_bad_value_fails_before_start(tmp_path: Path) -> None:
    with pytest.raises(control.SandboxError, match="MAAS_SANDBOX_ADMIN_LATENCY_MS='-5'.*between 0 and 60000"):
        control.up(tmp_path / "never", find_free_base_port(), admin_latency_ms=-5)
    assert not (tmp_path / "never").exists()  # nothing was started or written


def test_warmed_lists_are_kept_without_writes_and_read_again_after_one(fresh_sandbox: SandboxInfo) -> None:
    """The run's first reads go out side by side (reconcile/warm.py); a list read early for a later stage must
    not outlive a write made before that stage: `settle(stage)` forgets what was read for that stage or a later
    one once anything was written, and keeps it all when nothing was (a re-apply)."""
    from maas_helpers.reconcile.context import Context

    kit = _kit(fresh_sandbox, 8)
    ctx = Context(kit.admin, kit.catalogue, concurrency=8)
    ctx.warm({"provider": (0, ctx.provider), "accounts": (2, ctx.accounts)})
    assert {"provider", "accounts"} <= set(ctx.cache)
    reads = kit.admin.total_calls
    ctx.settle(0)
    ctx.settle(2)
    ctx.accounts()
    assert kit.admin.total_calls == reads, "nothing was written: the warmed lists are used as read"

    kit.admin.send_json("POST", "/admin/api/signup.json", {
        "org_name": "Arrived Meanwhile", "username": "meanwhile", "email": "meanwhile@example.com",
        "password": "pw-Meanwhile-1"})
    ctx.settle(1)  # a write happened before stage 1: stage 2's accounts go, stage 0's provider stays
    assert "provider" in ctx.cache and "accounts" not in ctx.cache
    assert "Arrived Meanwhile" in ctx.accounts()  # read again, after the write
