"""Billing: invoices, line items and the monthly billing run, as porta 3scale-2.16-stable has them.

- app/models/invoice.rb: states open → finalized → pending (`issue`) → paid / unpaid / failed, and cancelled;
  friendly ids `YYYY-MM-########` per month; `period` a month (`YYYY-MM`); currency from the billing strategy
  (db/schema.rb billing_strategies.currency default USD).
- app/models/line_item.rb: cost rounded to 4 decimals; `type` LineItem::PlanCost, LineItem::VariableCost or
  blank (a line added through the API).
- app/models/pricing_rule.rb `cost_for_value` and app/lib/finance/variable_cost.rb: per pricing rule of the
  plan, the month's usage of its metric priced over the rule's range; one VariableCost line per metric with a
  non-zero cost (name = the metric's friendly name, quantity = the usage), most expensive first.
- app/models/finance/billing_strategy.rb `add_plan_cost`: the plan's monthly fee as a PlanCost line
  "Fixed fee ('<plan>')"; contract.rb `bill_setup_fee_for`: the setup fee once per application.

Sandbox simplification (docs/sandbox.md): one run bills a whole month — the month's fixed fee and its usage
on one invoice, then finalizes it (porta's postpaid day-1 run bills last month's variable costs, finalizes
last month's invoice and puts the new month's fixed fee on the next one; fees are not prorated here). Usage is
billed up to the sandbox clock's last whole minute and never twice, so billing the running month bills what
was used so far.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maas_sandbox.admin import column_bounds
from maas_sandbox.admin.conventions import Unprocessable
from maas_sandbox.admin.rails_zones import ZONES
from maas_sandbox.context import Sandbox

Obj = dict[str, Any]
DECIMALS = Decimal("0.0001")
CURRENCY = "USD"
# event → (from states, to state), invoice.rb's state_machine
EVENTS: dict[str, tuple[tuple[str, ...], str]] = {
    "finalize": (("open",), "finalized"),
    "issue": (("open", "finalized"), "pending"),
    "mark_as_unpaid": (("pending",), "unpaid"),
    "pay": (("unpaid", "pending", "failed"), "paid"),
    "fail": (("unpaid",), "failed"),
    "cancel": (("open", "finalized", "pending", "unpaid", "failed"), "cancelled"),
}
EDITABLE = ("open", "finalized")
ISSUE_AND_DUE_DELAY = timedelta(days=2)  # invoice.rb ISSUE_AND_DUE_DEFAULT_DELAY


def money(value: Any) -> Decimal:
    return Decimal(str(value if value not in (None, "") else 0)).quantize(DECIMALS, ROUND_HALF_UP)


def parse_month(text: Any) -> str:
    """`YYYY-MM` (Month.parse_month), or a 422 with porta's message."""
    value = str(text or "")
    try:
        datetime.strptime(value, "%Y-%m")
    except ValueError:
        raise Unprocessable({"period": ["Billing period format should be YYYY-MM"]}) from None
    if len(value) != 7:
        raise Unprocessable({"period": ["Billing period format should be YYYY-MM"]})
    return value


def current_month(sandbox: Sandbox) -> str:
    return sandbox.clock.now().astimezone(provider_zone(sandbox)).strftime("%Y-%m")


def provider_zone(sandbox: Sandbox) -> ZoneInfo:
    """Usage is billed in the provider's timezone (variable_cost.rb: `provider_account.timezone`)."""
    name = (sandbox.store.first("provider") or {}).get("_timezone") or "UTC"
    try:
        return ZoneInfo(ZONES.get(name, "Etc/UTC" if name == "UTC" else name))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Etc/UTC")


def month_bounds(sandbox: Sandbox, month: str) -> tuple[int, int]:
    """Epoch seconds of the month's first instant and of the next month's, in the provider's timezone."""
    year, mon = (int(p) for p in month.split("-"))
    zone = provider_zone(sandbox)
    start = datetime(year, mon, 1, tzinfo=zone)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=zone)
    return int(start.timestamp()), int(end.timestamp())


def month_label(month: str) -> str:
    """Month#to_s(:long) style description of a period, e.g. `November 01, 2026 - November 30, 2026`."""
    year, mon = (int(p) for p in month.split("-"))
    name = calendar.month_name[mon]
    return f"{name} 01, {year} - {name} {calendar.monthrange(year, mon)[1]:02d}, {year}"


# -- invoices -----------------------------------------------------------------------------------
def invoice_cost(sandbox: Sandbox, invoice_id: int) -> Decimal:
    return sum((money(li["cost"]) for li in sandbox.store.list("line_item", invoice_id=invoice_id)), Decimal(0))


def create_invoice(sandbox: Sandbox, account_id: int, period: str | None, creation_type: str = "manual") -> Obj:
    month = parse_month(period) if period not in (None, "") else current_month(sandbox)
    count = sum(1 for i in sandbox.store.list("invoice") if i["period"] == month)
    return sandbox.store.insert("invoice", {
        "buyer_account_id": account_id, "friendly_id": f"{month}-{count + 1:08d}", "state": "open",
        "paid_at": None, "due_on": None, "issued_on": None, "currency": CURRENCY, "vat_rate": None,
        "period": month, "creation_type": creation_type,
    })


def fire(sandbox: Sandbox, invoice: Obj, event: str) -> Obj:
    sources, target = EVENTS[event]
    if invoice["state"] not in sources:
        raise Unprocessable({"base": [f"Cannot transition to {target}"]})
    today = sandbox.clock.now().astimezone(provider_zone(sandbox)).date()
    changes: Obj = {"state": target}
    if target == "pending":  # invoice.rb before_transition to: :pending: issued today, due ISSUE_AND_DUE_DEFAULT_DELAY
        changes.update(issued_on=today.isoformat(), due_on=(today + ISSUE_AND_DUE_DELAY).isoformat())
    if target == "paid":
        changes["paid_at"] = sandbox.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    return sandbox.store.update("invoice", invoice["id"], changes)


def to_state(sandbox: Sandbox, invoice: Obj, state: str) -> Obj:
    """PUT /api/invoices/{id}/state: the event whose transition from the current state leads to `state`."""
    state = "cancelled" if state == "cancel" else state
    for event, (sources, target) in EVENTS.items():
        if target == state and invoice["state"] in sources:
            return fire(sandbox, invoice, event)
    raise Unprocessable({"base": [f"Cannot transition to {state}"]})


def add_line_item(sandbox: Sandbox, invoice: Obj, attrs: Obj) -> Obj:
    if invoice["state"] not in EDITABLE:
        raise Unprocessable({"base": ["Invoice is not editable"]})
    # porta db/schema.rb: quantity INT, cost decimal(20,4); bounded on the text, before any arithmetic
    quantity = column_bounds.integer_in_column("quantity", attrs.get("quantity") or 0, column_bounds.INT_MAX)
    column_bounds.decimal_20_4("cost", attrs.get("cost") or 0)
    try:
        cost = money(attrs.get("cost"))
    except ArithmeticError:
        raise Unprocessable({"cost": ["is not a number"]}) from None
    return sandbox.store.insert("line_item", {
        "invoice_id": invoice["id"], "name": attrs.get("name"), "description": attrs.get("description"),
        "quantity": quantity, "cost": str(cost), "metric_id": attrs.get("metric_id"),
        "type": attrs.get("type", ""), "contract_id": attrs.get("contract_id"),
        "contract_type": "Cinstance" if attrs.get("contract_id") else None, "plan_id": attrs.get("plan_id"),
    })


# -- the billing run ------------------------------------------------------------------------------
def rule_cost(rule: Obj, value: int) -> Decimal:
    """pricing_rule.rb `cost_for_value`: units from min to max (nil = no upper end) at cost_per_unit."""
    low, high, unit = int(rule["min"]), rule.get("max"), money(rule["cost_per_unit"])
    if value < low:
        return Decimal(0)
    top = value if high is None or value <= int(high) else int(high)
    return unit * (top - low + 1)


def _usage(sandbox: Sandbox, app: Obj, metric_id: int, since: int, until: int) -> int:
    rows = sandbox.backend.usage_rows(metric_id, since, until, application_id=app["id"])
    return sum(v for _, _, v in rows)


def _invoice_for(sandbox: Sandbox, account_id: int, month: str) -> Obj:
    for invoice in sandbox.store.list("invoice", buyer_account_id=account_id):
        if invoice["period"] == month and invoice["state"] in EDITABLE and invoice["creation_type"] == "background":
            return invoice
    return create_invoice(sandbox, account_id, month, "background")


def bill_application(sandbox: Sandbox, app: Obj, month: str) -> list[Obj]:
    """The PlanCost and VariableCost lines of one application for `month`. As porta's contracts keep
    `paid_until` / `variable_cost_paid_until`, usage is billed up to now and only once: billing a month that
    has not ended bills its usage so far, and a later run bills the rest."""
    plan = sandbox.store.get("plan", app["plan_id"])
    if plan is None:
        return []
    fixed_months = list(app.get("_fixed_fee_months") or [])
    lines: list[Obj] = []
    if not app.get("_setup_fee_billed") and money(plan.get("setup_fee")):
        lines.append({"name": f"Setup fee ('{plan['name']}')", "description": month_label(month), "quantity": 1,
                      "cost": money(plan["setup_fee"]), "type": "LineItem::PlanCost"})
    if month not in fixed_months and money(plan.get("cost_per_month")):
        lines.append({"name": f"Fixed fee ('{plan['name']}')", "description": month_label(month), "quantity": 1,
                      "cost": money(plan["cost_per_month"]), "type": "LineItem::PlanCost"})
    start, end = month_bounds(sandbox, month)
    paid_until = int(app.get("_variable_paid_until") or 0)
    # usage is kept per minute: a running month is billed up to the last whole minute, the rest later
    until = min(end, int(sandbox.clock.time()) // 60 * 60)
    since = max(start, paid_until)
    variable: list[Obj] = []
    by_metric: dict[int, list[Obj]] = {}
    for rule in sandbox.store.list("pricing_rule", plan_id=plan["id"]):
        by_metric.setdefault(rule["metric_id"], []).append(rule)
    for metric_id, rules in by_metric.items() if since < until else ():
        metric = sandbox.store.get("metric", metric_id) or {}
        value = _usage(sandbox, app, metric_id, since, until)
        cost = sum((rule_cost(r, value) for r in rules), Decimal(0))
        if cost:
            variable.append({"name": metric.get("friendly_name") or metric.get("system_name"),
                             "description": month_label(month), "quantity": value, "cost": cost,
                             "metric_id": metric_id, "type": "LineItem::VariableCost"})
    lines += sorted(variable, key=lambda li: -li["cost"])
    sandbox.store.update("application", app["id"], {
        "_fixed_fee_months": sorted({*fixed_months, month}), "_setup_fee_billed": True,
        "_variable_paid_until": max(paid_until, until)})
    return [{**li, "contract_id": app["id"], "plan_id": plan["id"]} for li in lines]


def bill(sandbox: Sandbox, month: str, account_id: int | None = None) -> list[Obj]:
    """Bill `month` for every buyer account with monthly billing on (or just `account_id`): one invoice per
    account with lines, finalized. Re-running a month adds nothing. Returns the invoices touched."""
    month = parse_month(month)
    touched: list[Obj] = []
    for account in sandbox.store.list("account"):
        if account_id is not None and account["id"] != account_id:
            continue
        if account.get("monthly_billing_enabled") is False:
            continue
        lines = [li for app in sandbox.store.list("application", account_id=account["id"])
                 for li in bill_application(sandbox, app, month)]
        if not lines:
            continue
        invoice = _invoice_for(sandbox, account["id"], month)
        for line in lines:
            add_line_item(sandbox, invoice, line)
        if invoice["state"] == "open":
            invoice = fire(sandbox, invoice, "finalize")
        touched.append(invoice)
    return touched


def update_invoice(sandbox: Sandbox, invoice: Obj, changes: Obj) -> Obj:
    """`period` / `friendly_id` as the route validated them; nothing to change writes nothing."""
    return sandbox.store.update("invoice", invoice["id"], changes) if changes else invoice


def delete_line_item(sandbox: Sandbox, invoice: Obj, item: Obj) -> None:
    if invoice["state"] not in EDITABLE:
        raise Unprocessable({"base": ["Invoice is not editable"]})
    sandbox.store.delete("line_item", item["id"])
