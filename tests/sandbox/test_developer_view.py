"""What a developer sees after the kit's apply, over real HTTP on its own sandbox.

- ActiveDocs "Try it out": the example body of every operation in the generated spec
  (maas_helpers/reconcile/openapi.py) answers 200 through the production gateway, as sent by Swagger UI.
- 3scale's sample data (porta app/lib/logic/provider_signup.rb SampleData; app/lib/signup/plans_with_defaults.rb;
  app/models/service.rb `destroyable?`): after apply the sample product `api` has no application plans, so a
  signup gets no application on it; the portal's keys, "Choose a model" and docs pages show neither API nor Echo;
  re-apply writes nothing; destroy leaves the sample product as it is.
- Keys are per product: a key of one product is refused by another product's gateway (APIcast/backend authrep
  per service); what one model answers for another's name is the sandbox's single model server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
import requests

from maas_helpers.kit import Kit

from harness.admin import AdminHTTP
from harness.sandbox import applied_kit, core_sections, running

pytestmark = pytest.mark.timeout(180)
CORE = core_sections()


@pytest.fixture(scope="module")
def info(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running(tmp_path_factory.mktemp("devview") / "state") as state:
        yield state


@pytest.fixture(scope="module")
def kit(info: Any) -> Kit:
    return applied_kit(info, "Dev View Org")


def _admin(info: Any, method: str, path: str, **kw: Any) -> requests.Response:
    return AdminHTTP(info).request(method, path, **kw)


def _service(info: Any, system_name: str) -> dict[str, Any]:
    services = [s["service"] for s in _admin(info, "GET", "/admin/api/services.json").json()["services"]]
    return next(s for s in services if s["system_name"] == system_name)


def _signup(info: Any, name: str) -> requests.Session:
    s = requests.Session()
    page = s.get(info.portal_url + "/signup", timeout=10).text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert token, page[:300]
    resp = s.post(info.portal_url + "/signup", timeout=10, data={
        "authenticity_token": token.group(1), "account[org_name]": f"{name} org",
        "account[user][username]": name, "account[user][email]": f"{name}@example.com",
        "account[user][password]": "s3cret-pass-9"})
    assert resp.status_code == 200 and name in resp.text, resp.text[:400]
    return s


def test_try_it_out_examples_answer_200_through_the_gateway(kit: Kit, info: Any) -> None:
    keys = kit.application_keys()
    docs = [d["api_doc"] for d in _admin(info, "GET", "/admin/api/active_docs.json").json()["api_docs"]]
    sent = []
    for product in kit.catalogue.products:
        doc = next(d for d in docs if d["system_name"] == product.system_name)
        spec = json.loads(doc["body"])
        server = spec["servers"][0]["url"]
        for path, ops in spec["paths"].items():
            for method, op in ops.items():
                body = op.get("requestBody")
                if body is None:
                    continue
                example = body["content"]["application/json"].get("example")
                assert example is not None, f"{product.system_name} {method.upper()} {path}: no example body"
                resp = requests.request(method, server + path, json=example, timeout=60,
                                        headers={"Authorization": f"Bearer {keys[product.system_name]}"})
                assert resp.status_code == 200, f"{product.system_name} {path} {example}: {resp.text[:300]}"
                assert example["model"] == product.model
                sent.append((product.system_name, path))
    assert len(sent) >= len(kit.catalogue.products), sent
    kinds = {p for _, p in sent}
    assert {"/v1/chat/completions", "/v1/embeddings"} <= kinds, kinds


def test_sample_product_has_no_plans_and_echo_is_unpublished(kit: Kit, info: Any) -> None:
    api = _service(info, "api")  # kept: porta refuses to delete the default service
    plans = _admin(info, "GET", f"/admin/api/services/{api['id']}/application_plans.json").json()["plans"]
    assert plans == []
    docs = [d["api_doc"] for d in _admin(info, "GET", "/admin/api/active_docs.json").json()["api_docs"]]
    echo = next(d for d in docs if d["system_name"] == "echo")
    assert echo["published"] is False
    apps = _admin(info, "GET", "/admin/api/applications.json").json()["applications"]
    assert not [a for a in apps if a["application"]["service_id"] == api["id"]]


def test_a_new_signup_sees_no_sample_product(kit: Kit, info: Any) -> None:
    session = _signup(info, "fresh-dev")
    api = _service(info, "api")
    accounts = [a["account"] for a in _admin(info, "GET", "/admin/api/accounts.json").json()["accounts"]]
    account = next(a for a in accounts if a["org_name"] == "fresh-dev org")
    apps = _admin(info, "GET", f"/admin/api/accounts/{account['id']}/applications.json").json()["applications"]
    assert not [a for a in apps if a["application"]["service_id"] == api["id"]], apps
    for path in ("/", "/admin/applications", "/admin/applications/new", "/docs"):
        page = session.get(info.portal_url + path, timeout=10)
        assert page.status_code == 200, path
        assert "Echo" not in page.text and "API signup" not in page.text, path
        assert not re.search(r">\s*API\s*<|API — Model api|service_id=api\b|value=\"api\"", page.text), path
    choose = session.get(info.portal_url + "/admin/applications/new", timeout=10).text
    assert all(p.name in choose for p in kit.catalogue.products)


def _plan_terms(html: str, plan: str) -> str:
    match = re.search(rf'<div class="maas-plan-terms" data-plan="{plan}">(.*?)</div>', html, re.S)
    assert match, f"no terms of plan {plan}: {html[-3000:]}"
    return re.sub(r"\s+", " ", match.group(1))


def test_plan_limits_and_prices_are_shown_where_a_plan_is_chosen_and_on_the_application(kit: Kit, info: Any) -> None:
    """Issue 29 item 3, through porta's Liquid drops (lib/developer_portal/lib/liquid/drops/application_plan.rb
    `usage_limits`, usage_limit.rb, metric.rb `pricing_rules` of every plan, pricing_rule.rb `plan`): the
    choose-plan page lists every published plan's limits and prices, the application page its plan's."""
    session = _signup(info, "plans-dev")
    chat = next(p for p in kit.catalogue.products if p.kind == "chat")
    new = session.get(info.portal_url + f"/admin/applications/new?service_id={chat.system_name}", timeout=10).text
    for plan in chat.plans:
        terms = _plan_terms(new, plan.system_name)
        for limit in plan.limits:
            assert re.search(rf'data-metric="{limit.metric}" data-period="{limit.period}"><strong>{limit.value}'
                             rf"</strong> [^<]* per {limit.period}", terms), (plan.system_name, limit, terms)
        assert ("Free: no fees" in terms) == (not plan.pricing.prices and not plan.pricing.cost_per_month)
    standard = _plan_terms(new, "standard")
    # only the standard plan's own rules (porta's metric.pricing_rules span every plan): 0.5 and 1.5 per 1M
    prices = re.findall(r'<tr data-metric="(\w+)">.*?class="maas-price">([^<]+)<', standard)
    assert sorted(prices) == [("completion_tokens_k", "USD&nbsp;0.0015"), ("prompt_tokens_k", "USD&nbsp;0.0005")]
    assert "per thousand" in standard
    assert "Premium (USD&nbsp;49.00 a month + usage), needs approval" in new

    form = re.search(r'<meta name="csrf-token" content="([^"]+)"', new)
    assert form
    standard_id = re.search(r'<option value="(\d+)">Standard', new)
    assert standard_id
    made = session.post(info.portal_url + "/admin/applications", timeout=10, data={
        "authenticity_token": form.group(1), "cinstance[name]": "plans app",
        "cinstance[plan_id]": standard_id.group(1)})
    assert made.status_code == 200 and "Application was created." in made.text
    shown = _plan_terms(made.text, "standard")
    assert shown == standard and "Limits and prices of the Standard plan" in made.text


def test_notebook_6_table_shows_each_plans_limits_and_prices(kit: Kit) -> None:
    terms = kit.plans.terms()
    chat = next(p for p in kit.catalogue.products if p.kind == "chat")
    for plan in chat.plans:
        row = terms.loc[(chat.system_name, plan.system_name)]
        for limit in plan.limits:
            assert row[(limit.metric, limit.period)] == limit.value
        assert row[("price", "per month")] == float(plan.pricing.cost_per_month)
        by_metric = {p.metric: f"{float(p.per_million or 0):g}" for p in plan.pricing.prices}
        assert row[("price", "prompt per 1M tokens")] == by_metric.get("prompt_tokens", "–")
        assert row[("price", "completion per 1M tokens")] == by_metric.get("completion_tokens", "–")
    assert len(terms) == 3 * len(kit.catalogue.products)


def test_reapply_writes_nothing(kit: Kit) -> None:
    again = [kit.apply(section) for section in CORE]
    assert sum(step.writes for step in again) == 0, [str(s) for s in again if s.writes]
    assert kit.plan("sample_data").in_sync


def test_key_of_one_product_is_refused_by_another_products_gateway(kit: Kit) -> None:
    keys = kit.application_keys()
    products = [p for p in kit.catalogue.products if p.kind == "chat"]
    assert len(products) >= 1
    other = next(p for p in kit.catalogue.products if p.system_name != products[0].system_name)
    links = kit.links()
    url = links[f"{other.system_name} (production)"].rstrip("/") + "/v1/models"
    own = requests.get(url, headers={"Authorization": f"Bearer {keys[other.system_name]}"}, timeout=30)
    assert own.status_code == 200
    foreign = requests.get(url, headers={"Authorization": f"Bearer {keys[products[0].system_name]}"}, timeout=30)
    assert foreign.status_code == 403, foreign.text  # 3scale: "Authentication failed"


def test_one_products_gateway_reaches_every_sandbox_model(kit: Kit) -> None:
    """What the issue saw: all sandbox backends are one model server serving every model, so a chat product's
    key, on its own gateway, gets an answer for another model's name (counted on the chat product's plan).
    On a cluster each backend is one vLLM serving one model, which answers 404 for another name."""
    keys = kit.application_keys()
    chat = next(p for p in kit.catalogue.products if p.kind == "chat")
    other = next(p for p in kit.catalogue.products if p.kind == "completion")
    url = kit.links()[f"{chat.system_name} (production)"].rstrip("/") + "/v1/chat/completions"
    resp = requests.post(url, headers={"Authorization": f"Bearer {keys[chat.system_name]}"}, timeout=30,
                         json={"model": other.model, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status_code == 200 and resp.json()["model"] == other.model, resp.text[:300]
    servers = {urlparse(p.backend.private_endpoint).netloc for p in kit.catalogue.products}
    assert len(servers) == 1, servers  # every backend is the same host:port


def _app_on_own_plan(info: Any, service_id: int, metric: str, value: int) -> str:
    """A plan outside the catalogue with one lifetime limit (no minute roll-over in the test), and an
    application of the account `Developer` on it; returns its key."""
    name = f"sdk-{metric}-{value}"
    plan = _admin(info, "POST", f"/admin/api/services/{service_id}/application_plans.json",
                  data={"name": name, "system_name": name.replace("-", "_")}).json()["application_plan"]
    metrics = _admin(info, "GET", f"/admin/api/services/{service_id}/metrics.json").json()["metrics"]
    metric_id = next(m["metric"]["id"] for m in metrics if m["metric"]["system_name"] == metric)
    _admin(info, "POST", f"/admin/api/application_plans/{plan['id']}/metrics/{metric_id}/limits.json",
           data={"period": "eternity", "value": value}).raise_for_status()
    accounts = _admin(info, "GET", "/admin/api/accounts.json").json()["accounts"]
    account = next(a["account"] for a in accounts if a["account"]["org_name"] == "Developer")
    app = _admin(info, "POST", f"/admin/api/accounts/{account['id']}/applications.json",
                 data={"plan_id": plan["id"], "name": name, "description": "SDK error test"})
    assert app.status_code == 201, app.text
    return str(app.json()["application"]["user_key"])


def test_openai_sdk_exceptions_carry_the_gateways_error_message(kit: Kit, info: Any) -> None:
    """Issue 29 item 2: the catalogue sets each product's proxy error bodies (porta proxy.rb fields) to OpenAI's
    JSON shape, so the OpenAI SDK's exception text carries `error.message`: a missing key (401), a wrong key
    (403), an unmapped path (404), a hits 429 (says where limits are shown) and the llm-metrics token 429
    (names the limit and its period)."""
    import openai

    chat = next(p for p in kit.catalogue.products if p.kind == "chat")
    base = kit.links()[f"{chat.system_name} (production)"].rstrip("/") + "/v1"
    key = kit.application_keys()[chat.system_name]
    messages = [{"role": "user", "content": "hello there"}]

    def refusal(api_key: str, call: Any) -> openai.APIStatusError:
        client = openai.OpenAI(base_url=base, api_key=api_key, max_retries=0, timeout=30)
        with pytest.raises(openai.APIStatusError) as caught:
            call(client)
        return caught.value

    # no key: the SDK insists on one, so the request leaves its Authorization header out (`Omit`)
    missing = refusal("unused", lambda c: c.models.list(extra_headers={"Authorization": openai.Omit()}))
    assert missing.status_code == 401 and "No API key provided" in str(missing), str(missing)
    wrong = refusal("not-a-key", lambda c: c.models.list())
    assert isinstance(wrong, openai.PermissionDeniedError) and "Incorrect API key" in str(wrong), str(wrong)
    assert wrong.code == "invalid_api_key"
    unmapped = refusal(key, lambda c: c.embeddings.create(model=chat.model, input="x"))  # a chat product
    assert isinstance(unmapped, openai.NotFoundError) and "Unknown path or method" in str(unmapped)

    service_id = _service(info, chat.system_name)["id"]
    hits_key = _app_on_own_plan(info, service_id, "hits", 2)
    for _ in range(2):
        openai.OpenAI(base_url=base, api_key=hits_key, max_retries=0).models.list()
    hits = refusal(hits_key, lambda c: c.models.list())
    assert isinstance(hits, openai.RateLimitError) and hits.code == "rate_limit_exceeded"
    assert "limits of each plan are shown on the developer portal page /admin/applications" in str(hits)

    tokens_key = _app_on_own_plan(info, service_id, "total_tokens", 5)
    tokens_client = openai.OpenAI(base_url=base, api_key=tokens_key, max_retries=0, timeout=30)
    tokens = None
    for _ in range(3):  # refused once the quota (or, with a request bound, this request) no longer fits
        try:
            tokens_client.chat.completions.create(model=chat.model, messages=messages, max_tokens=16)
        except openai.APIStatusError as exc:
            tokens = exc
            break
    assert isinstance(tokens, openai.RateLimitError)
    assert "Token quota of your plan reached: 5 total_tokens in total." in str(tokens), str(tokens)


def test_priced_traffic_gives_notebook_11_a_cost_for_the_same_products(kit: Kit) -> None:
    """Issue 29 item 4: tokens are billed per thousand (`*_tokens_k`, remainder carried), so notebook 11 first
    spends a bounded number of tokens on the priced Standard plan; the cost table lists the usage tables'
    products."""
    import time

    from maas_helpers import billing, usage

    sent = kit.usage.send_priced_traffic(1200)
    assert len(sent) == 1 and sent.plan.iloc[0] == "standard", sent
    assert sent.completion_tokens.iloc[0] >= 1200 and sent.calls.iloc[0] <= usage.PRICED_CALLS_MAX
    deadline = time.monotonic() + 10
    while True:  # usage is written behind (at least every second)
        summary = billing.cost_summary(kit.usage.cost())
        if summary.usage_cost.sum() > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    product = sent["product"].iloc[0]
    by_product = kit.usage.cost_by_product(summary)
    assert by_product.loc[product, "usage_cost"] >= 0.0015  # one thousand completion tokens at 1.5 per 1M
    assert list(by_product.index) == list(kit.usage.summary().by_product["product"])
    assert set(summary["product"]) <= set(by_product.index)  # no product outside the catalogue
    assert kit.usage.send_priced_traffic(0).empty


def test_destroy_leaves_the_sample_product_alone(kit: Kit, info: Any) -> None:
    result = kit.destroy()
    assert result.writes > 0
    api = _service(info, "api")
    plans = _admin(info, "GET", f"/admin/api/services/{api['id']}/application_plans.json").json()["plans"]
    assert plans == []
    services = {s["service"]["system_name"] for s in _admin(info, "GET", "/admin/api/services.json").json()["services"]}
    assert services.isdisjoint(p.system_name for p in kit.catalogue.products)
