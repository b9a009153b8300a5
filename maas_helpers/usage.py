"""Traffic and money (notebook 11): hits and tokens per product and application from the Analytics API, and
the prices of each plan (3scale's pricing rules) for the cost tables `maas_helpers.billing` computes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd

from maas_helpers.listings import our_products
from maas_helpers.normalise import application_label

if TYPE_CHECKING:
    from maas_helpers.kit import Kit


# --- notebook 11: usage ---------------------------------------------------------------------------------------------
_METRICS = ("hits", "prompt_tokens", "completion_tokens", "total_tokens")


@dataclass
class UsageSummary:
    """Totals per product and per application, and the long Analytics frames the figures are drawn from."""

    by_product: pd.DataFrame
    by_application: pd.DataFrame
    product_usage: pd.DataFrame = field(repr=False)
    application_usage: pd.DataFrame = field(repr=False)

    def figures(self) -> list[Any]:
        from maas_helpers import stats

        return [stats.plot_hits_by_method(self.product_usage, "Hits by method (all products)"),
                stats.plot_tokens_by_application(self.application_usage, "Tokens by application")]

    def write_json(self, directory: str | Path) -> Path:
        target = Path(directory) / "stats.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"products": self.by_product.to_dict("records"),
                                      "applications": self.by_application.to_dict("records")}, indent=2, default=str))
        return target


def _totals(frame: pd.DataFrame) -> dict[str, int]:
    sums = frame.groupby("metric")["value"].sum() if not frame.empty else pd.Series(dtype="int64")
    return {m: int(sums.get(m, 0)) for m in _METRICS}


def usage_summary(kit: Kit, day: str | None = None) -> UsageSummary:
    """Hits and tokens of one calendar day (default today, in the configured timezone) for our products and
    their applications, from the Analytics API. An explicit `since` + `timezone` keeps the window the same on
    3scale and the sandbox, whatever the provider's own timezone is."""
    from maas_helpers import stats

    zone = kit.settings.timezone
    since = day or datetime.now(ZoneInfo(zone)).date().isoformat()
    window: dict[str, Any] = {"period": "day", "since": since, "timezone": zone}

    products, apps, product_frames, app_frames = [], [], [], []
    for product, service in our_products(kit):
        sid = service["id"]
        frame = stats.get_product_usage(kit.admin, sid, name=product.system_name, **window)
        product_frames.append(frame)
        products.append({"product": product.system_name, **_totals(frame)})
        listed = kit.admin.get_all("/admin/api/applications.json", "applications", "application",
                                   params={"service_id": sid})
        for app in listed:
            labelled = [{"id": app["id"], "name": application_label(app)}]
            app_frame = stats.get_application_usage(kit.admin, labelled, **window)
            app_frames.append(app_frame)
            apps.append({"application": application_label(app), "account": app.get("org_name", ""),
                         "plan": app.get("plan_name", ""), "product": product.system_name, **_totals(app_frame)})
    columns = ["product", *_METRICS]
    return UsageSummary(
        pd.DataFrame(products, columns=columns),
        pd.DataFrame(apps, columns=["application", "account", "plan", *columns]),
        pd.concat(product_frames, ignore_index=True) if product_frames else pd.DataFrame(columns=stats.USAGE_COLUMNS),
        pd.concat(app_frames, ignore_index=True) if app_frames else pd.DataFrame(columns=stats.USAGE_COLUMNS),
    )




def list_prices(kit: Kit) -> pd.DataFrame:
    """Every pricing rule and fee of our products' plans, one row per plan and metric (3scale's pricing rules)."""
    from maas_helpers import billing

    frames = [billing.prices_frame(kit.admin, service["id"]).assign(product=product.system_name)
              for product, service in our_products(kit)]
    columns = ["product", "plan", "metric", "min", "max", "cost_per_unit", "cost_per_month", "setup_fee"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


# --- notebook 11: enough traffic on a priced plan to cost something ---------------------------------------------------
PRICED_CALL_MAX_TOKENS = 500  # completion tokens asked per call: a few calls pass a thousand
PRICED_CALLS_MAX = 40  # bound, whatever the model answers


def send_priced_traffic(kit: Kit, tokens: int = 2000) -> pd.DataFrame:
    """Chat calls with the admin-created application of the first chat product on a priced plan, until
    `tokens` completion tokens are spent (at most PRICED_CALLS_MAX calls). 3scale bills tokens per thousand
    (`*_tokens_k`, the remainder carried per application), so a run needs at least a thousand to cost anything.
    One row per product: plan, calls, prompt and completion tokens."""
    import requests

    columns = ["product", "plan", "calls", "prompt_tokens", "completion_tokens"]
    if tokens <= 0:
        return pd.DataFrame(columns=columns)
    apps = {a.product: a for a in kit.catalogue.applications}
    keys = kit.application_keys()
    links = kit.links()
    for product in kit.catalogue.products:
        app = apps.get(product.system_name)
        if product.kind != "chat" or app is None or product.system_name not in keys:
            continue
        pricing = product.plan(app.plan).pricing
        if not any(p.metric == "completion_tokens" for p in pricing.prices):
            continue
        url = links[f"{product.system_name} (production)"].rstrip("/") + "/v1/chat/completions"
        headers = {"Authorization": f"Bearer {keys[product.system_name]}"}
        body: dict[str, Any] = {"model": product.model, "max_tokens": PRICED_CALL_MAX_TOKENS,
                "messages": [{"role": "user", "content": "Tell a long story about an API gateway."}]}
        calls, prompt, completion = 0, 0, 0
        while completion < tokens and calls < PRICED_CALLS_MAX:
            resp = requests.post(url, json=body, headers=headers, timeout=60, verify=kit.settings.tls_verify)
            calls += 1
            resp.raise_for_status()
            used = resp.json().get("usage") or {}
            prompt += int(used.get("prompt_tokens") or 0)
            completion += int(used.get("completion_tokens") or 0)
        return pd.DataFrame([{"product": product.system_name, "plan": app.plan, "calls": calls,
                              "prompt_tokens": prompt, "completion_tokens": completion}], columns=columns)
    return pd.DataFrame(columns=columns)


def cost_by_product(summary: pd.DataFrame, products: list[str]) -> pd.DataFrame:
    """Usage cost, monthly fees and total per product, one row for every product (0 where nothing is priced or
    used), so the cost table lists the same products as the usage tables."""
    columns = ["usage_cost", "monthly_fee", "total"]
    sums = summary.groupby("product")[columns].sum() if not summary.empty else pd.DataFrame(columns=columns)
    out = sums.reindex(products, fill_value=0).astype(float).round(4)
    out.index.name = "product"
    return out
