"""Read-only tables of what exists in 3scale now, one per tutorial step (the step objects' `list()`), and the
cluster manifests notebook 1 shows. Everything here only reads, through the Kit's counted Admin API client."""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from maas_helpers.normalise import public_url

if TYPE_CHECKING:
    from maas_helpers.catalogue import Product
    from maas_helpers.kit import Kit


# --- Admin API reads --------------------------------------------------------------------------------------------
def admin_get(kit: Kit, path: str, **params: Any) -> Any:
    """GET an Admin API path (with `.json`) through the Kit's counted client."""
    return kit.admin.get_json(path, params=params or None)


def _unwrap(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [item.get(key, item) for item in items]


def services_by_system_name(kit: Kit) -> dict[str, dict[str, Any]]:
    return {s["system_name"]: s for s in _unwrap(admin_get(kit, "/admin/api/services.json")["services"], "service")}


def our_products(kit: Kit) -> list[tuple[Product, dict[str, Any]]]:
    """(catalogue product, its 3scale service) for every catalogue product that exists."""
    services = services_by_system_name(kit)
    return [(p, services[p.system_name]) for p in kit.catalogue.products if p.system_name in services]


def list_backends(kit: Kit) -> pd.DataFrame:
    rows = [
        {"system_name": b["system_name"], "name": b["name"], "private_endpoint": b["private_endpoint"], "id": b["id"]}
        for b in _unwrap(admin_get(kit, "/admin/api/backend_apis.json")["backend_apis"], "backend_api")
    ]
    return pd.DataFrame(rows, columns=["system_name", "name", "private_endpoint", "id"])


def _metric_names(kit: Kit, service_id: int) -> dict[int, str]:
    """A product's metrics and methods by id (3scale lists both under metrics.json)."""
    listed = admin_get(kit, f"/admin/api/services/{service_id}/metrics.json")["metrics"]
    return {m["id"]: m["system_name"] for m in _unwrap(listed, "metric")}


def list_mapping_rules(kit: Kit) -> pd.DataFrame:
    rows = []
    for product, service in our_products(kit):
        sid = service["id"]
        metrics = _metric_names(kit, sid)
        for method_list in (admin_get(kit, f"/admin/api/services/{sid}/metrics/{mid}/methods.json")
                            for mid, name in metrics.items() if name == "hits"):
            metrics.update({m["id"]: m["system_name"] for m in _unwrap(method_list["methods"], "method")})
        for rule in _unwrap(admin_get(kit, f"/admin/api/services/{sid}/proxy/mapping_rules.json")["mapping_rules"],
                            "mapping_rule"):
            rows.append({"product": product.system_name, "http_method": rule["http_method"],
                         "pattern": rule["pattern"], "metric": metrics.get(rule["metric_id"], rule["metric_id"]),
                         "delta": rule["delta"]})
    return pd.DataFrame(rows, columns=["product", "http_method", "pattern", "metric", "delta"])


def _latest_config(kit: Kit, sid: int, env: str) -> dict[str, Any] | None:
    found = kit.admin.get_json(f"/admin/api/services/{sid}/proxy/configs/{env}/latest.json", allow_404=True)
    return found["proxy_config"] if found else None


def list_proxy_versions(kit: Kit) -> pd.DataFrame:
    """Per product: latest staging and production versions and the production policy chain (names, in order)."""
    rows = []
    for product, service in our_products(kit):
        staging = _latest_config(kit, service["id"], "sandbox")
        production = _latest_config(kit, service["id"], "production")
        chain = (production or {}).get("content", {}).get("proxy", {}).get("policy_chain", [])
        rows.append({"product": product.system_name,
                     "staging": staging["version"] if staging else None,
                     "production": production["version"] if production else None,
                     "policy_chain": [p["name"] for p in chain]})
    return pd.DataFrame(rows, columns=["product", "staging", "production", "policy_chain"])


def list_plan_limits(kit: Kit) -> pd.DataFrame:
    rows = []
    for product, service in our_products(kit):
        sid = service["id"]
        metrics = _metric_names(kit, sid)
        for plan in _unwrap(admin_get(kit, f"/admin/api/services/{sid}/application_plans.json")["plans"],
                            "application_plan"):
            limits = _unwrap(admin_get(kit, f"/admin/api/application_plans/{plan['id']}/limits.json")["limits"],
                             "limit")
            for limit in limits:
                rows.append({"product": product.system_name, "plan": plan["system_name"],
                             "published": plan.get("state") == "published",
                             "metric": metrics.get(limit["metric_id"], limit["metric_id"]),
                             "period": limit["period"], "value": limit["value"]})
    return pd.DataFrame(rows, columns=["product", "plan", "published", "metric", "period", "value"])


def _per_million(rules: list[Any]) -> str:
    """A token metric's price per 1M tokens from 3scale's rules on its `_k` metric (per thousand tokens)."""
    if not rules:
        return "–"
    prices = [f"{float(r.cost_per_unit) * 1000:g}" for r in sorted(rules, key=lambda r: r.min)]
    if len(prices) == 1:
        return prices[0]
    return " / ".join(f"{p} from {r.min}k" for p, r in zip(prices, sorted(rules, key=lambda r: r.min), strict=True))


def plan_terms(kit: Kit, limits: pd.DataFrame) -> pd.DataFrame:
    """One row per product and plan: its limits as columns (metric, period) and its prices as 3scale holds them
    (monthly fee; prompt and completion tokens per 1M, from the pricing rules per thousand tokens)."""
    from maas_helpers import billing

    table = limits.pivot_table(index=["product", "plan"], columns=["metric", "period"], values="value",
                               aggfunc="first")
    prices: dict[tuple[str, str], dict[tuple[str, str], Any]] = {}
    for product, service in our_products(kit):
        plans = _unwrap(admin_get(kit, f"/admin/api/services/{service['id']}/application_plans.json")["plans"],
                        "application_plan")
        system_names = {p["id"]: p["system_name"] for p in plans}
        for plan_id, plan in billing.plan_prices(kit.admin, service["id"]).items():
            prices[(product.system_name, system_names.get(plan_id, plan.name))] = {
                ("price", "per month"): float(plan.cost_per_month),
                ("price", "prompt per 1M tokens"): _per_million(
                    [r for r in plan.rules if r.metric == "prompt_tokens_k"]),
                ("price", "completion per 1M tokens"): _per_million(
                    [r for r in plan.rules if r.metric == "completion_tokens_k"]),
            }
    for column in (("price", "per month"), ("price", "prompt per 1M tokens"), ("price", "completion per 1M tokens")):
        table[column] = [prices.get(key, {}).get(column, "–") for key in table.index]
    return table


def list_active_docs(kit: Kit) -> pd.DataFrame:
    """Our products' ActiveDocs with the spec's first server and the product's production endpoint."""
    ours = {service["id"]: service for _, service in our_products(kit)}
    rows = []
    for doc in _unwrap(admin_get(kit, "/admin/api/active_docs.json")["api_docs"], "api_doc"):
        service = ours.get(doc.get("service_id"))
        if service is None:
            continue
        spec = json.loads(doc["body"]) if isinstance(doc.get("body"), str) else doc.get("body") or {}
        proxy = admin_get(kit, f"/admin/api/services/{service['id']}/proxy.json")["proxy"]
        rows.append({"system_name": doc["system_name"], "product": service["system_name"],
                     "published": bool(doc.get("published")),
                     "server": public_url((spec.get("servers") or [{}])[0].get("url", "")),
                     "production_endpoint": public_url(proxy.get("endpoint", ""))})
    return pd.DataFrame(rows, columns=["system_name", "product", "published", "server", "production_endpoint"])


def list_sample_plans(kit: Kit) -> list[dict[str, Any]] | None:
    """The application plans of 3scale's seed product `api`; None when the tenant has no such product."""
    sample = services_by_system_name(kit).get("api")
    if sample is None:
        return None
    return _unwrap(admin_get(kit, f"/admin/api/services/{sample['id']}/application_plans.json")["plans"],
                   "application_plan")


def get_provider_account(kit: Kit) -> dict[str, Any]:
    """The tenant's own account as the Admin API returns it (org name, timezone …)."""
    return admin_get(kit, "/admin/api/provider.json")["account"]


# --- notebook 1: the cluster objects, Secret data reduced to sizes ---------------------------------------
@dataclass
class ManifestView:
    documents: list[dict[str, Any]]

    def __str__(self) -> str:
        from maas_helpers.manifests import to_yaml

        return "\n---\n".join(to_yaml(d) for d in self.documents)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"


def show_manifests(kit: Kit, kinds: list[str]) -> ManifestView:
    """The cluster objects of `kinds` for these settings; Secret data reduced to file names and sizes."""
    from maas_helpers.manifests import threescale_manifests

    docs = []
    for doc in threescale_manifests(kit.settings):
        if doc.get("kind") not in kinds:
            continue
        if doc.get("kind") == "Secret":
            doc = {**doc}
            # The kit sends files as base64 `data`; show each file's decoded size, never its content.
            sizes = {name: len(base64.b64decode(value)) for name, value in doc.get("data", {}).items()}
            sizes.update({name: len(value.encode()) for name, value in doc.get("stringData", {}).items()})
            doc.pop("stringData", None)
            doc["data"] = {name: f"<{size} bytes from policies/>" for name, size in sizes.items()}
        docs.append(doc)
    return ManifestView(docs)




# --- notebook 8: is the kit's own portal content what the portal serves? --------------------------------------
def _literal_line(template: str) -> str:
    """The first line of a Liquid template that renders as itself (no tag, no output): a marker of our page."""
    for line in template.splitlines():
        text = line.strip()
        if text and "{{" not in text and "{%" not in text:
            return text
    raise ValueError("the home page template has no literal line to look for")


def list_portal_served(kit: Kit) -> pd.DataFrame:
    """GET the developer portal's home page and the kit's files, anonymously, and say whether each serves the
    content in the catalogue's portal directory (`portal/` by default): the home page must contain a literal
    line of `pages/homepage…` and link our stylesheet; each text file must come back byte for byte."""
    import requests
    import yaml

    from maas_helpers.resources import resolve_path

    portal = kit.catalogue.portal
    manifest = yaml.safe_load(portal.manifest_file.read_text()) or {}
    root = resolve_path(portal.path)
    base = (kit.credentials.portal_url or "").rstrip("/")
    verify = kit.settings.tls_verify
    rows = []
    home = next(p for p in manifest.get("pages") or [] if p.get("path") == "/")
    marker = _literal_line((root / home["file"]).read_text())
    styles = [f["path"] for f in manifest.get("files") or [] if f["path"].endswith(".css")]
    resp = requests.get(base + "/", timeout=10, verify=verify)
    ours = resp.status_code == 200 and marker in resp.text and all(s in resp.text for s in styles)
    rows.append({"check": f"home page shows {home['file']}", "url": base + "/", "status": resp.status_code,
                 "ours": ours, "looked_for": marker})
    for spec in manifest.get("files") or []:
        source = root / spec["file"]
        if source.suffix not in (".css", ".js", ".svg"):
            continue
        resp = requests.get(base + spec["path"], timeout=10, verify=verify)
        rows.append({"check": f"serves {spec['file']}", "url": base + spec["path"], "status": resp.status_code,
                     "ours": resp.status_code == 200 and resp.content == source.read_bytes(),
                     "looked_for": f"{source.stat().st_size} bytes as shipped"})
    return pd.DataFrame(rows, columns=["check", "url", "status", "ours", "looked_for"])
