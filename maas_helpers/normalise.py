"""How 3scale stores what the kit sends, in one place: reconcile compares through these functions and so does
every verification (a notebook check, the CLI, a test), so "in sync" means the same thing everywhere.

porta stores a backend's private endpoint with an explicit port (backend_api.rb normalises the URL with
`URI#port`), renders decimals as strings or numbers by column, and lists proxy URLs with or without a trailing
slash depending on how they were entered.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlparse


def with_default_port(url: str) -> str:
    """`http://host/path` → `http://host:80/path` (porta keeps the scheme's port explicit); other URLs as given."""
    parsed = urlparse(url)
    if parsed.port is not None or parsed.scheme not in ("http", "https"):
        return url
    port = 443 if parsed.scheme == "https" else 80
    return parsed._replace(netloc=f"{parsed.netloc}:{port}").geturl()


def endpoint(url: Any) -> str:
    """A backend URL as porta compares it: explicit port, no trailing slash."""
    return with_default_port(str(url or "").rstrip("/"))


def same_endpoint(a: Any, b: Any) -> bool:
    return endpoint(a) == endpoint(b)


def public_url(url: Any) -> str:
    """A gateway/portal URL shown by porta (proxy `endpoint`, ActiveDocs `servers`): no trailing slash."""
    return str(url or "").rstrip("/")


def money(value: Any) -> Decimal:
    """porta renders decimals as strings or numbers depending on the column; compare them as decimals."""
    return Decimal(str(value if value not in (None, "") else 0)).normalize()


def unordered(values: Any) -> list[str]:
    """Keycloak keeps a client's redirect URIs and web origins as a set (ClientModel.getRedirectUris returns a
    Set<String>): the order read back is not the order sent."""
    return sorted(str(v) for v in values or [])


# Field by field: how an observed value is brought to the shape of the desired one before comparing.
_FIELDS = {"private_endpoint": endpoint, "cost_per_month": money, "setup_fee": money, "cost_per_unit": money,
           "redirectUris": unordered, "webOrigins": unordered}


# Fields whose missing value means 0: porta's plan fee columns are `default: "0.0", null: false`
# (db/schema.rb `plans`), so a plan JSON without one has none to pay.
_ZERO_WHEN_MISSING = {"cost_per_month", "setup_fee"}


def comparable(name: str, value: Any) -> Any:
    fn = _FIELDS.get(name)
    if fn is None or (value is None and name not in _ZERO_WHEN_MISSING):
        return value
    return fn(value)


def application_label(app: dict[str, Any]) -> str:
    """An application's name as people see it: porta's Admin API stores an application without a name (only
    portal forms require one, `cinstance.rb` `name_required?`) and leaves a nil name out of the JSON, so fall back
    as porta's `display_name` does."""
    return str(app.get("name") or f"Application on plan {app.get('plan_name', '')}")
