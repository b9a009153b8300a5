"""Issue 14 item 3: the sandbox SSO honours Keycloak's `registrationAllowed` — a "Register" link on the login
page and Keycloak's /protocol/openid-connect/registrations form when true, refused (403, no link) when false —
and the kit's realm (maas_helpers/reconcile/sso.py) turns it on for the sandbox, off by default on a cluster."""

from __future__ import annotations

import importlib.util
import re
import secrets
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import requests
from joserfc import jwt

from maas_helpers.catalogue import Sso
from maas_helpers.reconcile.sso import realm_representation

_spec = importlib.util.spec_from_file_location("sso_helpers", Path(__file__).with_name("test_sso.py"))
helpers = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules.setdefault("sso_helpers", helpers)
_spec.loader.exec_module(helpers)  # type: ignore[union-attr]


def _import(sandbox, allowed: bool) -> dict:
    name = f"reg{secrets.token_hex(4)}"
    rep = {**helpers.realm(name), "registrationAllowed": allowed}
    resp = requests.post(f"{sandbox.sso_url}/admin/realms", json=rep, timeout=10,
                         headers={"Authorization": f"Bearer {sandbox.master_token}"})
    assert resp.status_code == 201, resp.text
    base = f"{sandbox.sso_url}/realms/{name}"
    return {"info": sandbox, "name": name, "base": base, "oidc": f"{base}/protocol/openid-connect"}


def test_registration_creates_a_user_who_is_signed_in(sandbox) -> None:
    sso = _import(sandbox, True)
    verifier, challenge = helpers.pkce()
    session = requests.Session()
    login = session.get(helpers.authorize(sso, challenge).url, timeout=10)
    link = re.search(r'<a href="([^"]+)">Register</a>', login.text)
    assert link, login.text
    form = session.get(link.group(1).replace("&amp;", "&"), timeout=10)
    assert form.status_code == 200 and 'id="kc-register-form"' in form.text
    token = re.search(r'name="request" value="([^"]+)"', form.text).group(1)
    action = f"{sso['base']}/login-actions/registration"
    fields = {"request": token, "firstName": "Nia", "lastName": "Dev", "email": "nia@example.com",
              "username": "nia", "password": "long-enough-1", "password-confirm": "other-value"}
    mismatch = session.post(action, data=fields, allow_redirects=False, timeout=10)
    assert mismatch.status_code == 200 and "confirmation doesn" in mismatch.text
    taken = session.post(action, data={**fields, "username": "erin", "password-confirm": "long-enough-1"},
                         allow_redirects=False, timeout=10)
    assert "already exists" in taken.text
    done = session.post(action, data={**fields, "password-confirm": "long-enough-1"}, allow_redirects=False,
                        timeout=10)
    assert done.status_code == 302, done.text
    code = parse_qs(urlparse(done.headers["location"]).query)["code"][0]
    tokens = helpers.exchange(sso, code, verifier)
    assert tokens.status_code == 200, tokens.text
    claims = jwt.decode(tokens.json()["id_token"], helpers.KeySet.import_key_set(
        requests.get(f"{sso['oidc']}/certs", timeout=10).json())).claims
    assert claims["preferred_username"] == "nia" and claims["email"] == "nia@example.com"
    # the new user signs in again with the password (stored hashed), like any realm user
    again = requests.Session()
    page = again.get(helpers.authorize(sso, helpers.pkce()[1]).url, timeout=10)
    request_token = re.search(r'name="request" value="([^"]+)"', page.text).group(1)
    resp = again.post(f"{sso['oidc']}/auth", data={"request": request_token, "username": "nia",
                                                   "password": "long-enough-1"}, allow_redirects=False, timeout=10)
    assert resp.status_code == 302


def test_registration_refused_when_the_realm_does_not_allow_it(sandbox) -> None:
    sso = _import(sandbox, False)
    _, challenge = helpers.pkce()
    login = requests.get(helpers.authorize(sso, challenge).url, timeout=10)
    assert login.status_code == 200 and "Register" not in login.text
    query = urlparse(helpers.authorize(sso, challenge).url).query
    refused = requests.get(f"{sso['oidc']}/registrations?{query}", timeout=10)
    assert refused.status_code == 403 and "Registration not allowed" in refused.text


def test_kit_realm_flag_sandbox_on_cluster_off_by_default() -> None:
    sso = Sso()
    assert realm_representation(sso, "s" * 20, "http://portal", "d" * 20)["registrationAllowed"] is False
    assert realm_representation(sso, "s" * 20, "http://portal", "d" * 20,
                                registration_allowed=True)["registrationAllowed"] is True
    from maas_helpers.config import make_settings

    assert make_settings(target="sandbox").sso_registration is False  # the cluster setting's default
