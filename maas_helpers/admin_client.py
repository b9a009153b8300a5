"""Transport to the 3scale Admin API: the `threescale_api` client where it covers a resource, one pooled
`requests` session for everything (so every call is counted by verb and errors are translated once).

`AdminClient.calls` counts HTTP requests by verb; `writes` is everything but GET — tests and the benchmark
assert "re-apply = 0 writes" with it. The client may be shared by the reconcile's worker threads: each thread
gets its own `requests` session (requests does not promise a thread-safe Session) and counting takes a lock.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import requests
from pydantic import SecretStr
from threescale_api import ThreeScaleClient
from threescale_api.client import RestApiClient

from maas_helpers import errors
from maas_helpers.platform.base import AdminCredentials
from maas_helpers.secrets import mask

_subject: contextvars.ContextVar[str] = contextvars.ContextVar("maas_subject", default="3scale Admin API")
TIMEOUT = 30.0
PER_PAGE = 500  # porta's largest page (admin/api/filters/pagination.rb per_page_range 1..500)
MAX_PAGES = 1000


class _CountingRest(RestApiClient):
    """`threescale_api`'s REST layer routed through the AdminClient's session (pooling, counting, errors)."""

    def __init__(self, owner: AdminClient) -> None:
        super().__init__(url=owner.admin_url, token=owner._token.get_secret_value(), ssl_verify=owner.verify)
        self._owner = owner

    def request(
        self, method: str = "GET", url: str | None = None, path: str = "", params: dict | None = None,
        headers: dict | None = None, throws: bool | None = None, **kwargs: Any,
    ) -> requests.Response:
        kwargs.pop("resource", None)
        full_url = (url if url else urljoin(self.url, path)) + ".json"
        params = dict(params or {})
        params["access_token"] = self._token
        resp = self._owner._send(method, full_url, params=params, headers=headers, **kwargs)
        if not resp.ok and (self._throws if throws is None else throws):
            raise self._owner._error(resp)
        return resp


class AdminClient:
    def __init__(
        self,
        admin_url: str,
        admin_token: str | SecretStr,
        *,
        verify: bool | str = True,
        master_url: str | None = None,
        master_token: str | SecretStr | None = None,
    ) -> None:
        self.admin_url = admin_url.rstrip("/")
        self._token = admin_token if isinstance(admin_token, SecretStr) else SecretStr(admin_token)
        self.master_url = master_url.rstrip("/") if master_url else None
        self._master_token = (
            master_token if isinstance(master_token, SecretStr) or master_token is None else SecretStr(master_token)
        )
        self.verify = verify
        self._local = threading.local()
        self._lock = threading.Lock()
        self._slots: threading.BoundedSemaphore | None = None  # at most N calls in flight (limit_in_flight)
        self.calls: Counter[str] = Counter()
        self.threescale = ThreeScaleClient(url=self.admin_url, token=self._token.get_secret_value(),
                                           ssl_verify=bool(verify))
        self.threescale._rest = _CountingRest(self)  # noqa: SLF001 - the client has no transport hook

    @classmethod
    def from_credentials(cls, creds: AdminCredentials) -> AdminClient:
        return cls(creds.admin_url, creds.admin_token, verify=creds.verify_tls, master_url=creds.master_url,
                   master_token=creds.master_token)

    @property
    def session(self) -> requests.Session:
        """This thread's pooled session (one per worker thread, kept for the client's life)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.verify = self.verify
        return session

    def limit_in_flight(self, n: int | None) -> None:
        """Allow at most `n` Admin API calls at once from all threads (None: no limit). Set before a run."""
        self._slots = threading.BoundedSemaphore(n) if n else None

    # --- accounting -----------------------------------------------------------------------------------------
    @property
    def writes(self) -> int:
        with self._lock:
            return sum(n for verb, n in self.calls.items() if verb != "GET")

    @property
    def total_calls(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()

    @property
    def has_master(self) -> bool:
        return bool(self.master_url and self._master_token)

    def __repr__(self) -> str:
        return f"AdminClient({self.admin_url!r}, token={mask(self._token)!r}, calls={dict(self.calls)})"

    __str__ = __repr__

    # --- error context ------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def about(self, subject: str) -> Iterator[None]:
        """Errors raised inside name `subject` (e.g. "product granite: mapping rule POST /v1/completions$")."""
        token = _subject.set(subject)
        try:
            yield
        finally:
            _subject.reset(token)

    def _secrets(self) -> list[SecretStr | None]:
        return [self._token, self._master_token]

    def _error(self, resp: requests.Response) -> errors.MaasError:
        url = resp.request.url.split("?")[0] if resp.request and resp.request.url else self.admin_url
        return errors.from_status(resp.status_code, resp.content, _subject.get(), url, self._secrets())

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        with self._lock:
            self.calls[method.upper()] += 1
        kwargs.setdefault("timeout", TIMEOUT)
        try:
            if self._slots is None:
                return self.session.request(method, url, **kwargs)
            with self._slots:
                return self.session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            raise errors.from_exception(exc, _subject.get(), url.split("?")[0], self._secrets()) from None

    # --- plain requests for what threescale_api does not cover ----------------------------------------------
    def request(
        self, method: str, path: str, *, master: bool = False, allow: tuple[int, ...] = (), **kwargs: Any
    ) -> requests.Response:
        """`path` is relative to the admin (or master) host and includes `.json`; non-2xx raise MaasError
        unless listed in `allow`."""
        if master:
            if not self.has_master:
                raise errors.MaasError(f"{_subject.get()}: no Master API URL/token known; set it up or do it by hand")
            base, token = self.master_url, self._master_token
        else:
            base, token = self.admin_url, self._token
        params = dict(kwargs.pop("params", None) or {})
        params["access_token"] = token.get_secret_value()  # type: ignore[union-attr]
        resp = self._send(method, f"{base}{path}", params=params, **kwargs)
        if not resp.ok and resp.status_code not in allow:
            raise self._error(resp)
        return resp

    def get_json(self, path: str, *, allow_404: bool = False, **kwargs: Any) -> Any:
        resp = self.request("GET", path, allow=(404,) if allow_404 else (), **kwargs)
        return None if resp.status_code == 404 else resp.json()

    def get_all(self, path: str, plural: str, singular: str, *, params: dict[str, Any] | None = None,
                per_page: int = PER_PAGE) -> list[dict[str, Any]]:
        """Every item of a paginated 3scale list (`{plural: [{singular: …}]}`), page after page until a short
        one. porta pages the Admin API at 500 and the Billing API at 20 by default, both up to 500
        (admin/api/filters/pagination.rb, finance/api/base_controller.rb); a list longer than MAX_PAGES pages
        is an error rather than an endless loop. porta adds `metadata.total_pages` when a list spans pages
        (three_scale/api/collection.rb); without it a short page is the last."""
        rows: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            body = self.get_json(path, params={**(params or {}), "page": page, "per_page": per_page})
            batch = [item.get(singular, item) for item in (body or {}).get(plural) or []]
            rows.extend(batch)
            meta = (body or {}).get("metadata") or {}
            last = int(meta["total_pages"]) <= page if "total_pages" in meta else len(batch) < per_page
            if last or not batch:
                return rows
        raise errors.MaasError(f"{_subject.get()}: {path} has more than {MAX_PAGES * per_page} items")

    def send_json(self, method: str, path: str, body: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        resp = self.request(method, path, json=body, **kwargs)
        return resp.json() if resp.content else None
