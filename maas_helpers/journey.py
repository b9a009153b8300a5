"""The API consumer's side (notebook 10): sign up (or find the account), an application per product, calls
with plain HTTP and the OpenAI SDK, what the rules and keys decide, and the gateway's refusals on purpose
(missing key, unknown key, unmapped path, exceeded limit).

Keys are masked in every repr; the journey keeps them only in memory. The developer's portal password is
generated once into a 0600 file in the state directory (`developer-<username>.secret`) and never printed; the
same files tell the teardown which accounts the kit signed up.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
import requests

from maas_helpers import ownership
from maas_helpers.approval import accept_if_pending
from maas_helpers.buyer_state import make_sign_in_ready
from maas_helpers.errors import MaasError
from maas_helpers.listings import _unwrap, our_products, services_by_system_name
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


def error_message(resp: requests.Response) -> str:
    """What a client shows for a refusal: `error.message` of an OpenAI-shaped JSON body (the catalogue's gateway
    errors, the token quota), else the body's text."""
    try:
        error = resp.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return resp.text.strip()[:200]


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
        inventory = ownership.load_inventory(kit.admin)
        account = kit.admin.get_json("/admin/api/accounts/find.json", allow_404=True, params={"username": username})
        if account is not None and not ownership.marked(account.get("account"), inventory.instance):
            raise MaasError(f"journey: the username {username!r} belongs to an account the kit did not create "
                            f"(id {account['account']['id']}); it is left alone — choose another username")
        if account is None:
            ownership.ensure_owner_fields(kit.admin, inventory)  # the admin-only mark, sent with the signup
            account = kit.admin.send_json("POST", "/admin/api/signup.json", {
                "org_name": f"{username} org", "username": username, "email": f"{username}@example.com",
                "password": developer_password(kit, username), **ownership.owner_mark(inventory.instance)})
        # with a password and no approval the account is already approved; otherwise porta leaves it `created`
        account = {"account": make_sign_in_ready(kit.admin, account["account"])}
        account_id = int(account["account"]["id"])
        apps = [cls._ensure_app(kit, account_id, product, service, plan, f"{username} {product.system_name}",
                                inventory.instance)
                for product, service in our_products(kit)]
        chat = next((a for a in apps if a.kind != "embedding"), None)
        free = None
        if chat is not None:
            product, service = next((p, s) for p, s in our_products(kit) if p.system_name == chat.product)
            free = cls._ensure_app(kit, account_id, product, service, "free", f"{username} free demo",
                                   inventory.instance)
        return cls(kit, username, account_id, apps, free)

    @staticmethod
    def _ensure_app(kit: Kit, account_id: int, product: Product, service: dict[str, Any], plan_name: str,
                    name: str, instance: str) -> AppKey:
        sid = service["id"]
        plans = _unwrap(kit.admin.get_json(f"/admin/api/services/{sid}/application_plans.json")["plans"],
                        "application_plan")
        plan = next(p for p in plans if p["system_name"] == plan_name)
        existing = _unwrap(kit.admin.get_json(f"/admin/api/accounts/{account_id}/applications.json")["applications"],
                           "application")
        app = next((a for a in existing if a.get("name") == name and a.get("service_id") == sid), None)
        if app is None:
            app = kit.admin.send_json("POST", f"/admin/api/accounts/{account_id}/applications.json",
                                      {"plan_id": plan["id"], "name": name,
                                       "description": "Created by the developer's journey notebook",
                                       **ownership.owner_mark(instance)})["application"]
        app = accept_if_pending(kit.admin, account_id, app)  # the admin created it: approved by that act
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
                         "ms": round((time.perf_counter() - t0) * 1000, 1), "answer": answer_text(data)[:60]})
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
                    messages: list[Any] = [{"role": "user", "content": "Say hello to the API gateway."}]
                    if stream:
                        for chunk in client.chat.completions.create(model=app.model, stream=True, max_tokens=24,
                                                                    messages=messages):
                            chunks += 1
                            text += (chunk.choices[0].delta.content or "") if chunk.choices else ""
                    else:  # one answer, not an iterable of chunks
                        answer = client.chat.completions.create(model=app.model, max_tokens=24, messages=messages)
                        chunks, text = 1, (answer.choices[0].message.content or "") if answer.choices else ""
                elif stream:
                    for part in client.completions.create(model=app.model, prompt="import ", stream=True,
                                                          max_tokens=24):
                        chunks += 1
                        text += part.choices[0].text if part.choices else ""
                else:
                    done = client.completions.create(model=app.model, prompt="import ", max_tokens=24)
                    chunks, text = 1, done.choices[0].text if done.choices else ""
            except openai.APIError as exc:
                status = f"error: {type(exc).__name__}"
            rows.append({"product": app.product, "kind": app.kind,
                         "call": "embeddings" if app.kind == "embedding" else f"{app.kind} (stream={stream})",
                         "status": status, "chunks": chunks, "text": text.strip()[:60]})
        return pd.DataFrame(rows)

    def check_routing(self) -> pd.DataFrame:
        """What the mapping rules and keys decide, sent for real: the chat path answers POST only; a key works
        only on its own product's gateway; a product's gateway forwards whatever model name the body carries.

        A check that cannot run here (no chat model; one product, so no other product's key) is a row with no
        status whose body says why, and that reason is printed: an empty table must not pass for a check."""
        chat = next((a for a in self.apps if a.kind == "chat"), None)
        other = next((a for a in self.apps if chat is not None and a.product != chat.product), None)
        gateway = chat.product if chat is not None else ""
        why: dict[str, str] = {}
        if chat is None:
            why = dict.fromkeys(_ROUTING_CHECKS, "no chat model in this catalogue, so no chat path to send to")
        elif other is None:
            why = {"key of another product": f"only one product ({gateway}), so there is no other product's key",
                   "another model's name": f"only one product ({gateway}), so there is no other model to name"}
        cases = [(check, request, why.get(check), call) for check, request, call in self._routing_calls(chat, other)]
        rows = []
        for check, request, skipped, call in cases:
            if skipped is not None:
                rows.append({"check": check, "gateway": gateway, "request": request, "status": None,
                             "body": f"not checked: {skipped}"})
                print(f"not checked: {check} — {skipped}")
                continue
            resp = call()
            if resp.ok and resp.headers.get("content-type", "").startswith("application/json"):
                data = resp.json()
                text = f"[{data['model']}] {answer_text(data)}" if "model" in data else answer_text(data)
            else:
                text = error_message(resp)  # the OpenAI-shaped body's error.message
            rows.append({"check": check, "gateway": gateway, "request": request, "status": resp.status_code,
                         "body": text[:100]})
        return pd.DataFrame(rows, columns=["check", "gateway", "request", "status", "body"])

    def _routing_calls(self, chat: AppKey | None, other: AppKey | None) -> list[tuple[str, str, Any]]:
        """(check, request, call) for check_routing; a call is made only when its check is not skipped."""
        path, body = _SAMPLE_CALLS["chat"]
        verify = self.kit.settings.tls_verify
        chat_ = cast(AppKey, chat)  # the calls below run only when check_routing found the apps they use
        other_ = cast(AppKey, other)
        mine = f" ({chat.product})" if chat else ""
        return [
            ("chat answers POST", f"POST {path}{mine}", lambda: self._post(chat_, path, body)),
            ("no GET rule for chat", f"GET {path}{mine}",
             lambda: requests.get(chat_.endpoint + path, headers={"Authorization": f"Bearer {chat_.key}"},
                                  timeout=TIMEOUT, verify=verify)),
            ("key of another product", f"POST {path}, {other.product if other else 'another product'} key",
             lambda: self._post(chat_, path, body, key=other_.key)),
            ("another model's name", f"POST {path}, model {other.model if other else 'of another product'}",
             lambda: requests.post(chat_.endpoint + path, json={**body, "model": other_.model},
                                   headers={"Authorization": f"Bearer {chat_.key}"}, timeout=TIMEOUT,
                                   verify=verify)),
        ]

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
                "message": error_message(resp)}

    def _exhaust_rate_limit(self, app: AppKey, expected: int) -> dict[str, Any]:
        """GET /v1/models until the plan's per-minute hit limit answers (bounded by that limit + 2)."""
        per_minute = self._hits_per_minute(app)
        headers = {"Authorization": f"Bearer {app.key}"}
        calls, resp = 0, None
        # 3scale's minute is a calendar minute (apisonator's period starts): calls split across a minute's end
        # may never reach the limit in either, so a run that crossed one is tried once more in the new minute.
        for _ in range(2):
            minute = int(time.time() // 60)
            for _ in range(per_minute + 2):
                calls += 1
                resp = requests.get(app.endpoint + "/v1/models", headers=headers, timeout=TIMEOUT,
                                    verify=self.kit.settings.tls_verify)
                if resp.status_code == expected:
                    break
            if resp is not None and resp.status_code == expected or int(time.time() // 60) == minute:
                break
        assert resp is not None
        return {"case": "rate limit", "request": f"GET /v1/models × {calls} on the {app.plan} plan "
                f"({per_minute}/minute)", "expected": expected, "status": resp.status_code,
                "message": error_message(resp)}

    def _hits_per_minute(self, app: AppKey) -> int:
        product = next(p for p in self.kit.catalogue.products if p.system_name == app.product)
        plan = next(p for p in product.plans if p.system_name == app.plan)
        return min((lim.value for lim in plan.limits if lim.metric == "hits" and lim.period == "minute"), default=10)


def answer_text(data: dict[str, Any]) -> str:
    """The model's answer on one line (a table cell shows newlines as a literal `\n`)."""
    choice = (data.get("choices") or [{}])[0]
    if "message" in choice:
        return " ".join(str(choice["message"].get("content", "")).split())
    if "text" in choice:
        return " ".join(str(choice["text"]).split())
    if data.get("data"):
        return f"{len(data['data'][0].get('embedding', []))} dimensions"
    return str(data.get("error", ""))


_ROUTING_CHECKS = ("chat answers POST", "no GET rule for chat", "key of another product", "another model's name")

# Notebook 10's Verify: each routing check → (the phrase its prose uses, the status it must get).
ROUTING_CLAIMS = {"chat answers POST": ("the chat path answered POST", 200),
                  "no GET rule for chat": ("refused GET", 404),
                  "key of another product": ("another product's key was refused", 403)}


def verify_routing(routing: pd.DataFrame) -> list[str]:
    """Assert every routing check that ran; for one that could not run, print `not checked: <claim> — <why>`.
    Returns the checks that ran."""
    from maas_helpers.verify import not_checked

    ran = []
    for check, (claim, expected) in ROUTING_CLAIMS.items():
        row = routing[routing.check == check]
        if row.empty or pd.isna(row.status.iloc[0]):
            not_checked(claim, str(row.body.iloc[0]).removeprefix("not checked: ") if len(row) else "not sent")
            continue
        assert int(row.status.iloc[0]) == expected, routing.to_string()
        if check == "no GET rule for chat":
            # the gateway's no-match answer (the catalogue's default error_no_match), not the model server's 404
            assert "Unknown path or method" in str(row.body.iloc[0]), routing.to_string()
        ran.append(check)
    return ran
