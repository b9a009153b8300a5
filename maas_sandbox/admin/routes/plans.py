"""Application, service and account plans; application plan limits and pricing rules (reference §11–§12).

All three plan kinds share one shape; collections are `plans` for each, entities `application_plan`,
`service_plan`, `account_plan`. Limits are keyed (plan, metric, period) and the metric must belong to the
plan's product or to a backend that product uses.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from maas_sandbox.admin import column_bounds
from maas_sandbox.admin import domain_accounts as accounts
from maas_sandbox.admin.conventions import (
    NotFound,
    Unprocessable,
    admin_router,
    collection,
    deleted,
    link,
    parse_number,
    path_id,
    public,
    read_params,
    sandbox_of,
    single,
    wrapped,
)
from maas_sandbox.context import Sandbox

router = admin_router(tags=["plans"])
Obj = dict[str, Any]
API = "/admin/api"


# -- representations ------------------------------------------------------------------------------
def plan_view(sandbox: Sandbox, plan: Obj) -> Obj:
    """porta's plan_representer.rb (+ application_plan_representer.rb): `description` is stored (the create and
    update params permit it) but never represented."""
    view = {k: v for k, v in public(plan).items() if k not in ("type", "issuer_id", "description")}
    base = sandbox.admin_url + API
    if plan["type"] == "account_plan":
        view["links"] = [link("self", f"{base}/account_plans/{plan['id']}")]
    else:
        view["service_id"] = plan["issuer_id"]
        kind = "application_plans" if plan["type"] == "application_plan" else "service_plans"
        view["links"] = [
            link("service", f"{base}/services/{plan['issuer_id']}"),
            link("self", f"{base}/services/{plan['issuer_id']}/{kind}/{plan['id']}"),
        ]
    return view


def limit_view(sandbox: Sandbox, limit: Obj) -> Obj:
    base = f"{sandbox.admin_url}{API}/application_plans/{limit['plan_id']}"
    view = public(limit)
    view["links"] = [
        link("metric", f"{sandbox.admin_url}{API}/metrics/{limit['metric_id']}"),
        link("self", f"{base}/metrics/{limit['metric_id']}/limits/{limit['id']}"),
        link("plan", base),
    ]
    return view


def _plans_body(sandbox: Sandbox, entity: str, plans: list[Obj]) -> JSONResponse:
    return collection("plans", entity, [plan_view(sandbox, p) for p in plans])


# -- lookups --------------------------------------------------------------------------------------
def _service(sandbox: Sandbox, service_id: str) -> Obj:
    service = sandbox.store.get("service", path_id(service_id))
    if service is None:
        raise NotFound()
    return service


def _plan(sandbox: Sandbox, plan_type: str, plan_id: str, issuer_id: int | None = None) -> Obj:
    plan = sandbox.store.get("plan", path_id(plan_id))
    if plan is None or plan["type"] != plan_type:
        raise NotFound()
    if plan_type != "account_plan" and issuer_id is not None and plan["issuer_id"] != issuer_id:
        raise NotFound()
    return plan


def _plan_metric(sandbox: Sandbox, plan: Obj, metric_id: str) -> Obj:
    """A metric of the plan's product, or of a backend the product uses."""
    metric = sandbox.store.get("metric", path_id(metric_id))
    if metric is None:
        raise NotFound()
    service_id = plan["issuer_id"]
    if metric.get("owner_type") == "service" and metric.get("owner_id") == service_id:
        return metric
    backend_ids = {u["backend_id"] for u in sandbox.store.list("backend_usage", service_id=service_id)}
    if metric.get("owner_type") == "backend_api" and metric.get("owner_id") in backend_ids:
        return metric
    raise NotFound()


# -- generic plan handlers ------------------------------------------------------------------------
async def _create(request: Request, plan_type: str, issuer_id: int | None, sandbox: Sandbox) -> Response:
    params = await read_params(request)
    plan = accounts.create_plan(sandbox, plan_type, issuer_id, wrapped(params, plan_type))
    return JSONResponse({plan_type: plan_view(sandbox, plan)}, status_code=201)


async def _update(request: Request, plan: Obj, sandbox: Sandbox) -> Response:
    params = await read_params(request)
    updated = accounts.update_plan(sandbox, plan["id"], wrapped(params, plan["type"]))
    return JSONResponse({plan["type"]: plan_view(sandbox, updated)})


def _show(sandbox: Sandbox, plan: Obj) -> Response:
    return JSONResponse({plan["type"]: plan_view(sandbox, plan)})


def _make_default(sandbox: Sandbox, plan: Obj) -> Response:
    return _show(sandbox, accounts.set_default_plan(sandbox, plan["id"]))


def _delete(sandbox: Sandbox, plan: Obj) -> Response:
    accounts.delete_plan(sandbox, plan["id"])
    return deleted()


# -- application plans ----------------------------------------------------------------------------
@router.get(API + "/application_plans.json")
async def list_all_application_plans(request: Request) -> Response:
    sandbox = sandbox_of(request)
    return _plans_body(sandbox, "application_plan", sandbox.store.list("plan", type="application_plan"))


@router.get(API + "/services/{service_id}/application_plans.json")
async def list_application_plans(request: Request, service_id: str) -> Response:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    plans = sandbox.store.list("plan", type="application_plan", issuer_id=service["id"])
    return _plans_body(sandbox, "application_plan", plans)


@router.post(API + "/services/{service_id}/application_plans.json")
async def create_application_plan(request: Request, service_id: str) -> Response:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    return await _create(request, "application_plan", service["id"], sandbox)


@router.get(API + "/services/{service_id}/application_plans/{plan_id}.json")
async def read_application_plan(request: Request, service_id: str, plan_id: str) -> Response:
    sandbox = sandbox_of(request)
    return _show(sandbox, _plan(sandbox, "application_plan", plan_id, _service(sandbox, service_id)["id"]))


@router.put(API + "/services/{service_id}/application_plans/{plan_id}.json")
async def update_application_plan(request: Request, service_id: str, plan_id: str) -> Response:
    sandbox = sandbox_of(request)
    plan = _plan(sandbox, "application_plan", plan_id, _service(sandbox, service_id)["id"])
    return await _update(request, plan, sandbox)


@router.put(API + "/services/{service_id}/application_plans/{plan_id}/default.json")
async def default_application_plan(request: Request, service_id: str, plan_id: str) -> Response:
    sandbox = sandbox_of(request)
    plan = _plan(sandbox, "application_plan", plan_id, _service(sandbox, service_id)["id"])
    return _make_default(sandbox, plan)


@router.delete(API + "/services/{service_id}/application_plans/{plan_id}.json")
async def delete_application_plan(request: Request, service_id: str, plan_id: str) -> Response:
    sandbox = sandbox_of(request)
    return _delete(sandbox, _plan(sandbox, "application_plan", plan_id, _service(sandbox, service_id)["id"]))


# -- service plans --------------------------------------------------------------------------------
@router.get(API + "/service_plans.json")
async def list_all_service_plans(request: Request) -> Response:
    sandbox = sandbox_of(request)
    return _plans_body(sandbox, "service_plan", sandbox.store.list("plan", type="service_plan"))


@router.get(API + "/services/{service_id}/service_plans.json")
async def list_service_plans(request: Request, service_id: str) -> Response:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    return _plans_body(
        sandbox, "service_plan", sandbox.store.list("plan", type="service_plan", issuer_id=service["id"])
    )


@router.post(API + "/services/{service_id}/service_plans.json")
async def create_service_plan(request: Request, service_id: str) -> Response:
    sandbox = sandbox_of(request)
    return await _create(request, "service_plan", _service(sandbox, service_id)["id"], sandbox)


@router.get(API + "/services/{service_id}/service_plans/{plan_id}.json")
async def read_service_plan(request: Request, service_id: str, plan_id: str) -> Response:
    sandbox = sandbox_of(request)
    return _show(sandbox, _plan(sandbox, "service_plan", plan_id, _service(sandbox, service_id)["id"]))


@router.put(API + "/services/{service_id}/service_plans/{plan_id}.json")
async def update_service_plan(request: Request, service_id: str, plan_id: str) -> Response:
    sandbox = sandbox_of(request)
    plan = _plan(sandbox, "service_plan", plan_id, _service(sandbox, service_id)["id"])
    return await _update(request, plan, sandbox)


@router.put(API + "/services/{service_id}/service_plans/{plan_id}/default.json")
async def default_service_plan(request: Request, service_id: str, plan_id: str) -> Response:
    sandbox = sandbox_of(request)
    return _make_default(sandbox, _plan(sandbox, "service_plan", plan_id, _service(sandbox, service_id)["id"]))


@router.delete(API + "/services/{service_id}/service_plans/{plan_id}.json")
async def delete_service_plan(request: Request, service_id: str, plan_id: str) -> Response:
    sandbox = sandbox_of(request)
    return _delete(sandbox, _plan(sandbox, "service_plan", plan_id, _service(sandbox, service_id)["id"]))


# -- account plans --------------------------------------------------------------------------------
@router.get(API + "/account_plans.json")
async def list_account_plans(request: Request) -> Response:
    sandbox = sandbox_of(request)
    return _plans_body(sandbox, "account_plan", sandbox.store.list("plan", type="account_plan"))


@router.post(API + "/account_plans.json")
async def create_account_plan(request: Request) -> Response:
    sandbox = sandbox_of(request)
    return await _create(request, "account_plan", None, sandbox)


@router.get(API + "/account_plans/{plan_id}.json")
async def read_account_plan(request: Request, plan_id: str) -> Response:
    sandbox = sandbox_of(request)
    return _show(sandbox, _plan(sandbox, "account_plan", plan_id))


@router.put(API + "/account_plans/{plan_id}.json")
async def update_account_plan(request: Request, plan_id: str) -> Response:
    sandbox = sandbox_of(request)
    return await _update(request, _plan(sandbox, "account_plan", plan_id), sandbox)


@router.put(API + "/account_plans/{plan_id}/default.json")
async def default_account_plan(request: Request, plan_id: str) -> Response:
    sandbox = sandbox_of(request)
    return _make_default(sandbox, _plan(sandbox, "account_plan", plan_id))


@router.delete(API + "/account_plans/{plan_id}.json")
async def delete_account_plan(request: Request, plan_id: str) -> Response:
    sandbox = sandbox_of(request)
    return _delete(sandbox, _plan(sandbox, "account_plan", plan_id))


# -- limits ---------------------------------------------------------------------------------------
def _limit_attrs(attrs: Obj, *, partial: bool) -> Obj:
    out: Obj = {}
    errors: dict[str, list[str]] = {}
    if "period" in attrs or not partial:
        period = attrs.get("period")
        if period in (None, ""):
            errors["period"] = ["can't be blank"]
        elif period not in accounts.LIMIT_PERIODS:
            errors["period"] = ["is not included in the list"]
        else:
            out["period"] = period
    if "value" in attrs or not partial:
        value = attrs.get("value")
        try:
            number = int(parse_number(value, int))
        except (TypeError, ValueError):
            errors["value"] = ["is not a number"]
        else:
            if number < 0:
                errors["value"] = ["must be greater than or equal to 0"]
            out["value"] = number
    if errors:
        raise Unprocessable(errors)
    return out


@router.get(API + "/application_plans/{plan_id}/limits.json")
async def list_plan_limits(request: Request, plan_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    plan = _plan(sandbox, "application_plan", plan_id)
    limits = [limit_view(sandbox, x) for x in sandbox.store.list("limit", plan_id=plan["id"])]
    return collection("limits", "limit", limits, params, paginate=True)


@router.get(API + "/application_plans/{plan_id}/metrics/{metric_id}/limits.json")
async def list_metric_limits(request: Request, plan_id: str, metric_id: str) -> Response:
    sandbox = sandbox_of(request)
    plan = _plan(sandbox, "application_plan", plan_id)
    metric = _plan_metric(sandbox, plan, metric_id)
    limits = sandbox.store.list("limit", plan_id=plan["id"], metric_id=metric["id"])
    return collection("limits", "limit", [limit_view(sandbox, x) for x in limits])


@router.post(API + "/application_plans/{plan_id}/metrics/{metric_id}/limits.json")
async def create_limit(request: Request, plan_id: str, metric_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    plan = _plan(sandbox, "application_plan", plan_id)
    metric = _plan_metric(sandbox, plan, metric_id)
    attrs = _limit_attrs(wrapped(params, "usage_limit"), partial=False)
    limit = accounts.create_limit(sandbox, plan, metric, attrs)
    return single("limit", limit_view(sandbox, limit), status=201)


def _limit(sandbox: Sandbox, plan: Obj, metric: Obj, limit_id: str) -> Obj:
    limit = sandbox.store.get("limit", path_id(limit_id))
    if limit is None or limit["plan_id"] != plan["id"] or limit["metric_id"] != metric["id"]:
        raise NotFound()
    return limit


@router.get(API + "/application_plans/{plan_id}/metrics/{metric_id}/limits/{limit_id}.json")
async def read_limit(request: Request, plan_id: str, metric_id: str, limit_id: str) -> Response:
    sandbox = sandbox_of(request)
    plan = _plan(sandbox, "application_plan", plan_id)
    limit = _limit(sandbox, plan, _plan_metric(sandbox, plan, metric_id), limit_id)
    return single("limit", limit_view(sandbox, limit))


@router.put(API + "/application_plans/{plan_id}/metrics/{metric_id}/limits/{limit_id}.json")
async def update_limit(request: Request, plan_id: str, metric_id: str, limit_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    plan = _plan(sandbox, "application_plan", plan_id)
    metric = _plan_metric(sandbox, plan, metric_id)
    limit = _limit(sandbox, plan, metric, limit_id)
    changes = _limit_attrs(wrapped(params, "usage_limit"), partial=True)
    limit = accounts.update_limit(sandbox, limit, changes)
    return single("limit", limit_view(sandbox, limit))


@router.delete(API + "/application_plans/{plan_id}/metrics/{metric_id}/limits/{limit_id}.json")
async def delete_limit(request: Request, plan_id: str, metric_id: str, limit_id: str) -> Response:
    sandbox = sandbox_of(request)
    plan = _plan(sandbox, "application_plan", plan_id)
    limit = _limit(sandbox, plan, _plan_metric(sandbox, plan, metric_id), limit_id)
    accounts.delete_limit(sandbox, limit)
    return deleted()


# -- pricing rules --------------------------------------------------------------------------------
def _pricing_view(rule: Obj) -> Obj:
    """porta pricing_rule_representer.rb: cost_per_unit is a decimal column, which Rails renders as a string."""
    return {**rule, "cost_per_unit": str(float(rule["cost_per_unit"]))}


def _pricing_attrs(attrs: Obj) -> Obj:
    errors: dict[str, list[str]] = {}
    out: Obj = {}
    for field, default in (("min", 1), ("max", None)):
        raw = attrs.get(field)
        if raw in (None, ""):
            out[field] = default
            continue
        try:
            out[field] = int(parse_number(raw, int))
        except (TypeError, ValueError):
            errors[field] = ["is not a number"]
        else:  # porta db/schema.rb: min and max are bigint columns
            try:
                column_bounds.integer_in_column(field, out[field], column_bounds.BIGINT_MAX)
            except Unprocessable as exc:
                errors.update(exc.body["errors"])
    raw_cost = attrs.get("cost_per_unit")
    if raw_cost not in (None, "") and "cost_per_unit" not in errors:
        try:  # porta db/schema.rb: cost_per_unit decimal(20,4), so at most 16 digits before the point
            column_bounds.decimal_20_4("cost_per_unit", raw_cost)
        except Unprocessable as exc:
            errors.update(exc.body["errors"])
    try:
        parse_number(raw_cost) if raw_cost not in (None, "") else None  # numericality, as Ruby's Float() reads it
        cost = Decimal(str(raw_cost).strip()) if raw_cost not in (None, "") else Decimal(0)
        if not cost.is_finite():
            raise ValueError(raw_cost)
    except (TypeError, ValueError, ArithmeticError):
        errors["cost_per_unit"] = ["is not a number"]
    else:
        # pricing_rule.rb validates format /\A\d+\.?\d{0,4}\z/ on the attribute as Rails casts it: the column is
        # decimal(20,4) (db/schema.rb), so ActiveModel's Decimal type rounds to 4 places first (half up) and the
        # validator reads the rounded value — 0.123456 is stored as 0.1235 (201); a sign still fails the format.
        cost = cost.quantize(Decimal("0.0001"), ROUND_HALF_UP)
        if not re.fullmatch(r"\d+\.?\d{0,4}", format(cost, "f")):
            errors["cost_per_unit"] = ["maximum decimals is 4."]
        out["cost_per_unit"] = float(cost)
    if "min" in out and out["min"] < 1:
        errors["min"] = ["must be greater than or equal to 1"]
    if not errors and out["max"] is not None and out["max"] < out["min"]:
        errors["max"] = ["must be greater than min"]
    if errors:
        raise Unprocessable(errors)
    return out


@router.get(API + "/application_plans/{plan_id}/pricing_rules.json")
async def list_plan_pricing_rules(request: Request, plan_id: str) -> Response:
    sandbox = sandbox_of(request)
    plan = _plan(sandbox, "application_plan", plan_id)
    rules = sandbox.store.list("pricing_rule", plan_id=plan["id"])
    return collection("pricing_rules", "pricing_rule", [_pricing_view(r) for r in rules])


@router.get(API + "/application_plans/{plan_id}/metrics/{metric_id}/pricing_rules.json")
async def list_metric_pricing_rules(request: Request, plan_id: str, metric_id: str) -> Response:
    sandbox = sandbox_of(request)
    plan = _plan(sandbox, "application_plan", plan_id)
    metric = _plan_metric(sandbox, plan, metric_id)
    rules = sandbox.store.list("pricing_rule", plan_id=plan["id"], metric_id=metric["id"])
    return collection("pricing_rules", "pricing_rule", [_pricing_view(r) for r in rules])


@router.post(API + "/application_plans/{plan_id}/metrics/{metric_id}/pricing_rules.json")
async def create_pricing_rule(request: Request, plan_id: str, metric_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    plan = _plan(sandbox, "application_plan", plan_id)
    metric = _plan_metric(sandbox, plan, metric_id)
    attrs = _pricing_attrs(wrapped(params, "pricing_rule"))
    rule = accounts.create_pricing_rule(sandbox, plan, metric, attrs)
    return single("pricing_rule", _pricing_view(rule), status=201)


@router.delete(API + "/application_plans/{plan_id}/metrics/{metric_id}/pricing_rules/{rule_id}.json")
async def delete_pricing_rule(request: Request, plan_id: str, metric_id: str, rule_id: str) -> Response:
    sandbox = sandbox_of(request)
    plan = _plan(sandbox, "application_plan", plan_id)
    metric = _plan_metric(sandbox, plan, metric_id)
    rule = sandbox.store.get("pricing_rule", path_id(rule_id))
    if rule is None or rule["plan_id"] != plan["id"] or rule["metric_id"] != metric["id"]:
        raise NotFound()
    accounts.delete_pricing_rule(sandbox, rule)
    return deleted()
