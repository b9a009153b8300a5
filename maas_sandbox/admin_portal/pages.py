"""The admin-portal pages, at porta's paths (3scale-2.16-stable config/routes.rb): `provider/admin` under `/p/admin`,
the `admin_module` scope (`/apiconfig/...`, `/buyers/...`, `/services/:id/stats/usage`). Every page only reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from maas_sandbox.admin.routes.analytics import Window
from maas_sandbox.admin_portal import auth
from maas_sandbox.admin_portal.charts import line_chart
from maas_sandbox.admin_portal.html import a, e, fields, mask, page, table
from maas_sandbox.context import Sandbox
from maas_sandbox.login_guard import refused
from maas_sandbox.portal.session import safe_return_to

router = APIRouter(include_in_schema=False)
Obj = dict[str, Any]
TOKEN_METRICS = ("prompt_tokens", "completion_tokens", "total_tokens")


def _sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox


def _html(request: Request, title: str, body: str, tabs: tuple[tuple[str, str], ...] = ()) -> Response:
    sandbox = _sandbox(request)
    try:
        session = auth.require_user(sandbox, request)
    except auth.NotSignedIn as exc:
        return auth.login_redirect(exc)
    return HTMLResponse(page(title, body, csrf=session["csrf"], tabs=tabs),
                        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


def _guarded(build: Callable[..., tuple[str, str] | tuple[str, str, tuple[tuple[str, str], ...]] | None]) -> Any:
    """Signed-in check first (nothing is read for a stranger), then the page; None from `build` is a 404."""

    async def handler(request: Request) -> Response:
        try:
            auth.require_user(_sandbox(request), request)
        except auth.NotSignedIn as exc:
            return auth.login_redirect(exc)
        built = build(_sandbox(request), request, **request.path_params)
        if built is None:
            return HTMLResponse(page("Not found", "<p>No such object.</p>"), status_code=404)
        return _html(request, *built)

    handler.__name__ = build.__name__
    return handler


def _get(sandbox: Sandbox, kind: str, obj_id: str) -> Obj | None:
    return sandbox.store.get(kind, int(obj_id)) if str(obj_id).isdigit() else None


def page_at(path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(build: Callable[..., Any]) -> Callable[..., Any]:
        router.add_api_route(path, _guarded(build), methods=["GET"], response_class=HTMLResponse)
        return build

    return register


# --- sign-in (porta: /p/login → sessions#new, POST /p/sessions, /p/logout) ------------------------------------
@router.get(auth.LOGIN, response_class=HTMLResponse)
async def login_form(request: Request, return_to: str = "/p/admin/dashboard", error: str = "") -> Response:
    sandbox = _sandbox(request)
    session = auth.load(sandbox, request)
    message = "<p style='color:#c9190b'>Wrong credentials.</p>" if error else ""
    body = f"""{message}<form method="post" action="/p/sessions">
<input type="hidden" name="authenticity_token" value="{e(session['csrf'])}">
<input type="hidden" name="return_to" value="{e(safe_return_to(return_to))}">
<p><label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label></p>
<p>or <label>Admin access token <input name="access_token" type="password" autocomplete="off"></label></p>
<p><button type="submit">Sign in</button></p></form>
<p class="note">User <code>admin</code>; its password and the admin token are in the sandbox's
<code>credentials.json</code> (0600, in the state dir) — <code>maas sandbox env</code> prints the token.</p>"""
    return auth.save(sandbox, HTMLResponse(page("Sign in", body), headers={"Cache-Control": "no-store"}), session)


@router.post("/p/sessions")
async def login(request: Request) -> Response:
    sandbox = _sandbox(request)
    session = auth.load(sandbox, request)
    form = await request.form()
    if not auth.csrf_ok(session, form):
        return HTMLResponse("Invalid authenticity token", status_code=422)
    target = safe_return_to(form.get("return_to"))
    users, clients = auth.login_guards(sandbox)
    client = request.client.host if request.client else "?"
    now = sandbox.clock.time()
    locked = users.locked("admin", now) or clients.locked(client, now)  # refused before any check
    if locked or not auth.credentials_ok(sandbox, form):
        if not locked:
            users.failure("admin", now)
            clients.failure(client, now)
        await refused()
        return RedirectResponse(f"{auth.LOGIN}?error=1", status_code=303)
    users.success("admin")
    fresh = auth.start_session(sandbox)  # a new server-side session: no fixation of the old one
    return auth.save(sandbox, RedirectResponse(target if target != "/" else "/p/admin/dashboard", 303), fresh)


@router.post("/p/logout")
async def logout(request: Request) -> Response:
    sandbox = _sandbox(request)
    session = auth.load(sandbox, request)
    if not auth.csrf_ok(session, await request.form()):
        return HTMLResponse("Invalid authenticity token", status_code=422)
    auth.end_session(sandbox, session)  # the cookie, replayed, opens nothing any more
    return auth.save(sandbox, RedirectResponse(auth.LOGIN, status_code=303), {})


# --- dashboard, products, backends --------------------------------------------------------------------------
def _services(sandbox: Sandbox) -> list[Obj]:
    return sorted(sandbox.store.list("service"), key=lambda s: s["id"])


@page_at("/p/admin/dashboard")
def dashboard(sandbox: Sandbox, _request: Request) -> tuple[str, str]:
    provider = sandbox.store.first("provider") or {}
    counts = [(label, len(sandbox.store.list(kind))) for label, kind in
              (("Products", "service"), ("Backends", "backend_api"), ("Accounts", "account"),
               ("Applications", "application"))]
    products = table(("Product", "system name", "traffic"), [
        (a(f"/apiconfig/services/{s['id']}", s["name"]), s["system_name"],
         a(f"/services/{s['id']}/stats/usage", "Analytics")) for s in _services(sandbox)], raw=(0, 2))
    return f"Dashboard · {provider.get('org_name', '')}", fields(counts) + "<h2>Products</h2>" + products


@page_at("/apiconfig/services")
def products(sandbox: Sandbox, _request: Request) -> tuple[str, str]:
    rows = [(a(f"/apiconfig/services/{s['id']}", s["name"]), s["system_name"], s.get("description", ""),
             s.get("state", "")) for s in _services(sandbox)]
    return "Products", table(("name", "system name", "description", "state"), rows, raw=(0,))


def _tabs(sid: int) -> tuple[tuple[str, str], ...]:
    base = f"/apiconfig/services/{sid}"
    return (("Overview", base), ("Methods and metrics", f"{base}/metrics"), ("Mapping rules", f"{base}/proxy_rules"),
            ("Policies", f"{base}/policies/edit"), ("Configuration", f"{base}/integration"),
            ("Application plans", f"{base}/application_plans"), ("ActiveDocs", f"{base}/api_docs"),
            ("Backends", f"{base}/backend_usages"), ("Analytics", f"/services/{sid}/stats/usage"))


@page_at("/apiconfig/services/{service_id}")
def product(sandbox: Sandbox, _request: Request, service_id: str) -> Any:
    service = _get(sandbox, "service", service_id)
    if service is None:
        return None
    proxy = sandbox.store.first("proxy", service_id=service["id"]) or {}
    body = fields([("name", service["name"]), ("system name", service["system_name"]),
                   ("description", service.get("description", "")), ("deployment", service.get("deployment_option")),
                   ("staging URL", proxy.get("sandbox_endpoint")), ("production URL", proxy.get("endpoint")),
                   ("auth missing status", proxy.get("error_status_auth_missing"))])
    return f"Product: {service['name']}", body, _tabs(service["id"])


def _metrics(sandbox: Sandbox, owner_type: str, owner_id: int) -> list[Obj]:
    return sorted(sandbox.store.list("metric", owner_type=owner_type, owner_id=owner_id), key=lambda m: m["id"])


@page_at("/apiconfig/services/{service_id}/metrics")
def product_metrics(sandbox: Sandbox, _request: Request, service_id: str) -> Any:
    service = _get(sandbox, "service", service_id)
    if service is None:
        return None
    metrics = _metrics(sandbox, "service", service["id"])
    hits = next((m["id"] for m in metrics if m["system_name"] == "hits"), None)
    methods = [(m.get("friendly_name") or m["name"], m["system_name"], m.get("unit", "")) for m in metrics
               if m.get("parent_id") == hits and hits is not None]
    others = [(m.get("friendly_name") or m["name"], m["system_name"], m.get("unit", "")) for m in metrics
              if m.get("parent_id") != hits or hits is None]
    body = ("<h2>Methods (children of Hits)</h2>" + table(("name", "system name", "unit"), methods)
            + "<h2>Metrics</h2>" + table(("name", "system name", "unit"), others))
    return f"Methods and metrics: {service['name']}", body, _tabs(service["id"])


@page_at("/apiconfig/services/{service_id}/proxy_rules")
def product_rules(sandbox: Sandbox, _request: Request, service_id: str) -> Any:
    service = _get(sandbox, "service", service_id)
    if service is None:
        return None
    names = {m["id"]: m["system_name"] for m in _metrics(sandbox, "service", service["id"])}
    rules = sorted(sandbox.store.list("mapping_rule", owner_type="service", owner_id=service["id"]),
                   key=lambda r: (r.get("position") or 0, r["id"]))
    rows = [(r["http_method"], r["pattern"], names.get(r.get("metric_id"), r.get("metric_id")), r.get("delta"),
             "yes" if r.get("last") else "") for r in rules]
    body = table(("verb", "pattern", "metric or method", "increment", "last"), rows)
    return f"Mapping rules: {service['name']}", body, _tabs(service["id"])


@page_at("/apiconfig/services/{service_id}/policies/edit")
def product_policies(sandbox: Sandbox, _request: Request, service_id: str) -> Any:
    service = _get(sandbox, "service", service_id)
    if service is None:
        return None
    proxy = sandbox.store.first("proxy", service_id=service["id"]) or {}
    rows = [(p.get("name"), p.get("version"), "enabled" if p.get("enabled", True) else "disabled",
             json.dumps(p.get("configuration") or {}, sort_keys=True)[:200])
            for p in proxy.get("policies_config") or []]
    body = table(("policy", "version", "state", "configuration"), rows)
    return f"Policies: {service['name']}", body, _tabs(service["id"])


def _configs(sandbox: Sandbox, sid: int) -> str:
    configs = sorted(sandbox.store.list("proxy_config", service_id=sid), key=lambda c: (c["environment"],
                                                                                          -c["version"]))
    rows = [("staging" if c["environment"] == "sandbox" else "production", c["version"], c.get("created_at"),
             " → ".join(p["name"] for p in c.get("content", {}).get("proxy", {}).get("policy_chain", [])))
            for c in configs]
    return table(("environment", "version", "deployed at", "policy chain"), rows)


@page_at("/apiconfig/services/{service_id}/integration")
def product_configuration(sandbox: Sandbox, _request: Request, service_id: str) -> Any:
    service = _get(sandbox, "service", service_id)
    if service is None:
        return None
    proxy = sandbox.store.first("proxy", service_id=service["id"]) or {}
    auth_fields = ("credentials_location", "auth_user_key", "error_status_auth_missing", "error_status_auth_failed",
                   "error_status_no_match", "error_status_limits_exceeded", "api_test_path")
    body = ("<h2>Environments</h2>" + fields([("staging (APIcast)", proxy.get("sandbox_endpoint")),
                                               ("production (APIcast)", proxy.get("endpoint"))])
            + "<h2>Deployed versions</h2>" + _configs(sandbox, service["id"])
            + "<h2>authentication</h2>" + fields([(f, proxy.get(f)) for f in auth_fields]))
    return f"Configuration: {service['name']}", body, _tabs(service["id"])


@page_at("/apiconfig/services/{service_id}/proxy_configs")
def product_proxy_configs(sandbox: Sandbox, request: Request, service_id: str) -> Any:
    return product_configuration(sandbox, request, service_id)


def _plans(sandbox: Sandbox, sid: int, kind: str = "application_plan") -> list[Obj]:
    return sorted(sandbox.store.list("plan", type=kind, issuer_id=sid), key=lambda p: p["id"])


@page_at("/apiconfig/services/{service_id}/application_plans")
def product_plans(sandbox: Sandbox, _request: Request, service_id: str) -> Any:
    service = _get(sandbox, "service", service_id)
    if service is None:
        return None
    rows = [(a(f"/apiconfig/application_plans/{p['id']}/edit", p["name"]), p["system_name"], p.get("state"),
             len(sandbox.store.list("application", plan_id=p["id"]))) for p in _plans(sandbox, service["id"])]
    body = table(("plan", "system name", "state", "applications"), rows, raw=(0,))
    return f"Application plans: {service['name']}", body, _tabs(service["id"])


@page_at("/apiconfig/services/{service_id}/service_plans")
def product_service_plans(sandbox: Sandbox, _request: Request, service_id: str) -> Any:
    service = _get(sandbox, "service", service_id)
    if service is None:
        return None
    rows = [(p["name"], p["system_name"], p.get("state"), "default" if p.get("default") else "")
            for p in _plans(sandbox, service["id"], "service_plan")]
    return (f"Service plans: {service['name']}", table(("plan", "system name", "state", ""), rows),
            _tabs(service["id"]))


@page_at("/apiconfig/application_plans/{plan_id}/edit")
def plan_page(sandbox: Sandbox, _request: Request, plan_id: str) -> Any:
    plan = _get(sandbox, "plan", plan_id)
    if plan is None or plan.get("type") != "application_plan":
        return None
    metrics = {m["id"]: m["system_name"] for m in sandbox.store.list("metric")}
    limits = sorted(sandbox.store.list("limit", plan_id=plan["id"]), key=lambda x: (metrics.get(x["metric_id"], ""),
                                                                                      x["period"]))
    body = (fields([("name", plan["name"]), ("system name", plan["system_name"]), ("state", plan.get("state")),
                    ("approval required", plan.get("approval_required"))])
            + "<h2>Limits</h2>" + table(("metric", "period", "max value"),
                                        [(metrics.get(x["metric_id"], x["metric_id"]), x["period"], x["value"])
                                         for x in limits]))
    return f"Application plan: {plan['name']}", body, _tabs(int(plan["issuer_id"]))


@page_at("/apiconfig/services/{service_id}/api_docs")
def product_docs(sandbox: Sandbox, _request: Request, service_id: str) -> Any:
    service = _get(sandbox, "service", service_id)
    if service is None:
        return None
    rows = []
    for doc in sandbox.store.list("active_doc", service_id=service["id"]):
        try:
            spec = json.loads(doc.get("body") or "{}")
        except ValueError:
            spec = {}
        paths = ", ".join(sorted(spec.get("paths", {})))
        rows.append((doc["name"], doc["system_name"], "published" if doc.get("published") else "hidden", paths))
    body = table(("name", "system name", "state", "paths"), rows)
    return f"ActiveDocs: {service['name']}", body, _tabs(service["id"])


@page_at("/apiconfig/services/{service_id}/backend_usages")
def product_backends(sandbox: Sandbox, _request: Request, service_id: str) -> Any:
    service = _get(sandbox, "service", service_id)
    if service is None:
        return None
    rows = []
    for usage in sandbox.store.list("backend_usage", service_id=service["id"]):
        backend = sandbox.store.get("backend_api", usage["backend_id"]) or {}
        rows.append((a(f"/p/admin/backend_apis/{backend.get('id')}", backend.get("name")), usage.get("path"),
                     backend.get("private_endpoint")))
    body = table(("backend", "path", "private base URL"), rows, raw=(0,))
    return f"Backends: {service['name']}", body, _tabs(service["id"])


@page_at("/p/admin/backend_apis")
def backends(sandbox: Sandbox, _request: Request) -> tuple[str, str]:
    rows = [(a(f"/p/admin/backend_apis/{b['id']}", b["name"]), b["system_name"], b.get("private_endpoint"))
            for b in sorted(sandbox.store.list("backend_api"), key=lambda b: b["id"])]
    return "Backends", table(("name", "system name", "private base URL"), rows, raw=(0,))


@page_at("/p/admin/backend_apis/{backend_id}")
def backend(sandbox: Sandbox, _request: Request, backend_id: str) -> Any:
    item = _get(sandbox, "backend_api", backend_id)
    if item is None:
        return None
    methods = [(m.get("friendly_name") or m["name"], m["system_name"]) for m in
               _metrics(sandbox, "backend_api", item["id"])]
    body = (fields([("name", item["name"]), ("system name", item["system_name"]),
                    ("private base URL", item.get("private_endpoint"))])
            + "<h2>Methods and metrics</h2>" + table(("name", "system name"), methods))
    return f"Backend: {item['name']}", body


# --- accounts and applications --------------------------------------------------------------------------------
@page_at("/buyers/accounts")
def accounts(sandbox: Sandbox, _request: Request) -> tuple[str, str]:
    rows = [(a(f"/buyers/accounts/{x['id']}", x["org_name"]), x.get("state"),
             len(sandbox.store.list("application", account_id=x["id"])))
            for x in sorted(sandbox.store.list("account"), key=lambda x: x["id"])]
    return "Accounts", table(("organisation", "state", "applications"), rows, raw=(0,))


def _apps_table(sandbox: Sandbox, apps: list[Obj]) -> str:
    rows = []
    for app in sorted(apps, key=lambda x: x["id"]):
        service = sandbox.store.get("service", app["service_id"]) or {}
        plan = sandbox.store.get("plan", app.get("plan_id")) or {}
        rows.append((a(f"/p/admin/applications/{app['id']}", app["name"]), service.get("name"), plan.get("name"),
                     app.get("state"), mask(app.get("user_key"))))
    return table(("application", "product", "plan", "state", "key"), rows, raw=(0,))


@page_at("/buyers/accounts/{account_id}")
def account(sandbox: Sandbox, _request: Request, account_id: str) -> Any:
    item = _get(sandbox, "account", account_id)
    if item is None:
        return None
    users = [(u["username"], u.get("email"), u.get("role"), u.get("state")) for u in
             sandbox.store.list("user", account_id=item["id"])]
    body = (fields([("organisation", item["org_name"]), ("state", item.get("state")),
                    ("created", item.get("created_at"))])
            + "<h2>Users</h2>" + table(("username", "email", "role", "state"), users)
            + "<h2>Applications</h2>" + _apps_table(sandbox, sandbox.store.list("application", account_id=item["id"]))
            + a(f"/buyers/accounts/{item['id']}/service_contracts", "Service subscriptions"))
    return f"Account: {item['org_name']}", body


@page_at("/buyers/accounts/{account_id}/service_contracts")
def subscriptions(sandbox: Sandbox, _request: Request, account_id: str) -> Any:
    item = _get(sandbox, "account", account_id)
    if item is None:
        return None
    rows = [((sandbox.store.get("service", s["service_id"]) or {}).get("name"),
             (sandbox.store.get("plan", s.get("plan_id")) or {}).get("name"), s.get("state"))
            for s in sandbox.store.list("service_subscription", account_id=item["id"])]
    return f"Service subscriptions: {item['org_name']}", table(("product", "service plan", "state"), rows)


@page_at("/p/admin/applications/{application_id}")
def application(sandbox: Sandbox, _request: Request, application_id: str) -> Any:
    app = _get(sandbox, "application", application_id)
    if app is None:
        return None
    service = sandbox.store.get("service", app["service_id"]) or {}
    plan = sandbox.store.get("plan", app.get("plan_id")) or {}
    owner = sandbox.store.get("account", app["account_id"]) or {}
    body = fields([("name", app["name"]), ("description", app.get("description")), ("state", app.get("state")),
                   ("product", service.get("name")), ("plan", plan.get("name")), ("account", owner.get("org_name")),
                   ("user key", mask(app.get("user_key")))])
    body += a(f"/buyers/stats/applications/{app['id']}", "Analytics")
    return f"Application: {app['name']}", body


@page_at("/apiconfig/services/{service_id}/applications")
def product_applications(sandbox: Sandbox, _request: Request, service_id: str) -> Any:
    service = _get(sandbox, "service", service_id)
    if service is None:
        return None
    return (f"Applications: {service['name']}", _apps_table(sandbox, sandbox.store.list("application",
                                                                                        service_id=service["id"])),
            _tabs(service["id"]))


# --- developer portal, account settings, SSO, policies ------------------------------------------------------
@page_at("/p/admin/cms")
def cms(sandbox: Sandbox, _request: Request) -> tuple[str, str]:
    templates = sorted(sandbox.store.list("cms_template"), key=lambda t: (t.get("type", ""), t.get("path") or "",
                                                                           t.get("system_name") or ""))
    rows = [(t.get("type"), t.get("title") or t.get("system_name"), t.get("path") or "",
             "published" if t.get("published") is not None and t.get("published") == t.get("draft") else
             ("draft" if t.get("draft") else "published")) for t in templates]
    files = [(f.get("path"), f.get("content_type")) for f in sandbox.store.list("cms_file")]
    body = ("<h2>Pages, partials and layouts</h2>" + table(("type", "title", "path", "state"), rows)
            + "<h2>Files</h2>" + table(("path", "content type"), files))
    return "Developer Portal content", body


@page_at("/p/admin/cms/switches")
def switches(sandbox: Sandbox, _request: Request) -> tuple[str, str]:
    """porta Provider::Admin::CMS::SwitchesController ("Feature Visibility"); the sandbox knows one switch."""
    provider = sandbox.store.first("provider") or {}
    shown = provider.get("_multiple_applications") is not False  # unset = allowed, as the Master API shows it
    rows = [("Multiple Applications", "multiple_applications", "Shown" if shown else "Hidden",
             "an account may hold several applications per plan" if shown else "one application per plan")]
    return "Feature Visibility", table(("switch", "system name", "state", "effect"), rows)


@page_at("/p/admin/account/edit")
def account_settings(sandbox: Sandbox, _request: Request) -> tuple[str, str]:
    provider = sandbox.store.first("provider") or {}
    body = fields([("Organization name (org_name)", provider.get("org_name")),
                   ("Time zone (timezone)", provider.get("_timezone_name") or provider.get("_timezone")),
                   ("admin domain", provider.get("admin_domain")), ("developer portal domain", provider.get("domain")),
                   ("support email", provider.get("support_email")), ("from email", provider.get("from_email"))])
    return "Account settings", body


@page_at("/p/admin/account")
def account_show(sandbox: Sandbox, request: Request) -> tuple[str, str]:
    return account_settings(sandbox, request)


@page_at("/p/admin/authentication_providers")
def sso_providers(sandbox: Sandbox, _request: Request) -> tuple[str, str]:
    rows = [(p.get("name") or p.get("system_name"), p.get("kind"), p.get("site"), p.get("client_id"),
             "published" if p.get("published") else "hidden")
            for p in sandbox.store.list("authentication_provider")]
    return "SSO integrations", table(("name", "kind", "site", "client id", "state"), rows)


@page_at("/p/admin/registry/policies")
def registry(sandbox: Sandbox, _request: Request) -> tuple[str, str]:
    rows = [(p["name"], p["version"], (p.get("schema") or {}).get("summary", "")) for p in
            sandbox.store.list("registry_policy")]
    return "Custom policies", table(("name", "version", "summary"), rows)


# --- traffic analytics (porta: /services/:id/stats/usage, /buyers/stats/applications/:id) -------------------------
def _window(sandbox: Sandbox, request: Request) -> Window:
    period = request.query_params.get("period", "day")
    period = period if period in ("day", "week", "month") else "day"
    return Window({"period": period}, sandbox)


def _labels(window: Window) -> list[str]:
    fmt = "%H:%M" if window.granularity == "hour" else "%m-%d"
    return [datetime.fromtimestamp(s, window.since.tzinfo).strftime(fmt) for s in window.stamps[:-1]]


def _series(sandbox: Sandbox, window: Window, metric: Obj, **where: int) -> list[int]:
    return window.bins(sandbox.backend.usage_rows(metric["id"], window.stamps[0], window.stamps[-1], **where))


def _periods(path: str) -> str:
    return "<p>Period: " + " · ".join(a(f"{path}?period={p}", f"last {p}") for p in ("day", "week", "month")) + "</p>"


@page_at("/services/{service_id}/stats/usage")
def traffic(sandbox: Sandbox, request: Request, service_id: str) -> Any:
    service = _get(sandbox, "service", service_id)
    if service is None:
        return None
    if sandbox.backend is None:
        return f"Traffic: {service['name']}", "<p>Usage data is not available (backend not running).</p>"
    window = _window(sandbox, request)
    labels = _labels(window)
    metrics = _metrics(sandbox, "service", service["id"])
    by_name = {m["system_name"]: m for m in metrics}
    hits = by_name.get("hits")
    where = {"service_id": service["id"]}
    charts = []
    if hits is not None:
        charts.append(line_chart("Hits", labels, {"hits": _series(sandbox, window, hits, **where)}))
        methods = {m.get("friendly_name") or m["system_name"]: _series(sandbox, window, m, **where)
                   for m in metrics if m.get("parent_id") == hits["id"]}
        charts.append(line_chart("Hits per method", labels, methods))
    tokens = {n: _series(sandbox, window, by_name[n], **where) for n in TOKEN_METRICS if n in by_name}
    charts.append(line_chart("Tokens", labels, tokens))
    per_app: dict[str, list[int]] = {}
    metric = by_name.get("total_tokens") or hits
    if metric is not None:
        for app in sorted(sandbox.store.list("application", service_id=service["id"]), key=lambda x: x["id"]):
            values = _series(sandbox, window, metric, service_id=service["id"], application_id=app["id"])
            if any(values):
                per_app[app["name"]] = values
        charts.append(line_chart(f"{metric['system_name']} per application", labels, per_app))
    body = (_periods(request.url.path) + f"<p>{e(window.view()['since'])} to {e(window.view()['until'])} "
            f"({e(window.tz_name)}), per {e(window.granularity)}</p>" + "".join(charts))
    return f"Traffic: {service['name']}", body, _tabs(service["id"])


@page_at("/buyers/stats/applications/{application_id}")
def application_traffic(sandbox: Sandbox, request: Request, application_id: str) -> Any:
    app = _get(sandbox, "application", application_id)
    if app is None:
        return None
    if sandbox.backend is None:
        return f"Traffic: {app['name']}", "<p>Usage data is not available (backend not running).</p>"
    window = _window(sandbox, request)
    by_name = {m["system_name"]: m for m in _metrics(sandbox, "service", int(app["service_id"]))}
    where = {"application_id": app["id"]}
    series = {n: _series(sandbox, window, by_name[n], **where) for n in ("hits", *TOKEN_METRICS) if n in by_name}
    charts = line_chart("Hits and tokens", _labels(window), series)
    return f"Traffic: {app['name']}", _periods(request.url.path) + charts
