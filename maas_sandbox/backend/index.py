"""The backend's view of configuration, rebuilt from the store when `store.generation` changes.

Like apisonator, which porta keeps in sync, it knows applications by key, plan limits and the metric
tree of each product. A backend API's `hits.<id>` rolls up into the product's `hits` (one tree per
product, as porta syncs it), and methods roll up into their parent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from maas_sandbox.backend.periods import PERIODS
from maas_sandbox.store import Store

PERIOD_INDEX = {name: i for i, name in enumerate(PERIODS)}


@dataclass(frozen=True, slots=True)
class App:
    id: int
    service_id: int
    plan_id: int | None
    state: str
    account_id: int | None


@dataclass(slots=True)
class ServiceMetrics:
    """Metric system name → (metric id, then its ancestors' ids) for one product."""

    chains: dict[str, tuple[int, ...]] = field(default_factory=dict)
    ids: set[int] = field(default_factory=set)


@dataclass(slots=True)
class BackendIndex:
    generation: int = -1
    apps_by_key: dict[tuple[int, str], App] = field(default_factory=dict)
    apps: dict[int, App] = field(default_factory=dict)
    # plan id → metric id → [(period index, value)]
    limits: dict[int, dict[int, list[tuple[int, int]]]] = field(default_factory=dict)
    services: dict[int, ServiceMetrics] = field(default_factory=dict)
    metrics: dict[int, dict[str, Any]] = field(default_factory=dict)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def build_index(store: Store) -> BackendIndex:
    index = BackendIndex(generation=store.generation)
    metrics = {m["id"]: m for m in store.list("metric")}
    index.metrics = metrics
    usages: dict[int, list[int]] = {}
    for usage in store.list("backend_usage"):
        sid, bid = _int(usage.get("service_id")), _int(usage.get("backend_id"))
        if sid is not None and bid is not None:
            usages.setdefault(sid, []).append(bid)
    by_owner: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for metric in metrics.values():
        owner = _int(metric.get("owner_id"))
        if owner is not None:
            by_owner.setdefault((str(metric.get("owner_type")), owner), []).append(metric)

    for service in store.list("service"):
        sid = service["id"]
        own = by_owner.get(("service", sid), [])
        hits = next((m["id"] for m in own if m.get("system_name") == "hits"), None)
        parents: dict[int, int | None] = {m["id"]: _int(m.get("parent_id")) for m in own}
        candidates = list(own)
        for bid in usages.get(sid, []):
            for metric in by_owner.get(("backend_api", bid), []):
                candidates.append(metric)
                parent = _int(metric.get("parent_id"))
                if parent is None and str(metric.get("system_name", "")).startswith("hits."):
                    parent = hits
                parents[metric["id"]] = parent
        sm = ServiceMetrics()
        for metric in candidates:
            chain = [metric["id"]]
            parent = parents.get(metric["id"])
            while parent is not None and parent not in chain and len(chain) < 8:
                chain.append(parent)
                parent = parents.get(parent)
            sm.chains[str(metric.get("system_name"))] = tuple(chain)
            sm.ids.add(metric["id"])
        index.services[sid] = sm

    for limit in store.list("limit"):
        plan, metric, period = _int(limit.get("plan_id")), _int(limit.get("metric_id")), limit.get("period")
        value = _int(limit.get("value"))
        if plan is None or metric is None or value is None or period not in PERIOD_INDEX:
            continue
        index.limits.setdefault(plan, {}).setdefault(metric, []).append((PERIOD_INDEX[period], value))

    for app in store.list("application"):
        sid = _int(app.get("service_id"))
        if sid is None:
            continue
        entry = App(
            id=app["id"],
            service_id=sid,
            plan_id=_int(app.get("plan_id")),
            state=str(app.get("state", "live")),
            account_id=_int(app.get("account_id")),
        )
        index.apps[entry.id] = entry
        key = app.get("user_key")
        if isinstance(key, str) and key:
            index.apps_by_key[(sid, key)] = entry
    return index
