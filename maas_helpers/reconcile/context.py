"""What a reconcile run shares: the client, the desired catalogue, the mode (apply or plan) and what it has
observed so far (read once per run, refreshed after writes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from maas_helpers.admin_client import AdminClient
from maas_helpers.catalogue import Catalogue, Product
from maas_helpers.results import Change, StepResult

if TYPE_CHECKING:
    from maas_helpers.platform.base import Platform

PLANNED = {Change.CREATED: Change.PLANNED_CREATE, Change.UPDATED: Change.PLANNED_UPDATE,
           Change.DELETED: Change.PLANNED_DELETE}


def entity(obj: Any) -> dict[str, Any]:
    """The plain dict of a `threescale_api` resource (or a dict already)."""
    return dict(obj.entity) if hasattr(obj, "entity") else dict(obj)


def with_default_port(url: str) -> str:
    """3scale stores backend private endpoints with an explicit port (`:80` / `:443`); compare like that."""
    parsed = urlparse(url)
    if parsed.port is not None or parsed.scheme not in ("http", "https"):
        return url
    port = 443 if parsed.scheme == "https" else 80
    return parsed._replace(netloc=f"{parsed.netloc}:{port}").geturl()


@dataclass
class Context:
    client: AdminClient
    catalogue: Catalogue
    plan_only: bool = False
    platform: Platform | None = None
    state_dir: Any = None  # Path where generated secrets are kept (sandbox / local runs)
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def ts(self) -> Any:
        return self.client.threescale

    # --- links -----------------------------------------------------------------------------------------
    def link(self, path: str) -> str:
        return f"{self.client.admin_url}{path}"

    def product_link(self, service_id: Any, tail: str = "") -> str | None:
        return self.link(f"/apiconfig/services/{service_id}{tail}") if service_id else None

    # --- recording -------------------------------------------------------------------------------------
    def record(self, result: StepResult, kind: str, name: str, change: Change, detail: str = "",
               link: str | None = None) -> None:
        if self.plan_only:
            change = PLANNED.get(change, change)
        result.add(kind, name, change, detail, link)

    def write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call a writing function unless planning (then return None)."""
        return None if self.plan_only else fn(*args, **kwargs)

    def cached(self, key: str, load: Callable[[], Any]) -> Any:
        if key not in self.cache:
            self.cache[key] = load()
        return self.cache[key]

    def forget(self, *prefixes: str) -> None:
        for key in [k for k in self.cache if k.startswith(prefixes)]:
            del self.cache[key]

    # --- shared observations ---------------------------------------------------------------------------
    def services(self) -> dict[str, Any]:
        """Products by system name (threescale_api Service resources)."""
        return self.cached("services", lambda: {s["system_name"]: s for s in self.ts.services.list()})

    def service(self, product: Product) -> Any | None:
        return self.services().get(product.system_name)

    def backends(self) -> dict[str, Any]:
        return self.cached("backends", lambda: {b["system_name"]: b for b in self.ts.backends.list()})

    def metrics(self, service: Any) -> list[Any]:
        """Metrics and methods of a product (3scale lists both; methods have a parent_id)."""
        return self.cached(f"metrics:{service['id']}", lambda: list(service.metrics.list()))

    def proxy(self, service: Any) -> Any:
        from threescale_api.resources import Proxy

        def load() -> Any:
            client = service.proxy
            return Proxy(client=client, entity=client.fetch())

        return self.cached(f"proxy:{service['id']}", load)

    def mapping_rules(self, service: Any) -> list[Any]:
        return self.cached(f"rules:{service['id']}", lambda: list(self.proxy(service).mapping_rules.list()))

    def app_plans(self, service: Any) -> dict[str, Any]:
        return self.cached(f"plans:{service['id']}",
                           lambda: {p["system_name"]: p for p in service.app_plans.list()})


def diff(existing: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """The desired fields whose observed value differs."""
    return {k: v for k, v in desired.items() if existing.get(k) != v}


def describe(existing: dict[str, Any], changes: dict[str, Any]) -> str:
    parts = []
    for key, new in changes.items():
        old, shown = existing.get(key), new
        if isinstance(new, str | int | float | bool) or new is None:
            parts.append(f"{key}: {old!r} → {shown!r}")
        else:
            parts.append(f"{key} changed")
    return "; ".join(parts)
