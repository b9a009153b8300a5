"""The application plans planner is pure: catalogue plans + what the Admin API returned → actions with the exact
requests. porta files they follow: app/controllers/admin/api/application_plans_controller.rb (create, update with
`state_event`, `default`), application_plan_metric_limits_controller.rb, application_plan_metric_pricing_rules_
controller.rb (index/create/destroy only: a changed rule is replaced; range_overlap in pricing_rule.rb), service
plans' `default`, and db/schema.rb `plans` (fees are decimals defaulting to 0). tests/sandbox/test_billing.py and
test_reconcile.py check that porta (the sandbox) accepts these requests."""

from __future__ import annotations

from decimal import Decimal

from maas_helpers.catalogue import Limit, Plan, Price, Pricing, product_for_model
from maas_helpers.config import ModelEndpoint
from maas_helpers.reconcile.actions import Links, Ref, Write
from maas_helpers.reconcile.context import _waves
from maas_helpers.reconcile.plans import plan_plans
from maas_helpers.results import Change, FieldChange

LINKS = Links("https://admin.example")
SERVICE = {"id": 5, "system_name": "granite", "name": "granite"}
METRICS = [{"id": 1, "system_name": "hits"}, {"id": 2, "system_name": "prompt_tokens_k"}]
SERVICE_PLANS = [{"id": 70, "name": "Default", "default": True}]


def _plan(**kw) -> Plan:
    values = {"system_name": "standard", "name": "Standard", "description": "For teams.",
              "limits": [Limit(metric="hits", period="minute", value=60)],
              "pricing": Pricing(cost_per_month=Decimal("10"), prices=[
                  Price(metric="prompt_tokens", per_million=Decimal("0.5"))])} | kw
    return Plan(**values)


def _product(*plans: Plan, default_plan: str | None = None):
    product = product_for_model(ModelEndpoint(name="granite", url="http://granite:8080"), list(plans) or [_plan()])
    return product.model_copy(update={"default_plan": default_plan})


def _observed_plan(**kw) -> dict:
    return {"id": 40, "system_name": "standard", "name": "Standard", "approval_required": False, "state": "published",
            "default": False, "cost_per_month": "10.0", "setup_fee": "0.0"} | kw


RULE = {"id": 90, "metric_id": 2, "min": 1, "max": None, "cost_per_unit": "0.0005"}
LIMIT = {"id": 80, "metric_id": 1, "period": "minute", "value": 60}


def _run(product, plans=None, limits=None, pricing=None, service_plans=SERVICE_PLANS, service=SERVICE):
    return plan_plans(product, service, plans or {}, METRICS, limits or {}, pricing or {}, service_plans, LINKS)


def test_a_missing_product_lists_its_plans_as_to_be_created_without_a_request() -> None:
    actions, notes = _run(_product(), service=None)
    assert [(a.kind, a.name, a.change, a.detail) for a in actions] == [
        ("application plan", "granite: standard", Change.CREATED, "1 limit")]  # plural() (issue 29)
    assert not any(a.writes for a in actions) and notes == []


def test_a_new_plan_is_created_published_and_its_limit_and_price_refer_to_its_id() -> None:
    actions, _ = _run(_product())
    plan, limit, price, service_plan = actions
    assert plan.writes == (Write("POST", "/admin/api/services/{}/application_plans.json",
                                 {"system_name": "standard", "name": "Standard", "approval_required": False,
                                  "cost_per_month": "10", "setup_fee": "0", "description": "For teams.",
                                  "state_event": "publish"}, args=(5,), provides="plan:granite:standard"),)
    assert (plan.change, plan.detail, plan.link) == (Change.CREATED, "published", None)
    assert limit.writes == (Write("POST", "/admin/api/application_plans/{}/metrics/{}/limits.json",
                                  {"period": "minute", "value": 60}, args=(Ref("plan:granite:standard"), 1)),)
    assert price.name == "granite: standard: prompt_tokens_k 1–∞"
    assert price.writes[0].body == {"pricing_rule": {"min": 1, "max": None, "cost_per_unit": "0.0005"}}
    assert price.writes[0].resolved({"plan:granite:standard": {"id": 41}})[0] == (
        "/admin/api/application_plans/41/metrics/2/pricing_rules.json")
    assert (service_plan.kind, service_plan.change, service_plan.detail) == (
        "service plan", Change.UNCHANGED, "Default (verified)")
    # the limit and the price go out after the plan they belong to
    assert [[a.kind for a in wave] for wave in _waves(actions)] == [["application plan", "service plan"],
                                                                   ["limit", "pricing rule"]]


def test_a_hidden_new_plan_sends_no_state_event() -> None:
    """porta creates plans hidden; `hide` only fires from published (plan.rb)."""
    actions, _ = _run(_product(_plan(published=False, limits=[], pricing=Pricing())))
    assert "state_event" not in actions[0].writes[0].body and actions[0].detail == "hidden"


def test_in_sync_plans_make_no_request_fees_and_prices_compared_as_money() -> None:
    observed = _observed_plan(cost_per_month="10.00")
    del observed["setup_fee"]  # a missing fee column is 0 (db/schema.rb: default 0.0, not null)
    actions, notes = _run(_product(), {"standard": observed}, {40: [LIMIT]}, {40: [RULE | {"cost_per_unit": 0.0005}]})
    assert all(a.change is Change.UNCHANGED and not a.writes for a in actions), [str(a) for a in actions]
    assert actions[0].link == "https://admin.example/apiconfig/application_plans/40/edit"
    assert notes == []


def test_a_changed_limit_is_one_put_and_a_stale_one_is_deleted_but_not_a_backend_metrics() -> None:
    stale = {"id": 81, "metric_id": 1, "period": "day", "value": 5}
    backend_metric = {"id": 82, "metric_id": 999, "period": "day", "value": 5}
    actions, _ = _run(_product(), {"standard": _observed_plan()},
                      {40: [LIMIT | {"value": 50}, stale, backend_metric]}, {40: [RULE]})
    limits = [a for a in actions if a.kind == "limit"]
    assert [(a.name, a.change) for a in limits] == [("granite: standard: hits per minute", Change.UPDATED),
                                                   ("granite: standard: hits per day", Change.DELETED)]
    assert limits[0].changes == (FieldChange("value", 50, 60),) and limits[0].detail == "value: 50 → 60"
    assert limits[0].writes == (Write("PUT", "/admin/api/application_plans/{}/metrics/{}/limits/{}.json",
                                      {"value": 60}, args=(40, 1, 80)),)
    assert [str(w) for w in limits[1].writes] == ["DELETE /admin/api/application_plans/40/metrics/1/limits/81.json"]


def test_a_changed_price_is_replaced_the_old_rule_deleted_first() -> None:
    actions, _ = _run(_product(), {"standard": _observed_plan()}, {40: [LIMIT]},
                      {40: [RULE | {"cost_per_unit": "0.0006"}]})
    rules = [a for a in actions if a.kind == "pricing rule"]
    assert [(a.change, str(a.writes[0])) for a in rules] == [
        (Change.DELETED, "DELETE /admin/api/application_plans/40/metrics/2/pricing_rules/90.json"),
        (Change.CREATED, "POST /admin/api/application_plans/40/metrics/2/pricing_rules.json")]
    assert rules[1].writes[0].after == (rules[0].writes[0].provides,)
    # porta's range_overlap would refuse the new rule while the old one holds its range
    waves = [[a.kind for a in wave if a.writes] for wave in _waves(actions)]
    assert waves == [["pricing rule"], ["pricing rule"]]


def test_changed_plan_fields_and_state_are_one_put_with_the_description() -> None:
    observed = _observed_plan(name="Std", cost_per_month="0", state="hidden")
    actions, _ = _run(_product(), {"standard": observed}, {40: [LIMIT]}, {40: [RULE]})
    plan = actions[0]
    assert plan.change is Change.UPDATED
    assert plan.changes == (FieldChange("name", "Std", "Standard"), FieldChange("cost_per_month", "0", "10"),
                            FieldChange("state", "hidden", "published"))
    assert plan.writes == (Write("PUT", "/admin/api/services/{}/application_plans/{}.json",
                                 {"name": "Standard", "cost_per_month": "10", "state_event": "publish",
                                  "description": "For teams."}, args=(5, 40)),)
    assert plan.detail == "name: 'Std' → 'Standard'; cost_per_month: '0' → '10'; state: hidden → published"


def test_the_catalogues_default_plan_is_set_also_on_a_plan_created_in_the_same_run() -> None:
    actions, _ = _run(_product(default_plan="standard"))
    default = next(a for a in actions if a.kind == "default plan")
    assert default.writes == (Write("PUT", "/admin/api/services/{}/application_plans/{}/default.json",
                                    args=(5, Ref("plan:granite:standard"))),)
    existing, _ = _run(_product(default_plan="standard"), {"standard": _observed_plan()}, {40: [LIMIT]},
                       {40: [RULE]})
    default = next(a for a in existing if a.kind == "default plan")
    assert (default.change, [str(w) for w in default.writes]) == (
        Change.UPDATED, ["PUT /admin/api/services/5/application_plans/40/default.json"])
    in_sync, _ = _run(_product(default_plan="standard"), {"standard": _observed_plan(default=True)},
                      {40: [LIMIT]}, {40: [RULE]})
    assert next(a for a in in_sync if a.kind == "default plan").change is Change.UNCHANGED
    none, _ = _run(_product(), {"standard": _observed_plan()}, {40: [LIMIT]}, {40: [RULE]})
    assert not [a for a in none if a.kind == "default plan"]  # "No plan selected": users choose


def test_a_service_plan_named_default_is_made_default_or_a_note_says_what_to_do() -> None:
    plans = [{"id": 71, "name": "Other"}, {"id": 72, "name": "Default"}]
    actions, _ = _run(_product(), service_plans=plans)
    service_plan = actions[-1]
    assert (service_plan.change, service_plan.detail) == (Change.UPDATED, "Default set as default")
    assert [str(w) for w in service_plan.writes] == ["PUT /admin/api/services/5/service_plans/72/default.json"]
    actions, notes = _run(_product(), service_plans=[])
    assert not [a for a in actions if a.kind == "service plan"]
    assert notes == ["granite: no service plan found; create one named Default in the admin portal"]


def test_new_plans_are_created_in_catalogue_order() -> None:
    """3scale lists a product's plans in creation order (the portal shows them so): one after the other, even
    when the executor sends independent actions side by side."""
    free = _plan(system_name="free", name="Free", limits=[], pricing=Pricing())
    premium = _plan(system_name="premium", name="Premium", limits=[], pricing=Pricing())
    actions, _ = _run(_product(free, _plan(limits=[], pricing=Pricing()), premium), {"standard": _observed_plan()})
    creates = [a for a in actions if a.kind == "application plan" and a.change is Change.CREATED]
    assert [a.writes[0].after for a in creates] == [(), ("plan:granite:free",)]
    assert [[a.name for a in wave if a.kind == "application plan"] for wave in _waves(actions)] == [
        ["granite: free", "granite: standard"], ["granite: premium"]]
