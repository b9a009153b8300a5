"""Cost of usage: 3scale pricing rules applied to Analytics usage, per account / application / metric / day.

The same arithmetic as 3scale's billing (porta app/models/pricing_rule.rb `cost_for_value`, applied per
metric to the month's usage by app/lib/finance/variable_cost.rb), so the cost shown here for a month equals
the variable-cost lines of that month's invoice. Tiers make cost not additive per day: a day's cost is the
month's cost up to that day minus the cost up to the day before, so the days add up to the month exactly.

Every call goes through the Admin API (`AdminClient`), so it works against the sandbox and a real 3scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from maas_helpers.admin_client import AdminClient
from maas_helpers.errors import MaasError
from maas_helpers.stats import get_usage

if TYPE_CHECKING:
    from maas_helpers.charts import Chart

COST_COLUMNS = ["date", "account", "application", "application_id", "product", "plan", "metric", "usage", "cost"]
USAGE_METRICS = ("hits", "prompt_tokens", "completion_tokens", "total_tokens")


@dataclass(frozen=True)
class Rule:
    metric: str
    min: int
    max: int | None
    cost_per_unit: Decimal

    def cost(self, value: int) -> Decimal:
        """pricing_rule.rb `cost_for_value`: the units of `value` between min and max at cost_per_unit."""
        if value < self.min:
            return Decimal(0)
        top = value if self.max is None or value <= self.max else self.max
        return self.cost_per_unit * (top - self.min + 1)


@dataclass(frozen=True)
class PlanPrices:
    id: int
    name: str
    cost_per_month: Decimal
    setup_fee: Decimal
    rules: tuple[Rule, ...]

    def cost(self, metric: str, value: int) -> Decimal:
        return sum((r.cost(value) for r in self.rules if r.metric == metric), Decimal(0))

    @property
    def metrics(self) -> list[str]:
        return list(dict.fromkeys(r.metric for r in self.rules))


def _items(body: dict[str, Any], collection: str, entity: str) -> list[dict[str, Any]]:
    return [item.get(entity, item) for item in body.get(collection) or []]


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value if value not in (None, "") else 0))


def metric_names(client: AdminClient, service_id: int | str) -> dict[int, str]:
    """Metric and method ids of a product → system names."""
    return {m["id"]: m["system_name"] for m in _items(
        client.get_json(f"/admin/api/services/{service_id}/metrics.json"), "metrics", "metric")}


def plan_prices(client: AdminClient, service_id: int | str) -> dict[int, PlanPrices]:
    """Application plans of a product with their fees and pricing rules (metric system names)."""
    metrics = metric_names(client, service_id)
    plans = _items(client.get_json(f"/admin/api/services/{service_id}/application_plans.json"), "plans",
                   "application_plan")
    out: dict[int, PlanPrices] = {}
    for plan in plans:
        rules = _items(client.get_json(f"/admin/api/application_plans/{plan['id']}/pricing_rules.json"),
                       "pricing_rules", "pricing_rule")
        out[plan["id"]] = PlanPrices(
            plan["id"], plan.get("name") or str(plan["id"]), _decimal(plan.get("cost_per_month")),
            _decimal(plan.get("setup_fee")),
            tuple(Rule(metrics.get(r["metric_id"], str(r["metric_id"])), int(r["min"]),
                       None if r.get("max") is None else int(r["max"]), _decimal(r["cost_per_unit"]))
                  for r in rules))
    return out


def prices_frame(client: AdminClient, service_id: int | str) -> pd.DataFrame:
    """One row per pricing rule (plan, metric, min, max, cost per unit) plus the plan fees, for display."""
    rows = []
    for plan in plan_prices(client, service_id).values():
        for rule in plan.rules:
            rows.append({"plan": plan.name, "metric": rule.metric, "min": rule.min, "max": rule.max,
                         "cost_per_unit": float(rule.cost_per_unit), "cost_per_month": float(plan.cost_per_month),
                         "setup_fee": float(plan.setup_fee)})
    return pd.DataFrame(rows, columns=["plan", "metric", "min", "max", "cost_per_unit", "cost_per_month",
                                       "setup_fee"])


def current_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def cost_frame(client: AdminClient, month: str | None = None, *, services: dict[str, Any] | None = None,
               fees: bool = True) -> pd.DataFrame:
    """Usage and cost per account, application, metric and day of `month` (YYYY-MM; default this month), in
    the provider's timezone (Analytics' default, as billing uses). Metrics: hits, the token metrics and every
    priced metric; `fees` adds a `cost_per_month` row per application on the month's first day."""
    month = month or current_month()
    datetime.strptime(month, "%Y-%m")  # ValueError for the caller's one-line message
    if services is None:
        services = {s["id"]: s for s in _items(client.get_json("/admin/api/services.json"), "services", "service")}
    apps = client.get_all("/admin/api/applications.json", "applications", "application")
    used = {a["service_id"] for a in apps} & set(services)
    prices = {sid: plan_prices(client, sid) for sid in used}
    known = {sid: set(metric_names(client, sid).values()) for sid in used}
    rows: list[dict[str, Any]] = []
    for app in apps:
        service = services.get(app["service_id"])
        plan = prices.get(app["service_id"], {}).get(app["plan_id"])
        if service is None or plan is None:
            continue
        metrics = [m for m in dict.fromkeys([*USAGE_METRICS, *plan.metrics]) if m in known[app["service_id"]]]
        usage = get_usage(client, "applications", app["id"], metrics, period="month", since=f"{month}-01",
                          granularity="day")
        base = {"account": app.get("org_name") or str(app.get("account_id")), "application": app.get("name"),
                "application_id": app["id"], "product": service.get("system_name"), "plan": plan.name}
        for metric, series in usage.groupby("metric", sort=False):
            cumulative, spent = 0, Decimal(0)
            for stamp, value in zip(series["timestamp"], series["value"], strict=True):
                cumulative += int(value)
                so_far = plan.cost(str(metric), cumulative)
                rows.append({**base, "date": stamp.date().isoformat(), "metric": metric, "usage": int(value),
                             "cost": float(so_far - spent)})
                spent = so_far
        if fees and plan.cost_per_month:
            rows.append({**base, "date": f"{month}-01", "metric": "cost_per_month", "usage": 1,
                         "cost": float(plan.cost_per_month)})
    return pd.DataFrame(rows, columns=COST_COLUMNS)


def cost_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per account and application: tokens, usage cost, monthly fee and total (4 decimals, as 3scale keeps
    line item costs)."""
    if frame.empty:
        return pd.DataFrame(columns=["account", "application", "product", "plan", "prompt_tokens",
                                     "completion_tokens", "usage_cost", "monthly_fee", "total"])
    keys = ["account", "application", "product", "plan"]
    fee = frame["metric"] == "cost_per_month"
    usage = frame[~fee].pivot_table(index=keys, columns="metric", values="usage", aggfunc="sum", fill_value=0)
    cost = frame[~fee].groupby(keys)["cost"].sum().rename("usage_cost")
    fees = frame[fee].groupby(keys)["cost"].sum().rename("monthly_fee")
    out = pd.concat([usage.reindex(columns=["prompt_tokens", "completion_tokens"], fill_value=0), cost, fees],
                    axis=1).fillna(0).reset_index()
    out["total"] = out["usage_cost"] + out["monthly_fee"]
    for column in ("usage_cost", "monthly_fee", "total"):
        out[column] = out[column].round(4)
    return out


def plot_cost_by_application(summary: pd.DataFrame, title: str = "Cost this month by application") -> Chart:
    """Stacked bars per application: usage cost (pricing rules × usage) and monthly fee."""
    from maas_helpers import charts  # matplotlib on the first plot, not at import

    fig, ax = charts.figure(title)
    rows = summary[summary["total"] > 0] if not summary.empty else summary
    if rows.empty:
        charts.empty(ax, "cost")
        return fig
    names = charts.labels(f"{r.account}: {r.application}" for r in rows.itertuples())
    width = 0.6 if len(names) > 1 else 0.3
    ax.bar(names, rows["usage_cost"], width=width, label="usage (pricing rules)")
    ax.bar(names, rows["monthly_fee"], width=width, bottom=rows["usage_cost"], label="monthly fee")
    ax.margins(y=0.15)  # room for the legend above the tallest bar
    ax.set_ylabel("cost")
    ax.legend()
    charts.slanted_labels(ax)
    return fig


def invoices_frame(client: AdminClient, month: str | None = None) -> pd.DataFrame:
    """3scale's invoices (Billing API `/api/invoices.json`), one row per line item, for `month` or all."""
    params = {"month": month} if month else {}
    # the Billing API pages at 20 by default (finance/api/base_controller.rb): read every page
    invoices = client.get_all("/api/invoices.json", "invoices", "invoice", params=params)
    rows = []
    for inv in invoices:
        items = _items(client.get_json(f"/api/invoices/{inv['id']}/line_items.json"), "line_items", "line_item")
        for item in items:
            rows.append({"invoice": inv["friendly_id"], "period": inv["period"], "state": inv["state"],
                         "application_id": item.get("contract_id"), "line": item["name"],
                         "quantity": item.get("quantity"), "cost": float(item["cost"]),
                         "currency": inv["currency"]})
    return pd.DataFrame(rows, columns=["invoice", "period", "state", "application_id", "line", "quantity", "cost",
                                       "currency"])


# -- deleting a buyer account: porta refuses while an invoice is unresolved -----------------------------------
# invoice.rb `scope :unresolved` (open, finalized, pending, unpaid) blocks account/billing.rb's before_destroy
# `check_unresolved_invoices`: DELETE /admin/api/accounts/{id} answers 403
# {"errors": {"invoices": ["need to be settled before the account deletion."]}}. paid, failed and cancelled don't.
NOT_ISSUED = ("open", "finalized")  # never sent to the developer: the kit may cancel them
ISSUED_UNPAID = ("pending", "unpaid")  # the developer owes them: a person decides (pay or cancel)


def _account_invoices(client: AdminClient, account_id: int) -> list[dict[str, Any]]:
    """Every invoice of the account; none when the Billing API is off or the token lacks its scope (a 403/404
    then; porta's finance controllers need the billing module and the `finance` scope)."""
    try:
        return client.get_all(f"/api/accounts/{account_id}/invoices.json", "invoices", "invoice")
    except MaasError as exc:
        if exc.status in (403, 404):
            return []
        raise


def delete_buyer_account(client: AdminClient, account_id: int, label: str = "") -> None:
    """Delete a buyer account the kit created, as a real 3scale allows it.

    Invoices not yet issued (open, finalized — e.g. after `maas sandbox bill`) are cancelled first
    (`PUT /api/invoices/{id}/state.json` state=cancelled, finance/api/invoices_controller.rb). An issued,
    unpaid invoice (pending, unpaid) is a debt: it is left alone and the error names it, with its state and
    what to do. An account already gone is fine (404)."""
    who = label or f"account {account_id}"
    blocking = []
    for invoice in _account_invoices(client, account_id):
        if invoice["state"] in NOT_ISSUED:
            client.send_json("PUT", f"/api/invoices/{invoice['id']}/state.json", {"state": "cancelled"})
        elif invoice["state"] in ISSUED_UNPAID:
            blocking.append(f"invoice {invoice['friendly_id']} ({invoice['period']}) is {invoice['state']}")
    if blocking:
        raise MaasError(f"{who} cannot be deleted: {', '.join(blocking)} — issued and not paid; mark it paid or "
                        "cancel it in 3scale (Audience > Billing > Invoices), then run the same command again")
    resp = client.request("DELETE", f"/admin/api/accounts/{account_id}.json", allow=(403, 404))
    if resp.status_code == 403:  # e.g. an invoice issued meanwhile; say what 3scale said
        raise MaasError(f"{who} cannot be deleted: 3scale answered 403 {resp.text[:300]}")
