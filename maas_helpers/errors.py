"""One-line errors that name the object and the fix; HTTP and TLS failures are translated here."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from maas_helpers.secrets import mask_text

if TYPE_CHECKING:  # errors are imported everywhere, the CLI's start included: keep this module light
    from pydantic import SecretStr


class MaasError(RuntimeError):
    """A failure a learner can act on: one line, names the object and the fix, never shows a secret."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(" ".join(message.split()))
        self.status = status


class ConfigError(MaasError, ValueError):
    """Invalid settings, reported before any call is made."""


def _error_detail(body: bytes | str | None) -> str:
    if not body:
        return ""
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:200]
    if isinstance(data, dict):
        if isinstance(data.get("errors"), dict):
            return "; ".join(f"{'' if field == 'base' else field + ' '}{', '.join(map(str, msgs))}"
                             for field, msgs in data["errors"].items())
        for key in ("error", "status", "message"):
            if key in data:
                return str(data[key])
    return text.strip()[:200]


def _record_errors(body: bytes | str | None) -> bool:
    """True when the body is a record's `{"errors": {...}}` (not the `{"error": "Access denied"}` of a bad token)."""
    if not body:
        return False
    try:
        data = json.loads(body.decode(errors="replace") if isinstance(body, bytes) else body)
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get("errors"), dict) and bool(data["errors"])


def from_status(
    status: int, body: bytes | str | None, what: str, url: str, secrets: Iterable[str | SecretStr | None] = ()
) -> MaasError:
    """Translate an Admin API answer into a MaasError naming `what` (e.g. "product granite") and the fix."""
    detail = _error_detail(body)
    if status == 403 and _record_errors(body):
        # porta's responder answers a DELETE the model refuses with 403 and the record's errors
        # (three_scale/api/responder.rb); the token is fine, something still depends on the object.
        message = (f"{what}: 3scale refused to delete it (403: {detail}); remove what still uses it first, "
                   "then re-run")
    elif status == 401 or status == 403:
        fix = (
            "check the admin token (MAAS_ADMIN_TOKEN or the system-seed ADMIN_ACCESS_TOKEN) and that it has "
            "read-write Account Management scope"
        )
        message = f"{what}: 3scale refused the call ({status} {detail or 'Access denied'}); {fix}"
    elif status == 404:
        message = f"{what}: not found at {url} (404); it was probably deleted meanwhile — re-run the step"
    elif status == 422:
        message = f"{what}: 3scale rejected the values (422 {detail}); fix the catalogue entry and re-run"
    elif status >= 500:
        message = f"{what}: 3scale failed with {status} ({detail or 'server error'}); check that 3scale is up, retry"
    else:
        message = f"{what}: unexpected {status} from {url} ({detail})"
    return MaasError(mask_text(message, secrets), status=status)


def from_exception(
    exc: Exception, what: str, url: str, secrets: Iterable[str | SecretStr | None] = ()
) -> MaasError:
    """Translate a transport failure (unreachable host, TLS) into a MaasError."""
    import requests  # only a failed call gets here, and the caller has loaded requests already

    if isinstance(exc, requests.exceptions.SSLError):
        message = (
            f"{what}: TLS verification failed for {url}; set ca_bundle to the cluster's CA bundle "
            "(or verify_tls: false, knowingly)"
        )
    elif isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        message = f"{what}: cannot reach {url}; check admin_url / cluster_domain and that 3scale (or the sandbox) runs"
    else:
        message = f"{what}: {type(exc).__name__}: {exc}"
    return MaasError(mask_text(message, secrets))
