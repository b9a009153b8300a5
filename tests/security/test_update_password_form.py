"""Issue 28 item 3: the temporary password's update-password form is one-time and bound to the credential it was
opened with. An attacker who signed in with the printed temporary password and stopped at the form cannot submit
it after the attendee changed the password (before the fix: signed in as the attendee, whose own password then
stopped working), and a used form cannot be submitted twice.

Keycloak: the UPDATE_PASSWORD required action runs inside the login's authentication session, which ends when
the action completes; action tokens are single-use (services/.../authentication/actiontoken/
ActionTokenHandler, DefaultActionTokenKey in the single-use object store). The sandbox marks each form with an
id (used once) and a digest of the stored password hash (maas_sandbox/sso/login_routes.py).
"""

from __future__ import annotations

import importlib.util
import re
import secrets
import sys
from pathlib import Path

import pytest
import requests

_spec = importlib.util.spec_from_file_location(
    "sso_helpers", Path(__file__).resolve().parents[1] / "sandbox" / "test_sso.py")
helpers = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules.setdefault("sso_helpers", helpers)
_spec.loader.exec_module(helpers)  # type: ignore[union-attr]

TEMPORARY = "printed-Temp-1"


@pytest.fixture
def attendee(secured) -> dict:
    name = f"room{secrets.token_hex(4)}"
    master = {"Authorization": f"Bearer {secured.master_token}"}
    rep = {**helpers.realm(name), "users": []}
    assert requests.post(f"{secured.sso_url}/admin/realms", json=rep, headers=master, timeout=10).status_code == 201
    user = {"username": "attendee-07", "email": "a07@example.com", "enabled": True,
            "credentials": [{"type": "password", "value": TEMPORARY, "temporary": True}]}
    created = requests.post(f"{secured.sso_url}/admin/realms/{name}/users", json=user, headers=master, timeout=10)
    assert created.status_code == 201, created.text
    base = f"{secured.sso_url}/realms/{name}"
    return {"info": secured, "name": name, "base": base, "oidc": f"{base}/protocol/openid-connect"}


def sign_in(sso: dict, password: str) -> requests.Response:
    s = requests.Session()
    page = s.get(helpers.authorize(sso, helpers.pkce()[1]).url, timeout=10)
    token = re.search(r'name="request" value="([^"]+)"', page.text).group(1)
    return s.post(f"{sso['oidc']}/auth", data={"request": token, "username": "attendee-07", "password": password},
                  allow_redirects=False, timeout=10)


def update_form(sso: dict) -> tuple[str, str]:
    """Sign in with the temporary password and stop at the update form: (its action, its one-time token)."""
    page = sign_in(sso, TEMPORARY)
    assert page.status_code == 200 and 'id="kc-passwd-update-form"' in page.text, page.text[:300]
    action = re.search(r'id="kc-passwd-update-form" action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    return action, re.search(r'name="request" value="([^"]+)"', page.text).group(1)


def submit(action: str, token: str, password: str) -> requests.Response:
    return requests.post(action, data={"request": token, "password-new": password, "password-confirm": password},
                         allow_redirects=False, timeout=10)


def test_an_old_update_form_is_refused_once_the_attendee_changed_the_password(attendee) -> None:
    attacker_action, attacker_token = update_form(attendee)  # the attacker stops here
    action, token = update_form(attendee)
    assert submit(action, token, "attendee-Own-9").status_code == 302  # the attendee sets a password

    late = submit(attacker_action, attacker_token, "attacker-Pass-1")
    assert late.status_code == 400 and "location" not in late.headers, late.text[:300]
    assert "timed out" in late.text
    # the attendee's password still works, the attacker's does not
    assert sign_in(attendee, "attendee-Own-9").status_code == 302
    refused = sign_in(attendee, "attacker-Pass-1")
    assert refused.status_code == 200 and "Invalid username or password" in refused.text


def test_a_used_update_form_cannot_be_submitted_again(attendee) -> None:
    action, token = update_form(attendee)
    assert submit(action, token, "attendee-Own-9").status_code == 302
    again = submit(action, token, "attendee-Other-8")
    assert again.status_code == 400 and "location" not in again.headers
    assert sign_in(attendee, "attendee-Own-9").status_code == 302


def test_a_form_with_an_error_can_be_corrected_and_submitted(attendee) -> None:
    action, token = update_form(attendee)
    mismatch = requests.post(action, data={"request": token, "password-new": "a-Long-pw-1",
                                           "password-confirm": "other"}, allow_redirects=False, timeout=10)
    assert mismatch.status_code == 200 and "match" in mismatch.text
    assert submit(action, token, "attendee-Own-9").status_code == 302
