"""Issue 28 item 8: one request must not blow past a token quota.

The attack: one `POST /v1/embeddings` with 2,048 inputs on an application of the kit's Free plan (20,000
tokens a day, 2,000 a minute) used to get 200 and count ~563,200 tokens, because admission only checked
usage + in-flight reservations + 1. Admission now asks for usage + reservations + this request's own upper
bound (body bytes for the prompt; max_tokens x n, a default, or nothing for embeddings, for the completion:
maas_sandbox/gateway/llm_metrics.estimate_usage, the same numbers as the Lua policy's
llm_metrics_quota.estimate; shared case "quota: 2,048 embedding inputs ..." in policies/llm-metrics/cases.json).
Over real HTTP against an own sandbox (clock frozen mid-minute, so no period rolls over), with the kit's own
Free plan limits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import requests

from maas_helpers.catalogue import default_plans
from maas_sandbox.control import SandboxInfo
from maas_sandbox.models.catalogue import EMBEDDING_MODEL

from harness import loopback as lb
from harness.sandbox import running

TEXT = "The quick brown fox jumps over the lazy dog while the gateway counts every token it sees. " * 12


@pytest.fixture(scope="module")
def quota_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    with running(tmp_path_factory.mktemp("quota") / "state") as info:
        lb.Admin(info).freeze_clock()
        yield info


def _counted(info: SandboxInfo, app: lb.App, expected: int) -> int:
    """What the backend recorded for the app, once the write-behind (0.5 s) had the time to land."""
    deadline = time.monotonic() + 5
    while True:
        counted = lb.Admin(info).usage(app.id, "total_tokens")
        if counted == expected or time.monotonic() > deadline:
            return counted
        time.sleep(0.1)


def _free_product(info: SandboxInfo) -> tuple[lb.Product, lb.App]:
    admin = lb.Admin(info)
    admin.register_llm_metrics()
    product = lb.build_product(admin, chain=[lb.CORS, lb.llm_metrics(["total_tokens"]), lb.APICAST], promote=False)
    admin.call(
        "POST", f"/admin/api/services/{product.id}/proxy/mapping_rules.json",
        data={"http_method": "POST", "pattern": "/v1/embeddings", "metric_id": product.metrics["hits"], "delta": 1},
    )
    admin.call("POST", f"/admin/api/services/{product.id}/proxy/deploy.json")
    product.promote()
    free = next(plan for plan in default_plans() if plan.system_name == "free")
    for limit in free.limits:
        product.limit("free", limit.metric, limit.period, limit.value)
    return product, product.new_app("free")


def test_2048_embedding_inputs_on_a_free_application_are_refused_whole(quota_sandbox: SandboxInfo) -> None:
    product, app = _free_product(quota_sandbox)
    daily = next(limit.value for limit in next(p for p in default_plans() if p.system_name == "free").limits
                 if limit.metric == "total_tokens" and limit.period == "day")
    assert daily == 20_000
    body = json.dumps({"model": EMBEDDING_MODEL, "input": [TEXT] * 2048}).encode()
    served_before = lb.model_requests(quota_sandbox)

    r = requests.post(
        product.production + "/v1/embeddings", data=body,
        headers={"Authorization": f"Bearer {app.key}", "Content-Type": "application/json"}, timeout=60,
    )

    assert r.status_code == 429, r.text[:200]
    # The refusal names the limit and its period (the longest exceeded one), what is left, what was asked.
    assert r.headers["X-LLM-Quota"] == (
        f"metric=total_tokens; limit={daily}; period=day; remaining={daily}; requested={len(body)}"
    )
    assert int(r.headers["Retry-After"]) > 0
    assert lb.model_requests(quota_sandbox) == served_before  # the model never saw it
    time.sleep(1)  # two write-behind intervals: anything counted would have landed
    assert lb.Admin(quota_sandbox).usage(app.id, "total_tokens") == 0  # and nothing was counted


def test_a_request_whose_bound_fits_is_served_and_counted_within_it(quota_sandbox: SandboxInfo) -> None:
    product, app = _free_product(quota_sandbox)
    body = json.dumps({"model": EMBEDDING_MODEL, "input": [TEXT[:200]] * 4}).encode()
    r = requests.post(
        product.production + "/v1/embeddings", data=body,
        headers={"Authorization": f"Bearer {app.key}", "Content-Type": "application/json"}, timeout=60,
    )
    assert r.status_code == 200, r.text[:200]
    counted = r.json()["usage"]["total_tokens"]
    assert 0 < counted <= len(body)  # the bound admission asked for holds: no overshoot
    assert _counted(quota_sandbox, app, counted) == counted
