"""SSO users through Keycloak's admin REST API (`/admin/realms/{realm}/users`, Keycloak's UsersResource).

The bearer is a master-realm admin token: on OpenShift the kit gets it as Keycloak documents, with the
`admin-cli` password grant on `/realms/master/protocol/openid-connect/token` (MAAS_SSO_ADMIN_USERNAME /
MAAS_SSO_ADMIN_PASSWORD, e.g. from the Keycloak CR's initial-admin Secret); on the sandbox it is the sandbox's
master token, as `SandboxPlatform.ensure_sso` uses it. Calls are counted like `AdminClient.calls`.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from typing import Any

import requests

from maas_helpers.errors import ConfigError, MaasError
from maas_helpers.secrets import mask_text

TIMEOUT = 30.0


def keycloak_admin_token(sso_root: str, username: str, password: str, verify: bool | str = True) -> str:
    resp = requests.post(f"{sso_root}/realms/master/protocol/openid-connect/token", timeout=TIMEOUT, verify=verify,
                         data={"grant_type": "password", "client_id": "admin-cli", "username": username,
                               "password": password})
    if not resp.ok:
        raise MaasError(f"SSO admin login (master realm, admin-cli) refused: {resp.status_code}; check "
                        "MAAS_SSO_ADMIN_USERNAME / MAAS_SSO_ADMIN_PASSWORD")
    return str(resp.json()["access_token"])


class SsoUsers:
    def __init__(self, sso_root: str, realm: str, token: str, verify: bool | str = True) -> None:
        self.base = f"{sso_root.rstrip('/')}/admin/realms/{realm}/users"
        self.realm = realm
        self._token = token
        self._verify = verify
        self._local = threading.local()  # one session per thread: the workshop sets attendees up side by side
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.verify = self._verify
            session.headers["Authorization"] = f"Bearer {self._token}"
        return session

    @classmethod
    def for_platform(cls, platform: Any, realm: str, verify: bool | str = True) -> SsoUsers:
        realm_url = platform.sso_realm_url(realm)
        root = realm_url.rsplit("/realms/", 1)[0]
        if getattr(platform, "name", "") == "sandbox":
            return cls(root, realm, str(platform.info.master_token))
        user, password = os.environ.get("MAAS_SSO_ADMIN_USERNAME"), os.environ.get("MAAS_SSO_ADMIN_PASSWORD")
        if not user or not password:
            raise ConfigError("workshop: SSO users need Keycloak admin credentials; set MAAS_SSO_ADMIN_USERNAME and "
                              "MAAS_SSO_ADMIN_PASSWORD (the Keycloak initial-admin Secret)")
        return cls(root, realm, keycloak_admin_token(root, user, password, verify), verify)

    @property
    def writes(self) -> int:
        with self._lock:
            return sum(n for verb, n in self.calls.items() if verb != "GET")

    def _send(self, method: str, path: str = "", ok: tuple[int, ...] = (200, 201, 204), **kwargs: Any) -> Any:
        with self._lock:
            self.calls[method] += 1
        url = self.base + path
        try:
            resp = self.session.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise MaasError(f"SSO admin API: cannot reach {self.base} ({type(exc).__name__})") from None
        if resp.status_code == 404 and "Realm" in resp.text:
            raise ConfigError(f"workshop: SSO realm {self.realm!r} does not exist yet; run `maas apply` (section "
                              "sso) first")
        if resp.status_code not in ok:
            detail = mask_text(resp.text[:200], [self._token])
            raise MaasError(f"SSO admin API {method} {url.split('?')[0]}: {resp.status_code} {detail}")
        return resp

    def check(self) -> None:
        """The realm exists and the token is accepted (`GET /users/count`)."""
        self._send("GET", "/count")

    def with_attribute(self, name: str, value: str) -> list[dict[str, Any]]:
        users: list[dict[str, Any]] = []
        while True:
            page = self._send("GET", params={"q": f"{name}:{value}", "first": len(users), "max": 500}).json()
            users.extend(page)
            if len(page) < 500:
                return users

    def create(self, rep: dict[str, Any]) -> None:
        self._send("POST", json=rep)

    def reset_password(self, user_id: str, password: str, temporary: bool = True) -> None:
        self._send("PUT", f"/{user_id}/reset-password", json={"type": "password", "value": password,
                                                             "temporary": temporary})

    def logout(self, user_id: str) -> None:
        """Keycloak's `POST …/users/{id}/logout`: ends every session of the user (UserResource.logout)."""
        self._send("POST", f"/{user_id}/logout", ok=(204,))

    def delete(self, user_id: str) -> None:
        self._send("DELETE", f"/{user_id}", ok=(204, 404))
