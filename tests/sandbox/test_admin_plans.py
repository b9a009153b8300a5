"""Application, service and account plans, limits and pricing rules on a live sandbox (3scale-api + requests)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.names import unique

DENIED = {"error": "Access denied"}
PERIODS = ("eternity", "year", "month", "week", "day", "hour", "minute")


@pytest.fixture(scope="module")
def product(threescale: Any) -> Any:
    name = unique("plans")
    return threescale.services.create({"name": name, "system_name": name.replace("-", "_")})


def test_application_plan_lifecycle_with_the_real_client(product: Any, admin_http: Any) -> None:
    plans = product.app_plans
    gold = plans.create({"name": "Gold", "system_name": unique("gold"), "state_event": "publish"})
    assert gold["state"] == "published"
    assert gold["default"] is False
    silver = plans.create({"name": "Silver", "system_name": unique("silver")})
    assert silver["state"] == "hidden"

    assert plans.read(gold.entity_id)["name"] == "Gold"
    assert {p["system_name"] for p in plans.list()} >= {gold["system_name"], silver["system_name"]}

    gold.update({"name": "Gold 2", "approval_required": True, "cost_per_month": "9.5"})
    fetched = plans.read(gold.entity_id)
    assert (fetched["name"], fetched["approval_required"], fetched["cost_per_month"]) == ("Gold 2", True, 9.5)

    gold.set_default()
    assert plans.read(gold.entity_id)["default"] is True
    silver.set_default()
    assert plans.read(gold.entity_id)["default"] is False
    assert plans.read(silver.entity_id)["default"] is True

    hidden = admin_http.put(
        f"/admin/api/services/{product.entity_id}/application_plans/{gold.entity_id}.json", json={"state_event": "hide"}
    )
    assert hidden.status_code == 200 and hidden.json()["application_plan"]["state"] == "hidden"

    everything = admin_http.get("/admin/api/application_plans.json").json()
    assert gold.entity_id in {p["application_plan"]["id"] for p in everything["plans"]}

    gold.delete()
    assert not plans.exists(gold.entity_id)
    assert (
        admin_http.get(f"/admin/api/services/{product.entity_id}/application_plans/{gold.entity_id}.json").status_code
        == 404
    )


def test_plan_validation_bodies(product: Any, admin_http: Any) -> None:
    url = f"/admin/api/services/{product.entity_id}/application_plans.json"
    system_name = unique("dup")
    assert admin_http.post(url, json={"name": "A", "system_name": system_name}).status_code == 201
    dup = admin_http.post(url, json={"name": "B", "system_name": system_name})
    assert (dup.status_code, dup.json()) == (422, {"errors": {"system_name": ["has already been taken"]}})
    blank = admin_http.post(url, data={"application_plan[name]": ""})
    assert (blank.status_code, blank.json()) == (422, {"errors": {"name": ["can't be blank"]}})
    wrong = admin_http.post(url, data={"application_plan": "x"})
    assert (wrong.status_code, wrong.json()) == (422, {"error": "Wrong type for parameter: application_plan"})
    assert admin_http.get("/admin/api/services/999999999/application_plans.json").status_code == 404
    assert admin_http.get(f"/admin/api/services/{product.entity_id}/application_plans/abc.json").json() == {
        "status": "Not found"
    }


def test_plans_need_a_valid_token(product: Any, admin_http: Any) -> None:
    url = f"/admin/api/services/{product.entity_id}/application_plans.json"
    for token in (None, "wrong-token"):
        resp = admin_http.get(url, token=token)
        assert (resp.status_code, resp.json()) == (403, DENIED)
    resp = admin_http.post(url, token="master", json={"name": "x"})
    assert (resp.status_code, resp.json()) == (403, DENIED)


def test_limits_for_every_period(product: Any, threescale: Any, admin_http: Any) -> None:
    plan = product.app_plans.create({"name": "Limited", "system_name": unique("limited")})
    hits = product.metrics.read_by_name("hits")
    limits = plan.limits(hits)
    created = [limits.create({"period": period, "value": i + 1}) for i, period in enumerate(PERIODS)]
    assert [lim["period"] for lim in created] == list(PERIODS)
    assert {lim["metric_id"] for lim in created} == {hits.entity_id}
    assert {lim["plan_id"] for lim in created} == {plan.entity_id}

    listed = admin_http.get(f"/admin/api/application_plans/{plan.entity_id}/limits.json").json()["limits"]
    assert sorted(x["limit"]["period"] for x in listed) == sorted(PERIODS)
    paged = admin_http.get(f"/admin/api/application_plans/{plan.entity_id}/limits.json", params={"per_page": 2})
    assert paged.json()["metadata"] == {"per_page": 2, "total_entries": 7, "total_pages": 4, "current_page": 1}

    base = f"/admin/api/application_plans/{plan.entity_id}/metrics/{hits.entity_id}/limits"
    dup = admin_http.post(base + ".json", json={"period": "day", "value": 5})
    assert (dup.status_code, dup.json()) == (422, {"errors": {"period": ["has already been taken"]}})
    bad = admin_http.post(base + ".json", json={"period": "fortnight", "value": "x"})
    assert bad.status_code == 422
    assert bad.json() == {"errors": {"period": ["is not included in the list"], "value": ["is not a number"]}}

    day = next(lim for lim in created if lim["period"] == "day")
    updated = admin_http.put(f"{base}/{day.entity_id}.json", json={"usage_limit": {"value": 0}})
    assert updated.json()["limit"]["value"] == 0
    assert admin_http.get(f"{base}/{day.entity_id}.json").json()["limit"]["value"] == 0
    assert admin_http.delete(f"{base}/{day.entity_id}.json").status_code == 200
    assert admin_http.get(f"{base}/{day.entity_id}.json").status_code == 404


def test_limit_metric_must_belong_to_product_or_its_backends(product: Any, threescale: Any, admin_http: Any) -> None:
    plan = product.app_plans.create({"name": "Scoped", "system_name": unique("scoped")})
    backend = threescale.backends.create({"name": unique("be"), "private_endpoint": "https://example.com:443"})
    backend_hits = backend.metrics.list()[0]
    url = f"/admin/api/application_plans/{plan.entity_id}/metrics/{backend_hits.entity_id}/limits.json"
    assert admin_http.post(url, json={"period": "month", "value": 10}).status_code == 404
    admin_http.post(
        f"/admin/api/services/{product.entity_id}/backend_usages.json",
        json={"backend_api_id": backend.entity_id, "path": "/" + unique("p")},
    ).raise_for_status()
    resp = admin_http.post(url, json={"period": "month", "value": 10})
    assert resp.status_code == 201 and resp.json()["limit"]["metric_id"] == backend_hits.entity_id

    other = threescale.services.create({"name": unique("other"), "system_name": unique("other").replace("-", "_")})
    foreign = other.metrics.read_by_name("hits")
    url = f"/admin/api/application_plans/{plan.entity_id}/metrics/{foreign.entity_id}/limits.json"
    assert admin_http.post(url, json={"period": "month", "value": 1}).json() == {"status": "Not found"}


def test_pricing_rules(product: Any, admin_http: Any) -> None:
    plan = product.app_plans.create({"name": "Paid", "system_name": unique("paid")})
    hits = product.metrics.read_by_name("hits")
    base = f"/admin/api/application_plans/{plan.entity_id}/metrics/{hits.entity_id}/pricing_rules"
    rule = admin_http.post(base + ".json", json={"min": 1, "max": 100, "cost_per_unit": "0.01"})
    assert rule.status_code == 201
    body = rule.json()["pricing_rule"]
    assert (body["min"], body["max"], body["cost_per_unit"]) == (1, 100, "0.01")  # porta: decimal as string
    bad = admin_http.post(base + ".json", json={"min": 10, "max": 5})
    assert bad.json() == {"errors": {"max": ["must be greater than min"]}}
    listed = admin_http.get(f"/admin/api/application_plans/{plan.entity_id}/pricing_rules.json").json()
    assert [r["pricing_rule"]["id"] for r in listed["pricing_rules"]] == [body["id"]]
    assert admin_http.delete(f"{base}/{body['id']}.json").status_code == 200
    assert admin_http.get(base + ".json").json() == {"pricing_rules": []}


def test_service_plans_and_their_default(product: Any, admin_http: Any) -> None:
    url = f"/admin/api/services/{product.entity_id}/service_plans"
    plans = admin_http.get(url + ".json").json()["plans"]
    # porta service.rb create_default_service_plan: a new product's Default plan is not the default
    assert [(p["service_plan"]["name"], p["service_plan"]["default"]) for p in plans] == [("Default", False)]
    premium = admin_http.post(url + ".json", json={"name": "Premium", "state_event": "publish"})
    assert premium.status_code == 201
    premium_id = premium.json()["service_plan"]["id"]
    assert admin_http.put(f"{url}/{premium_id}/default.json").json()["service_plan"]["default"] is True
    defaults = {
        p["service_plan"]["name"]: p["service_plan"]["default"] for p in admin_http.get(url + ".json").json()["plans"]
    }
    assert defaults == {"Default": False, "Premium": True}
    renamed = admin_http.put(f"{url}/{premium_id}.json", json={"service_plan": {"name": "Premium+"}})
    assert renamed.json()["service_plan"]["name"] == "Premium+"
    assert admin_http.delete(f"{url}/{premium_id}.json").status_code == 200
    assert admin_http.get(f"{url}/{premium_id}.json").status_code == 404


def test_account_plans_with_the_real_client(threescale: Any, admin_http: Any) -> None:
    plan = threescale.account_plans.create({"name": unique("Partners"), "approval_required": "true"})
    assert plan["approval_required"] is True and plan["state"] == "hidden"
    assert plan.entity_id in [p.entity_id for p in threescale.account_plans.list()]
    plan.update({"name": "Partners renamed"})
    assert threescale.account_plans.read(plan.entity_id)["name"] == "Partners renamed"
    assert admin_http.put(f"/admin/api/account_plans/{plan.entity_id}/default.json").json()["account_plan"]["default"]
    # Put the seeded default back so other tests' signups stay approved.
    seeded = next(p for p in threescale.account_plans.list() if p["system_name"] == "default")
    admin_http.put(f"/admin/api/account_plans/{seeded.entity_id}/default.json").raise_for_status()
    plan.delete()
    assert not threescale.account_plans.exists(plan.entity_id)
    assert admin_http.get(f"/admin/api/account_plans/{plan.entity_id}.json").status_code == 404
