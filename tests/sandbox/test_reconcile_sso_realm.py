"""The SSO realm is compared with what the SSO holds, read back over its admin REST API, not with a local marker.

Reads follow Keycloak's admin REST shapes: GET /admin/realms/{realm} is the top-level representation without
clients or users (services/…/admin/RealmAdminResource.java `getRealm`), GET …/clients lists the clients with a
confidential client's `secret` (ClientsResource.java `getClients` → ModelToRepresentation), GET …/users never
returns credentials (UsersResource). Every request the kit sends to the sandbox SSO is recorded at the
`requests` layer, so "writes nothing" is what went over HTTP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from maas_helpers.kit import Kit
from maas_helpers.results import Change
from maas_sandbox.control import SandboxInfo


@pytest.fixture
def sso_calls(monkeypatch: pytest.MonkeyPatch, fresh_sandbox: SandboxInfo) -> list[tuple[str, str]]:
    """(method, path) of every request sent to the sandbox SSO, passed through unchanged."""
    calls: list[tuple[str, str]] = []
    real = requests.sessions.Session.request

    def recording(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        if str(url).startswith(fresh_sandbox.sso_url):
            calls.append((method.upper(), str(url)[len(fresh_sandbox.sso_url):].split("?")[0]))
        return real(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.sessions.Session, "request", recording)
    return calls


def _admin(info: SandboxInfo, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{info.sso_url}/admin/realms{path}", timeout=10,
                            headers={"Authorization": f"Bearer {info.master_token}"}, **kwargs)


def _portal_client(info: SandboxInfo) -> dict[str, Any]:
    (client,) = _admin(info, "GET", "/maas/clients", params={"clientId": "3scale-portal"}).json()
    return client


def _writes(calls: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [c for c in calls if c[0] != "GET"]


def test_a_realm_changed_behind_the_kits_back_is_repaired_and_an_unchanged_one_is_not_written(
        fresh_sandbox: SandboxInfo, sso_calls: list[tuple[str, str]]) -> None:
    kit = Kit.configure(target="sandbox", state_dir=str(fresh_sandbox.state_dir))
    first = kit.apply("sso")
    assert [(a.kind, a.change) for a in first.actions if a.kind == "realm"] == [("realm", Change.CREATED)]
    assert _writes(sso_calls) == [("POST", "/admin/realms")]
    assert not list(Path(fresh_sandbox.state_dir).glob("*.sha256"))  # no marker stands in for the realm
    callback = _portal_client(fresh_sandbox)["redirectUris"]
    assert callback and "/auth/keycloak" in callback[0] and callback[0].endswith("/callback")  # 3scale's own

    sso_calls.clear()
    kit.admin.reset_counts()
    again = kit.apply("sso")
    assert again.in_sync and kit.admin.writes == 0, str(again)
    assert _writes(sso_calls) == [] and ("GET", "/admin/realms/maas/clients") in sso_calls  # read, not assumed

    # Someone edits the client in the SSO: a redirect URI that is not 3scale's callback.
    client = _portal_client(fresh_sandbox)
    uuid = client["id"]  # Keycloak's {client-uuid}
    client["redirectUris"] = ["https://elsewhere.example/cb"]
    realm = _admin(fresh_sandbox, "GET", "/maas").json()
    assert _admin(fresh_sandbox, "PUT", "/maas", json={**realm, "clients": [client]}).status_code == 204

    planned = kit.plan("sso")
    (row,) = [a for a in planned.actions if a.kind == "realm"]
    assert row.change is Change.PLANNED_UPDATE
    assert [(c.field, c.old, c.new) for c in row.changes] == [
        ("clients[3scale-portal].redirectUris", ["https://elsewhere.example/cb"], callback)]

    sso_calls.clear()
    repaired = kit.apply("sso")
    (row,) = [a for a in repaired.actions if a.kind == "realm"]
    assert row.change is Change.UPDATED and "redirectUris" in row.detail
    assert _writes(sso_calls) == [("PUT", "/admin/realms/maas")]
    assert _portal_client(fresh_sandbox)["redirectUris"] == callback
    assert _portal_client(fresh_sandbox)["id"] == uuid  # updated in place, not a new client
    sso_calls.clear()
    assert kit.apply("sso").in_sync and _writes(sso_calls) == []


def test_a_changed_client_secret_is_put_back_and_never_shown(fresh_sandbox: SandboxInfo,
                                                            sso_calls: list[tuple[str, str]]) -> None:
    kit = Kit.configure(target="sandbox", state_dir=str(fresh_sandbox.state_dir))
    kit.apply("sso")
    secret = next(Path(fresh_sandbox.state_dir).glob("sso-maas-*-client.secret")).read_text().strip()
    client = _portal_client(fresh_sandbox)
    assert client["secret"] == secret  # Keycloak's GET …/clients shows a confidential client's secret
    rotated = "rotated-by-hand-0123456789abcdef"
    realm = _admin(fresh_sandbox, "GET", "/maas").json()
    assert _admin(fresh_sandbox, "PUT", "/maas", json={**realm, "clients": [{**client, "secret": rotated}]}).ok

    sso_calls.clear()
    repaired = kit.apply("sso")
    (row,) = [a for a in repaired.actions if a.kind == "realm"]
    assert row.change is Change.UPDATED
    assert [c.field for c in row.changes] == ["clients[3scale-portal].secret"]
    shown = str(repaired) + repr(row.changes)
    assert secret not in shown and rotated not in shown and "****" in shown
    assert _writes(sso_calls) == [("PUT", "/admin/realms/maas")]
    assert _portal_client(fresh_sandbox)["secret"] == secret


def test_reads_have_keycloaks_shapes(sandbox: SandboxInfo) -> None:
    """GET realm: top level only; GET clients: the confidential client's secret, none for a public client;
    GET users: no credentials (RealmAdminResource.getRealm, ClientsResource.getClients, UsersResource)."""
    realm = {"realm": "shapes", "enabled": True, "registrationAllowed": False,
             "clients": [{"clientId": "web", "secret": "conf-secret-value", "redirectUris": ["https://a/cb"]},
                         {"clientId": "spa", "publicClient": True, "redirectUris": ["https://b/cb"]}],
             "users": [{"username": "Ann", "credentials": [{"type": "password", "value": "ann-pass-word"}]}]}
    assert _admin(sandbox, "POST", "", json=realm).status_code == 201
    top = _admin(sandbox, "GET", "/shapes").json()
    assert top["registrationAllowed"] is False and "clients" not in top and "users" not in top
    clients = {c["clientId"]: c for c in _admin(sandbox, "GET", "/shapes/clients").json()}
    assert clients["web"]["secret"] == "conf-secret-value" and "secret" not in clients["spa"]
    assert len({c["id"] for c in clients.values()}) == 2
    (only,) = _admin(sandbox, "GET", "/shapes/clients", params={"clientId": "spa"}).json()
    assert only["id"] == clients["spa"]["id"]
    (ann,) = _admin(sandbox, "GET", "/shapes/users", params={"username": "ann", "exact": "true"}).json()
    assert ann["username"] == "ann" and "credentials" not in ann


def _sso_page_title(info: SandboxInfo) -> str:
    """The SSO sign-in page a developer reaches from the portal's "Sign in with SSO" link."""
    import re

    session = requests.Session()
    login = session.get(f"{info.portal_url}/login", timeout=10).text
    link = re.search(r'href="(/auth/[^"]+/authorize[^"]*)"', login)
    assert link, login[:500]
    page = session.get(info.portal_url + link.group(1).replace("&amp;", "&"), timeout=10).text
    title = re.search(r'<h1 id="kc-page-title">([^<]*)</h1>', page)
    assert title, page[:500]
    return title.group(1)


def test_the_organisation_name_reaches_the_sso_pages_and_a_rename_is_reconciled(
        fresh_sandbox: SandboxInfo, sso_calls: list[tuple[str, str]]) -> None:
    """Issue 29 item 6: the realm's `displayName` / `displayNameHtml` (Keycloak's RealmRepresentation; the login
    theme shows them) follow the organisation name; renaming it updates the realm once, then nothing."""
    kit = Kit.configure(target="sandbox", state_dir=str(fresh_sandbox.state_dir), org_name="ACME AI Lab")
    kit.apply("portal")  # the portal's login page carries the SSO link
    kit.apply("sso")
    realm = _admin(fresh_sandbox, "GET", "/maas").json()
    assert (realm["displayName"], realm["displayNameHtml"]) == ("ACME AI Lab", "ACME AI Lab")
    assert _sso_page_title(fresh_sandbox) == "Sign in to ACME AI Lab"

    renamed = Kit.configure(target="sandbox", state_dir=str(fresh_sandbox.state_dir), org_name="R&D <Lab>")
    before = len(_writes(sso_calls))
    result = renamed.apply("sso")
    (action,) = [a for a in result.actions if a.kind == "realm"]
    assert action.change is Change.UPDATED
    assert {c.field for c in action.changes} == {"displayName", "displayNameHtml"}
    assert len(_writes(sso_calls)) == before + 1
    realm = _admin(fresh_sandbox, "GET", "/maas").json()
    assert (realm["displayName"], realm["displayNameHtml"]) == ("R&D <Lab>", "R&amp;D &lt;Lab&gt;")
    assert _sso_page_title(fresh_sandbox) == "Sign in to R&amp;D &lt;Lab&gt;"  # escaped once in the HTML
    again = renamed.apply("sso")
    assert [a.change for a in again.actions if a.kind == "realm"] == [Change.UNCHANGED]
    assert len(_writes(sso_calls)) == before + 1
