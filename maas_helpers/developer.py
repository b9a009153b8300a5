"""Read-only views and the developer's journey the tutorial notebooks show.

- `list_*`: what exists in 3scale now (via the Kit's Admin API client), as DataFrames for "what changed" and
  verification cells. They only read.
- `Journey`: the API consumer's side (notebook 10) — signup, an application per product, calls with plain HTTP
  and the OpenAI SDK, and the gateway's refusals (missing key, unknown key, unmapped path, exceeded limit).
- `usage_summary`: hits and tokens per product and application from the Analytics API (notebook 11).
- `show_manifests`, `teardown_plan`, `teardown_button`: notebook 1 and 99 displays.

Keys are masked in every repr; the journey keeps them only in memory. The developer's portal password is
generated once into a 0600 file in the state directory (`developer-<username>.secret`) and never printed; the
same files tell notebook 99 which accounts the kit signed up.
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd
import requests

from maas_helpers.secrets import generated_secret, mask

if TYPE_CHECKING:
    from maas_helpers.catalogue import Product
    from maas_helpers.kit import Kit

TIMEOUT = 30.0
_DEV_SECRET = re.compile(r"^developer-(?P<username>[A-Za-z0-9._-]+)\.secret$")


def developer_password_file(kit: Kit, username: str) -> Path:
    return Path(kit.settings.state_dir) / f"developer-{username}.secret"


def developer_password(kit: Kit, username: str) -> str:
    """The developer's portal password: generated on first use into a 0600 file, never printed or hard-coded
    (on a cluster the account is real and reachable by anyone who could read a fixed password)."""
    return generated_secret(developer_password_file(kit, username), 18)


def kit_developers(kit: Kit) -> list[str]:
    """Usernames of the developer accounts the kit signed up (those with a password file in the state dir)."""
    state = Path(kit.settings.state_dir)
    found = (_DEV_SECRET.match(p.name) for p in state.glob("developer-*.secret")) if state.is_dir() else ()
    return sorted(m["username"] for m in found if m)
# The request each model kind gets in the journey: (path, body without `model`).
_SAMPLE_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"messages": [{"role": "user", "content": "What is an API gateway?"}],
                                      "max_tokens": 24}),
    "completion": ("/v1/completions", {"prompt": "def fibonacci(n):", "max_tokens": 24}),
    "embedding": ("/v1/embeddings", {"input": "Model as a Service"}),
}


# --- Admin API reads --------------------------------------------------------------------------------------------
def admin_get(kit: Kit, path: str, **params: Any) -> Any:
    """GET an Admin API path (with `.json`) through the Kit's counted client."""
    return kit.admin.get_json(path, params=params or None)


def _unwrap(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [item.get(key, item) for item in items]


def services_by_system_name(kit: Kit) -> dict[str, dict[str, Any]]:
    return {s["system_name"]: s for s in _unwrap(admin_get(kit, "/admin/api/services.json")["services"], "service")}


def _our_products(kit: Kit) -> list[tuple[Product, dict[str, Any]]]:
    """(catalogue product, its 3scale service) for every catalogue product that exists."""
    services = services_by_system_name(kit)
    return [(p, services[p.system_name]) for p in kit.catalogue.products if p.system_name in services]


def list_backends(kit: Kit) -> pd.DataFrame:
    rows = [
        {"system_name": b["system_name"], "name": b["name"], "private_endpoint": b["private_endpoint"], "id": b["id"]}
        for b in _unwrap(admin_get(kit, "/admin/api/backend_apis.json")["backend_apis"], "backend_api")
    ]
    return pd.DataFrame(rows, columns=["system_name", "name", "private_endpoint", "id"])


def list_mapping_rules(kit: Kit) -> pd.DataFrame:
    rows = []
    for product, service in _our_products(kit):
        sid = service["id"]
        metrics = {m["id"]: m["system_name"] for m in _unwrap(
            admin_get(kit, f"/admin/api/services/{sid}/metrics.json")["metrics"], "metric")}
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
    for product, service in _our_products(kit):
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
    for product, service in _our_products(kit):
        sid = service["id"]
        metrics = {m["id"]: m["system_name"] for m in _unwrap(
            admin_get(kit, f"/admin/api/services/{sid}/metrics.json")["metrics"], "metric")}
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


def list_active_docs(kit: Kit) -> pd.DataFrame:
    """Our products' ActiveDocs with the spec's first server and the product's production endpoint."""
    ours = {service["id"]: service for _, service in _our_products(kit)}
    rows = []
    for doc in _unwrap(admin_get(kit, "/admin/api/active_docs.json")["api_docs"], "api_doc"):
        service = ours.get(doc.get("service_id"))
        if service is None:
            continue
        spec = json.loads(doc["body"]) if isinstance(doc.get("body"), str) else doc.get("body") or {}
        proxy = admin_get(kit, f"/admin/api/services/{service['id']}/proxy.json")["proxy"]
        rows.append({"system_name": doc["system_name"], "product": service["system_name"],
                     "published": bool(doc.get("published")),
                     "server": (spec.get("servers") or [{}])[0].get("url", "").rstrip("/"),
                     "production_endpoint": str(proxy.get("endpoint", "")).rstrip("/")})
    return pd.DataFrame(rows, columns=["system_name", "product", "published", "server", "production_endpoint"])


# --- notebook 1: manifests ----------------------------------------------------------------------------------------
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


# --- "where to see it": admin-portal pages (porta 3scale-2.16-stable config/routes.rb paths) ---------------------
ADMIN_PAGES = (("overview", ""), ("methods and metrics", "/metrics"), ("mapping rules", "/proxy_rules"),
               ("configuration", "/integration"), ("application plans", "/application_plans"))


@dataclass
class AdminLinks:
    """Admin-portal URLs per product; renders as a table of links."""

    rows: list[dict[str, str]]
    sandbox: bool

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["product", "page", "url"])

    def __repr__(self) -> str:
        return self.frame().to_string(index=False)

    def _repr_html_(self) -> str:
        by_product: dict[str, list[str]] = {}
        for r in self.rows:  # one row per product: its pages side by side
            by_product.setdefault(r["product"], []).append(
                f"<a href=\"{html.escape(r['url'])}\" target=\"_blank\">{html.escape(r['page'])}</a>")
        cells = "".join(f"<tr><td>{html.escape(p)}</td><td>{' · '.join(links)}</td></tr>"
                        for p, links in by_product.items())
        note = ("<p>On the sandbox these open its read-only admin portal: sign in with the admin token "
                "(<code>.venv/bin/maas sandbox env</code> prints it) or user <code>admin</code> with the password "
                "in the state dir's <code>credentials.json</code> (0600).</p>") if self.sandbox else ""
        return f"<table><tr><th>product</th><th>admin portal pages</th></tr>{cells}</table>{note}"


def admin_links(kit: Kit) -> AdminLinks:
    base = kit.credentials.admin_url
    rows = []
    for product, service in _our_products(kit):
        sid = service["id"]
        rows += [{"product": product.system_name, "page": page, "url": f"{base}/apiconfig/services/{sid}{tail}"}
                 for page, tail in ADMIN_PAGES]
        rows.append({"product": product.system_name, "page": "traffic analytics",
                     "url": f"{base}/services/{sid}/stats/usage"})
    return AdminLinks(rows, kit.settings.target == "sandbox")


# --- notebook 9: how a developer signs in through SSO ------------------------------------------------------------
@dataclass
class SsoSignIn:
    portal_url: str
    realm_url: str
    demo_user: str
    demo_password_file: Path
    registration: bool

    def _repr_html_(self) -> str:
        register = ("<li>or <b>Register</b> on the SSO login page: the realm allows registration"
                    " (sandbox always; on a cluster only with <code>sso_registration: true</code>)</li>"
                    if self.registration else "<li>registration is off on this realm (set "
                    "<code>sso_registration: true</code> in the configuration to allow it)</li>")
        return (f"<p>Developer portal: <a href=\"{html.escape(self.portal_url)}\" target=\"_blank\">"
                f"{html.escape(self.portal_url)}</a> → <b>Sign in with SSO</b>, then</p><ul>"
                f"<li>user <code>{html.escape(self.demo_user)}</code>, password in "
                f"<code>{html.escape(str(self.demo_password_file))}</code> (0600, generated, never shown here)</li>"
                f"{register}</ul><p>Realm: <code>{html.escape(self.realm_url)}</code></p>")

    def __repr__(self) -> str:
        return (f"SsoSignIn(portal={self.portal_url!r}, user={self.demo_user!r}, "
                f"password_file={str(self.demo_password_file)!r}, registration={self.registration})")


def sso_sign_in(kit: Kit) -> SsoSignIn:
    sso = kit.catalogue.sso
    path = Path(kit.settings.state_dir) / f"sso-{sso.realm}-{sso.client_id}-demo-user.secret"
    allowed = kit.settings.target == "sandbox" or kit.settings.sso_registration
    return SsoSignIn(kit.links().get("developer portal", ""), kit.platform.sso_realm_url(sso.realm), "demo",
                     path, allowed)


# --- notebook 10: the developer's journey -------------------------------------------------------------------------
@dataclass
class AppKey:
    product: str
    kind: str
    model: str
    plan: str
    name: str
    key: str = field(repr=False)
    endpoint: str = ""

    @property
    def masked(self) -> str:
        return mask(self.key)


@dataclass
class Journey:
    kit: Kit = field(repr=False)
    username: str
    account_id: int
    apps: list[AppKey]
    free_app: AppKey | None = None

    @classmethod
    def start(cls, kit: Kit, username: str, plan: str = "standard") -> Journey:
        """Sign `username` up (or find the account), and give it an application per product on `plan`."""
        account = kit.admin.get_json("/admin/api/accounts/find.json", allow_404=True, params={"username": username})
        if account is None:
            account = kit.admin.send_json("POST", "/admin/api/signup.json", {
                "org_name": f"{username} org", "username": username, "email": f"{username}@example.com",
                "password": developer_password(kit, username)})
        account_id = int(account["account"]["id"])
        apps = [cls._ensure_app(kit, account_id, product, service, plan, f"{username} {product.system_name}")
                for product, service in _our_products(kit)]
        chat = next((a for a in apps if a.kind != "embedding"), None)
        free = None
        if chat is not None:
            product, service = next((p, s) for p, s in _our_products(kit) if p.system_name == chat.product)
            free = cls._ensure_app(kit, account_id, product, service, "free", f"{username} free demo")
        return cls(kit, username, account_id, apps, free)

    @staticmethod
    def _ensure_app(kit: Kit, account_id: int, product: Product, service: dict[str, Any], plan_name: str,
                    name: str) -> AppKey:
        sid = service["id"]
        plans = _unwrap(kit.admin.get_json(f"/admin/api/services/{sid}/application_plans.json")["plans"],
                        "application_plan")
        plan = next(p for p in plans if p["system_name"] == plan_name)
        existing = _unwrap(kit.admin.get_json(f"/admin/api/accounts/{account_id}/applications.json")["applications"],
                           "application")
        app = next((a for a in existing if a["name"] == name and a.get("service_id") == sid), None)
        if app is None:
            app = kit.admin.send_json("POST", f"/admin/api/accounts/{account_id}/applications.json",
                                      {"plan_id": plan["id"], "name": name,
                                       "description": "Created by the developer's journey notebook"})["application"]
        proxy = kit.admin.get_json(f"/admin/api/services/{sid}/proxy.json")["proxy"]
        return AppKey(product.system_name, product.kind, product.model, plan_name, name, app["user_key"],
                      str(proxy["endpoint"]).rstrip("/"))

    def table(self) -> pd.DataFrame:
        apps = self.apps + ([self.free_app] if self.free_app else [])
        return pd.DataFrame([{"product": a.product, "model": a.model, "plan": a.plan, "application": a.name,
                              "key": a.masked, "endpoint": a.endpoint} for a in apps])

    def __repr__(self) -> str:
        return f"Journey(username={self.username!r}, account_id={self.account_id}, apps={len(self.apps)})"

    def _repr_html_(self) -> str:
        portal = self.kit.links().get("developer portal", "")
        link = f'<p>Developer portal: <a href="{html.escape(portal)}" target="_blank">{html.escape(portal)}</a></p>'
        where = html.escape(str(developer_password_file(self.kit, self.username)))
        login = f"<p>Portal password: in <code>{where}</code> (0600, generated; never shown here)</p>"
        return f"<p>Developer <strong>{html.escape(self.username)}</strong></p>{self.table().to_html()}{link}{login}"

    # -- calls -----------------------------------------------------------------------------------------------
    def _post(self, app: AppKey, path: str, body: dict[str, Any], key: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {key if key is not None else app.key}"}
        return requests.post(app.endpoint + path, json={"model": app.model, **body}, headers=headers,
                             timeout=TIMEOUT, verify=self.kit.settings.tls_verify)

    def call_each_model(self) -> pd.DataFrame:
        """One plain-HTTP call per product, the request `curl -H 'Authorization: Bearer …' -d …` sends."""
        rows = []
        for app in self.apps:
            path, body = _SAMPLE_CALLS[app.kind]
            t0 = time.perf_counter()
            resp = self._post(app, path, body)
            data = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
            rows.append({"product": app.product, "kind": app.kind, "request": f"POST {path}",
                         "status": resp.status_code, "total_tokens": (data.get("usage") or {}).get("total_tokens", 0),
                         "ms": round((time.perf_counter() - t0) * 1000, 1), "answer": _answer(data)[:60]})
        return pd.DataFrame(rows)

    def call_with_openai_sdk(self, stream: bool = True) -> pd.DataFrame:
        """The OpenAI SDK pointed at each product's production URL (`…/v1`) with the application key."""
        import openai

        rows = []
        for app in self.apps:
            client = openai.OpenAI(base_url=app.endpoint + "/v1", api_key=app.key, timeout=TIMEOUT, max_retries=0)
            chunks, text, status = 0, "", "ok"
            try:
                if app.kind == "embedding":
                    result = client.embeddings.create(model=app.model, input="Model as a Service")
                    chunks, text = 1, f"{len(result.data[0].embedding)} dimensions"
                elif app.kind == "chat":
                    for chunk in client.chat.completions.create(
                            model=app.model, stream=stream, max_tokens=24,
                            messages=[{"role": "user", "content": "Say hello to the API gateway."}]):
                        chunks += 1
                        text += (chunk.choices[0].delta.content or "") if chunk.choices else ""
                else:
                    for chunk in client.completions.create(model=app.model, prompt="import ", stream=stream,
                                                           max_tokens=24):
                        chunks += 1
                        text += chunk.choices[0].text if chunk.choices else ""
            except openai.APIError as exc:
                status = f"error: {type(exc).__name__}"
            rows.append({"product": app.product, "kind": app.kind,
                         "call": "embeddings" if app.kind == "embedding" else f"{app.kind} (stream={stream})",
                         "status": status, "chunks": chunks, "text": text.strip()[:60]})
        return pd.DataFrame(rows)

    def check_routing(self) -> pd.DataFrame:
        """What the mapping rules and keys decide, sent for real: the chat path answers POST only; a key works
        only on its own product's gateway; a product's gateway forwards whatever model name the body carries."""
        chat = next((a for a in self.apps if a.kind == "chat"), None)
        other = next((a for a in self.apps if chat is not None and a.product != chat.product), None)
        if chat is None or other is None:
            return pd.DataFrame(columns=["check", "gateway", "request", "status", "body"])
        path, body = _SAMPLE_CALLS["chat"]
        verify = self.kit.settings.tls_verify
        cases: list[tuple[str, str, Any]] = [
            ("chat answers POST", f"POST {path} ({chat.product})", lambda: self._post(chat, path, body)),
            ("no GET rule for chat", f"GET {path} ({chat.product})",
             lambda: requests.get(chat.endpoint + path, headers={"Authorization": f"Bearer {chat.key}"},
                                  timeout=TIMEOUT, verify=verify)),
            ("key of another product", f"POST {path}, {other.product} key",
             lambda: self._post(chat, path, body, key=other.key)),
            ("another model's name", f"POST {path}, model {other.model}",
             lambda: requests.post(chat.endpoint + path, json={**body, "model": other.model},
                                   headers={"Authorization": f"Bearer {chat.key}"}, timeout=TIMEOUT,
                                   verify=verify)),
        ]
        rows = []
        for check, request, call in cases:
            resp = call()
            if resp.headers.get("content-type", "").startswith("application/json"):
                data = resp.json()
                text = f"[{data['model']}] {_answer(data)}" if "model" in data else _answer(data)
            else:
                text = resp.text.strip()
            rows.append({"check": check, "gateway": chat.product, "request": request, "status": resp.status_code,
                         "body": text[:60]})
        return pd.DataFrame(rows)

    def show_refusals(self, rate_limit: bool = True) -> pd.DataFrame:
        """Make the gateway refuse on purpose; `expected` is the status the product's proxy is configured with."""
        app = self.free_app or self.apps[0]
        sid = services_by_system_name(self.kit)[app.product]["id"]
        proxy = self.kit.admin.get_json(f"/admin/api/services/{sid}/proxy.json")["proxy"]
        path, body = _SAMPLE_CALLS[app.kind]
        verify = self.kit.settings.tls_verify
        cases: list[tuple[str, str, str, Any]] = [
            ("no key", f"POST {path} without Authorization", "error_status_auth_missing",
             lambda: requests.post(app.endpoint + path, json={"model": app.model, **body}, timeout=TIMEOUT,
                                   verify=verify)),
            ("unknown key", f"POST {path} with a made-up key", "error_status_auth_failed",
             lambda: self._post(app, path, body, key="not-a-real-key-0000")),
            ("unmapped path", "GET /v1/unknown with a valid key", "error_status_no_match",
             lambda: requests.get(app.endpoint + "/v1/unknown", headers={"Authorization": f"Bearer {app.key}"},
                                  timeout=TIMEOUT, verify=verify)),
        ]
        rows = [self._refusal(name, request, int(proxy[setting]), call) for name, request, setting, call in cases]
        if rate_limit:
            rows.append(self._exhaust_rate_limit(app, int(proxy["error_status_limits_exceeded"])))
        return pd.DataFrame(rows)

    @staticmethod
    def _refusal(case: str, request: str, expected: int, call: Any) -> dict[str, Any]:
        resp = call()
        return {"case": case, "request": request, "expected": expected, "status": resp.status_code,
                "body": resp.text.strip()[:60]}

    def _exhaust_rate_limit(self, app: AppKey, expected: int) -> dict[str, Any]:
        """GET /v1/models until the plan's per-minute hit limit answers (bounded by that limit + 2)."""
        per_minute = self._hits_per_minute(app)
        headers = {"Authorization": f"Bearer {app.key}"}
        calls, resp = 0, None
        for _ in range(per_minute + 2):
            calls += 1
            resp = requests.get(app.endpoint + "/v1/models", headers=headers, timeout=TIMEOUT,
                                verify=self.kit.settings.tls_verify)
            if resp.status_code == expected:
                break
        assert resp is not None
        return {"case": "rate limit", "request": f"GET /v1/models × {calls} on the {app.plan} plan "
                f"({per_minute}/minute)", "expected": expected, "status": resp.status_code,
                "body": resp.text.strip()[:60]}

    def _hits_per_minute(self, app: AppKey) -> int:
        product = next(p for p in self.kit.catalogue.products if p.system_name == app.product)
        plan = next(p for p in product.plans if p.system_name == app.plan)
        return min((lim.value for lim in plan.limits if lim.metric == "hits" and lim.period == "minute"), default=10)


def _answer(data: dict[str, Any]) -> str:
    """The model's answer on one line (a table cell shows newlines as a literal `\n`)."""
    choice = (data.get("choices") or [{}])[0]
    if "message" in choice:
        return " ".join(str(choice["message"].get("content", "")).split())
    if "text" in choice:
        return " ".join(str(choice["text"]).split())
    if data.get("data"):
        return f"{len(data['data'][0].get('embedding', []))} dimensions"
    return str(data.get("error", ""))


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
    for product, service in _our_products(kit):
        sid = service["id"]
        frame = stats.get_product_usage(kit.admin, sid, name=product.system_name, **window)
        product_frames.append(frame)
        products.append({"product": product.system_name, **_totals(frame)})
        listed = _unwrap(kit.admin.get_json("/admin/api/applications.json", params={"service_id": sid})
                         ["applications"], "application")
        for app in listed:
            app_frame = stats.get_application_usage(kit.admin, [{"id": app["id"], "name": app["name"]}], **window)
            app_frames.append(app_frame)
            apps.append({"application": app["name"], "account": app.get("org_name", ""),
                         "plan": app.get("plan_name", ""), "product": product.system_name, **_totals(app_frame)})
    columns = ["product", *_METRICS]
    return UsageSummary(
        pd.DataFrame(products, columns=columns),
        pd.DataFrame(apps, columns=["application", "account", "plan", *columns]),
        pd.concat(product_frames, ignore_index=True) if product_frames else pd.DataFrame(columns=stats.USAGE_COLUMNS),
        pd.concat(app_frames, ignore_index=True) if app_frames else pd.DataFrame(columns=stats.USAGE_COLUMNS),
    )


# --- notebook 99: teardown ------------------------------------------------------------------------------------------
def teardown_plan(kit: Kit) -> pd.DataFrame:
    """The catalogue's products and backends that exist now (what `kit.destroy()` removes with their children)."""
    services = services_by_system_name(kit)
    backends = set(list_backends(kit).system_name)
    rows = []
    for product in kit.catalogue.products:
        if product.system_name in services:
            rows.append({"kind": "product (with its rules, plans, applications, ActiveDoc)",
                         "system_name": product.system_name})
        if product.backend.system_name in backends:
            rows.append({"kind": "backend", "system_name": product.backend.system_name})
    for username, _ in _developer_accounts(kit):
        rows.append({"kind": "developer account (signed up by notebook 10)", "system_name": username})
    return pd.DataFrame(rows, columns=["kind", "system_name"])


def _developer_accounts(kit: Kit) -> list[tuple[str, int]]:
    out = []
    for username in kit_developers(kit):
        found = kit.admin.get_json("/admin/api/accounts/find.json", allow_404=True, params={"username": username})
        if found is not None:
            out.append((username, int(found["account"]["id"])))
    return out


def remove_developers(kit: Kit) -> pd.DataFrame:
    """Delete the developer accounts the kit signed up (with their applications) and forget their passwords.
    Accounts the kit did not create are never touched."""
    rows = []
    for username, account_id in _developer_accounts(kit):
        kit.admin.request("DELETE", f"/admin/api/accounts/{account_id}.json")
        rows.append({"account": username, "id": account_id, "change": "deleted"})
    for username in kit_developers(kit):
        developer_password_file(kit, username).unlink(missing_ok=True)
    return pd.DataFrame(rows, columns=["account", "id", "change"])


def teardown_button(kit: Kit) -> Any:
    """A button that runs the teardown after an explicit click (interactive kernels only)."""
    import ipywidgets as widgets
    from IPython.display import display

    button = widgets.Button(description="Remove everything the kit created", button_style="danger",
                            layout=widgets.Layout(width="auto"))
    out = widgets.Output()

    def _confirm(_: Any) -> None:
        button.disabled = True
        with out:
            display(remove_developers(kit))
            display(kit.destroy())

    button.on_click(_confirm)
    return widgets.VBox([button, out])
