"""The realm's redirect URI is only ever the provider's absolute callback_url (3scale's authentication provider
answer, GET /admin/api/authentication_providers.json); without one the SSO step stops before the realm is sent.

A loopback HTTP server plays the Admin API's provider list; the platform records what would be imported."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from maas_helpers.admin_client import AdminClient
from maas_helpers.catalogue import Catalogue
from maas_helpers.errors import MaasError
from maas_helpers.reconcile.context import Context
from maas_helpers.reconcile.sso import apply_sso
from maas_helpers.results import StepResult


def _server(provider: dict[str, Any]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            body = json.dumps({"authentication_providers": [{"authentication_provider": provider}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class RecordingPlatform:
    def __init__(self) -> None:
        self.realms: list[dict[str, Any]] = []

    def sso_realm_url(self, realm: str) -> str:
        return f"https://keycloak-rhbk.apps.x.example.com/realms/{realm}"

    def ensure_sso(self, realm: dict[str, Any], *, write_realm: bool = True) -> StepResult:
        self.realms.append(realm)
        return StepResult("realm")


def _provider(**extra: Any) -> dict[str, Any]:
    return {
        "id": 7,
        "kind": "keycloak",
        "client_id": "3scale-portal",
        "site": "https://keycloak-rhbk.apps.x.example.com/realms/maas",
        "published": True,
        "automatically_approve_accounts": True,
        "skip_ssl_certificate_verification": False,
        **extra,
    }


@pytest.mark.parametrize("callback", [None, "/auth/keycloak/callback"])
def test_no_absolute_callback_url_stops_before_the_realm(tmp_path, callback) -> None:
    server = _server(_provider(**({"callback_url": callback} if callback else {})))
    try:
        platform = RecordingPlatform()
        client = AdminClient(f"http://127.0.0.1:{server.server_port}", "token-for-test")
        ctx = Context(client, Catalogue(), platform=platform, state_dir=tmp_path)  # type: ignore[arg-type]
        with pytest.raises(MaasError) as info:
            apply_sso(ctx)
        assert "no absolute callback_url" in str(info.value) and "\n" not in str(info.value)
        assert platform.realms == []
    finally:
        server.shutdown()


def test_realm_gets_exactly_the_callback_and_its_origin(tmp_path) -> None:
    callback = "https://maas.apps.x.example.com/auth/keycloak/callback"
    server = _server(_provider(callback_url=callback))
    try:
        platform = RecordingPlatform()
        client = AdminClient(f"http://127.0.0.1:{server.server_port}", "token-for-test")
        apply_sso(Context(client, Catalogue(), platform=platform, state_dir=tmp_path))  # type: ignore[arg-type]
        (realm,) = platform.realms
        (portal,) = [c for c in realm["clients"] if c["clientId"] == "3scale-portal"]
        assert portal["redirectUris"] == [callback]
        assert portal["webOrigins"] == ["https://maas.apps.x.example.com"]
    finally:
        server.shutdown()
