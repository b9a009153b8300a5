"""The SSO's RS256 signing key: generated once per state dir, kept in the store, published as a JWKS."""

from __future__ import annotations

from typing import Any

from joserfc.jwk import RSAKey

from maas_sandbox.context import Sandbox

_KV = "sso_signing_key"


def signing_key(sandbox: Sandbox) -> RSAKey:
    cached = sandbox.extras.get(_KV)
    if cached is not None:
        return cached
    stored = sandbox.store.kv_get(_KV)
    if stored is None:
        key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
        sandbox.store.kv_set(_KV, key.as_dict(private=True))
    else:
        key = RSAKey.import_key(stored)
    sandbox.extras[_KV] = key
    return key


def jwks(sandbox: Sandbox) -> dict[str, Any]:
    public = signing_key(sandbox).as_dict(private=False)
    public.setdefault("use", "sig")
    public.setdefault("alg", "RS256")
    return {"keys": [public]}
