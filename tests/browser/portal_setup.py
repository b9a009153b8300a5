"""Test-side setup of a sandbox developer portal through the Admin API: CMS upload from portal/manifest.yaml
(create missing, update, publish), a model product with a published plan and ActiveDoc, the SSO realm and the
keycloak authentication provider. The real reconcile lives in maas_helpers; this small uploader keeps the
portal tests independent of it."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
PORTAL = ROOT / "portal"
REALM_FILE = ROOT / "manifests" / "sso" / "realm.yaml"


@dataclass
class PortalSetup:
    portal_url: str
    sso_url: str
    service: dict[str, Any]
    plan: dict[str, Any]
    hidden_plan: dict[str, Any]
    client_secret: str
    demo_password: str
    gateway_url: str | None


def _check(resp: requests.Response) -> Any:
    assert resp.status_code < 300, f"{resp.request.method} {resp.url}: {resp.status_code} {resp.text[:300]}"
    return resp.json() if resp.content else None


def _all(admin: Any, path: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        body = _check(admin.get(path, params={"page": page, "per_page": 100}))
        out += body["collection"]
        if len(body["collection"]) < 100:
            return out
        page += 1


def upload_portal(admin: Any) -> None:
    manifest = yaml.safe_load((PORTAL / "manifest.yaml").read_text())
    sections = {s["system_name"]: s for s in _all(admin, "/admin/api/cms/sections.json")}
    for section in manifest.get("sections") or []:
        if section["system_name"] not in sections:
            sections[section["system_name"]] = _check(admin.post("/admin/api/cms/sections.json", data=section))
    templates = _all(admin, "/admin/api/cms/templates.json")

    def find(kind: str, system_name: str) -> dict[str, Any] | None:
        return next((t for t in templates if t["type"] == kind and t["system_name"] == system_name), None)

    def put_and_publish(tid: int, fields: dict[str, Any]) -> None:
        _check(admin.put(f"/admin/api/cms/templates/{tid}.json", data=fields))
        _check(admin.put(f"/admin/api/cms/templates/{tid}/publish.json"))

    def ensure(kind: str, entry: dict[str, Any], extra: dict[str, Any]) -> None:
        fields = {"draft": (PORTAL / entry["file"]).read_text(), **extra}
        found = find(kind, entry["system_name"])
        if found is None:
            found = _check(
                admin.post(
                    "/admin/api/cms/templates.json", data={"type": kind, "system_name": entry["system_name"], **fields}
                )
            )
            _check(admin.put(f"/admin/api/cms/templates/{found['id']}/publish.json"))
        else:
            put_and_publish(found["id"], fields)

    for layout in manifest.get("layouts") or []:
        ensure("layout", layout, {"title": layout["title"]})
    for partial in manifest.get("partials") or []:
        ensure("partial", partial, {})
    for page in manifest.get("pages") or []:
        extra = {
            "title": page["title"],
            "path": page["path"],
            "layout_name": page["layout"],
            "content_type": page["content_type"],
            "liquid_enabled": str(page["liquid_enabled"]).lower(),
            "section_name": page["section"],
        }
        ensure("page", page, extra)
    for kind, key in (("builtin_page", "builtin_pages"), ("builtin_partial", "builtin_partials")):
        for entry in manifest.get(key) or []:
            found = find(kind, entry["system_name"])
            assert found is not None, f"builtin {entry['system_name']} missing in the sandbox CMS"
            put_and_publish(found["id"], {"draft": (PORTAL / entry["file"]).read_text()})
    files = {f["path"] for f in _all(admin, "/admin/api/cms/files.json")}
    for entry in manifest.get("files") or []:
        if entry["path"] in files:
            continue
        with (PORTAL / entry["file"]).open("rb") as fh:
            _check(
                admin.post(
                    "/admin/api/cms/files.json",
                    data={
                        "path": entry["path"],
                        "section_id": sections[entry["section"]]["id"],
                        "downloadable": str(entry["downloadable"]).lower(),
                    },
                    files={"attachment": (Path(entry["file"]).name, fh)},
                )
            )


def create_model_product(admin: Any, models_url: str, model: str = "markov-chat-small") -> tuple[dict, dict, dict]:
    service = _check(admin.post("/admin/api/services.json", data={"name": f"Model {model}", "system_name": model}))[
        "service"
    ]
    sid = service["id"]
    backend = _check(
        admin.post(
            "/admin/api/backend_apis.json",
            data={"name": f"{model} server", "system_name": f"{model}-backend", "private_endpoint": models_url},
        )
    )["backend_api"]
    _check(
        admin.post(
            f"/admin/api/services/{sid}/backend_usages.json", data={"backend_api_id": backend["id"], "path": "/"}
        )
    )
    hits = next(
        m["metric"]
        for m in _check(admin.get(f"/admin/api/services/{sid}/metrics.json"))["metrics"]
        if m["metric"]["system_name"] == "hits"
    )
    _check(
        admin.post(
            f"/admin/api/services/{sid}/proxy/mapping_rules.json",
            data={"http_method": "POST", "pattern": "/v1/", "metric_id": hits["id"], "delta": 1},
        )
    )
    _check(admin.put(f"/admin/api/services/{sid}/proxy.json", data={"credentials_location": "authorization"}))
    plan = _check(
        admin.post(
            f"/admin/api/services/{sid}/application_plans.json",
            data={"name": "Standard", "system_name": "standard", "state_event": "publish"},
        )
    )["application_plan"]
    hidden = _check(
        admin.post(
            f"/admin/api/services/{sid}/application_plans.json", data={"name": "Internal", "system_name": "internal"}
        )
    )["application_plan"]
    spec = {
        "openapi": "3.0.3",
        "info": {"title": f"{model} API", "version": "1"},
        "paths": {"/v1/chat/completions": {"post": {"responses": {"200": {"description": "ok"}}}}},
    }
    _check(
        admin.post(
            "/admin/api/active_docs.json",
            data={
                "name": f"{model} API",
                "system_name": model,
                "service_id": sid,
                "published": "true",
                "body": json.dumps(spec),
            },
        )
    )
    deployed = admin.post(f"/admin/api/services/{sid}/proxy/deploy.json")
    latest = admin.get(f"/admin/api/services/{sid}/proxy/configs/sandbox/latest.json")
    if deployed.status_code < 300 and latest.status_code == 200:
        version = latest.json()["proxy_config"]["version"]
        admin.post(f"/admin/api/services/{sid}/proxy/configs/sandbox/{version}/promote.json", data={"to": "production"})
    service = _check(admin.get(f"/admin/api/services/{sid}.json"))["service"]
    return service, plan, hidden


def render_realm(portal_url: str, client_secret: str, demo_password: str) -> dict[str, Any]:
    text = REALM_FILE.read_text()
    for name, value in (("PORTAL_URL", portal_url), ("CLIENT_SECRET", client_secret), ("DEMO_PASSWORD", demo_password)):
        text = text.replace("${" + name + "}", value)
    return yaml.safe_load(text)


def setup_portal(info: Any, admin: Any) -> PortalSetup:
    _check(admin.put("/admin/api/provider.json", data={"site_access_code": ""}))  # the guide's §18 step
    upload_portal(admin)
    service, plan, hidden = create_model_product(admin, info.models_url)
    client_secret, demo_password = secrets.token_urlsafe(16), secrets.token_urlsafe(12)
    realm = render_realm(info.portal_url, client_secret, demo_password)
    resp = requests.post(
        f"{info.sso_url}/admin/realms", json=realm, timeout=30, headers={"Authorization": f"Bearer {info.master_token}"}
    )
    assert resp.status_code in (201, 409), resp.text
    _check(
        admin.post(
            "/admin/api/authentication_providers.json",
            data={
                "kind": "keycloak",
                "name": "Red Hat build of Keycloak",
                "system_name": "keycloak",
                "client_id": "3scale-portal",
                "client_secret": client_secret,
                "site": f"{info.sso_url}/realms/maas",
                "published": "true",
                "automatically_approve_accounts": "true",
            },
        )
    )
    proxy = _check(admin.get(f"/admin/api/services/{service['id']}/proxy.json"))["proxy"]
    return PortalSetup(
        info.portal_url, info.sso_url, service, plan, hidden, client_secret, demo_password, proxy.get("endpoint")
    )
