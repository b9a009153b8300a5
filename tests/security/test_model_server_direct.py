"""Issue 28 item 12 (low): the sandbox model server answered anyone on loopback, its unauthenticated
`/sandbox/last-request` showed the last user's prompt and the product's secret token, and `DELETE /sandbox/requests`
reset the log. The attack as described, now without effect: a direct call is refused (the effect a NetworkPolicy has
on a cluster), the request log needs the admin token, and a reset without it changes nothing.

Upstream: APIcast sends the proxy `secret_token` upstream as `X-3scale-proxy-secret-token`
(gateway/conf.d/apicast.conf); the gateway replaces a client's header of that name (test_hostile_input.py)."""

from __future__ import annotations

import pytest
import requests

from maas_sandbox.control import SandboxInfo

from harness import loopback as lb

PROMPT = "my private prompt 4711"


@pytest.fixture(scope="module")
def product(secured: SandboxInfo) -> lb.Product:
    return lb.build_product(lb.Admin(secured))


def test_the_last_request_and_the_secret_token_are_not_readable_without_the_admin_token(
        secured: SandboxInfo, product: lb.Product) -> None:
    app = product.apps[0] if product.apps else product.new_app()
    body = {"model": lb.chat_model(secured), "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 4}
    sent = requests.post(product.production + "/v1/chat/completions", json=body, timeout=10,
                         headers={"Authorization": f"Bearer {app.key}"})
    assert sent.status_code == 200
    secret = lb.Admin(secured).call("GET", f"/admin/api/services/{product.id}/proxy.json")["proxy"]["secret_token"]
    for headers in ({}, {"Authorization": "Bearer guess"}, {"X-3scale-proxy-secret-token": secret}):
        peek = requests.get(secured.models_url + "/sandbox/last-request", headers=headers, timeout=10)
        assert peek.status_code == 401
        assert PROMPT not in peek.text and secret not in peek.text
    assert PROMPT in lb.model_server_log(secured, "/sandbox/last-request").text  # the admin still can


def test_resetting_the_request_log_needs_the_admin_token(secured: SandboxInfo, product: lb.Product) -> None:
    before = lb.model_requests(secured)
    assert before > 0 or product.id
    assert requests.delete(secured.models_url + "/sandbox/requests", timeout=10).status_code == 401
    assert lb.model_requests(secured) == before


def test_a_direct_model_call_is_refused_and_not_served(secured: SandboxInfo, product: lb.Product) -> None:
    before = lb.model_requests(secured)
    body = {"model": lb.chat_model(secured), "messages": [{"role": "user", "content": "free tokens?"}],
            "max_tokens": 64}
    for headers in ({}, {"X-3scale-proxy-secret-token": "Shared_secret_sent_from_proxy_to_API_backend_0000"}):
        direct = requests.post(secured.models_url + "/v1/chat/completions", json=body, headers=headers, timeout=10)
        assert direct.status_code == 403 and direct.json()["error"]["code"] == "direct_access_refused"
        assert "choices" not in direct.json()
    assert lb.model_requests(secured) == before  # nothing reached the model
