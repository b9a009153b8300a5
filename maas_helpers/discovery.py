"""Which models OpenShift AI serves: KServe objects read into rows a person can choose from (notebook 0).

Pure parsing first (`rows_from_objects`), then the few cluster reads (`discover_cluster`, through
`maas_helpers.kube.Kube`), then the optional check of what each runtime really serves (`verify_served_names`).
The shapes follow OpenDataHub's KServe (the one OpenShift AI ships):

- `InferenceService` (serving.kserve.io/v1beta1): `status.address.url` is the in-cluster URL the gateway must use.
  Standard (formerly RawDeployment) sets it to the predictor Service, `http://<isvc>-predictor.<ns>.svc.cluster.local`
  (`kube_ingress_reconciler.go` `createAddress`; `:8080` when the Service is headless; https on :8443 with the auth
  proxy); Knative (formerly Serverless) sets `https://<isvc>.<ns>.svc.cluster.local` (`ingress_reconciler.go`).
  The mode comes from the `serving.kserve.io/deploymentMode` annotation or `status.deploymentMode`; the legacy names
  map to the new ones as `constants.ParseDeploymentMode` does. Predictor pods carry
  `serving.kserve.io/inferenceservice=<isvc>` and `component=predictor` (`components/predictor.go`).
- `LLMInferenceService` (v1alpha1 / v1alpha2): `status.addresses[].url` (without a router: the workload Service
  `<name>-kserve-workload-svc`, `router.go` `updateRoutingStatus`), `status.url` as a last resort. The served name
  is `spec.model.name`, defaulted to the object's name (`llm_inference_service_defaults.go`); workload pods carry
  `app.kubernetes.io/name=<name>`, `app.kubernetes.io/part-of=llminferenceservice` (`workload_single_node.go`).
- The vLLM ServingRuntime passes `--served-model-name={{.Name}}` (`config/runtimes/kserve-vllmserver.yaml`); the
  InferenceService's `predictor.model.args` come after the runtime's, and vLLM keeps the last value given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from maas_helpers.errors import MaasError

ISVC_API = "serving.kserve.io/v1beta1"
LLMISVC_APIS = ("serving.kserve.io/v1alpha2", "serving.kserve.io/v1alpha1")  # newest first: one row per object
RUNTIME_API = "serving.kserve.io/v1alpha1"
MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
LEGACY_MODES = {"RawDeployment": "Standard", "Serverless": "Knative"}
ISVC_POD_LABEL = "serving.kserve.io/inferenceservice"
LLM_PART_OF = "llminferenceservice"
_SYSTEM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TEMPLATE = re.compile(r"\{\{\s*\.(?:ObjectMeta\.)?Name\s*\}\}")
_TEMPLATE_NS = re.compile(r"\{\{\s*\.(?:ObjectMeta\.)?Namespace\s*\}\}")
_EMBEDDING_HINTS = ("embed", "e5-", "bge-", "minilm", "gte-")


@dataclass(frozen=True)
class ModelRow:
    """One model OpenShift AI (or the sandbox) serves, as notebook 0 lists it."""

    namespace: str
    name: str
    kind: str  # InferenceService | LLMInferenceService | sandbox
    runtime: str  # e.g. "vllm-runtime (vLLM)", "llm-d", "sandbox model server"
    mode: str  # Standard | Knative | … ("Standard (was RawDeployment)" for a deprecated name)
    ready: bool
    reason: str  # why not ready ("" when ready)
    url: str | None  # the in-cluster URL the gateway must use
    served_name: str  # what clients pass as `model`
    verified: bool  # served_name read from the runtime's /v1/models
    system_name: str  # a valid 3scale system name (= served_name when that is one)
    model_kind: str = "chat"  # chat | completion | embedding (a guess from the name; editable in the form)
    pod_selector: Mapping[str, str] = field(default_factory=dict)  # the pods a NetworkPolicy must select
    source: str = ""  # "InferenceService llm/granite": where it came from, kept in the catalogue
    description: str = ""

    @property
    def served_note(self) -> str:
        return self.served_name if self.verified else f"{self.served_name} (unverified)"

    @property
    def mapped(self) -> bool:
        """True when the served name is not a valid 3scale system name and was mapped."""
        return self.system_name != self.served_name

    def endpoint(self) -> dict[str, str]:
        """What notebook 0 saves for this row (config.ModelEndpoint fields)."""
        out = {"name": self.system_name, "url": self.url or "", "kind": self.model_kind, "source": self.source}
        if self.description:
            out["description"] = self.description
        if self.mapped:
            out["served_name"] = self.served_name
        return out


@dataclass
class Discovery:
    """Rows found, and the namespaces (or kinds) that could not be read — reported, not fatal."""

    rows: list[ModelRow] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "namespace llm: cannot list InferenceServices (403)"

    def table(self) -> list[dict[str, Any]]:
        return [
            {"namespace": r.namespace, "name": r.name, "kind": r.kind, "runtime": r.runtime, "mode": r.mode,
             "ready": "yes" if r.ready else f"no: {r.reason}", "url": r.url or "—", "model": r.served_note,
             "system name": r.system_name + (" (mapped)" if r.mapped else "")}
            for r in self.rows
        ]


# --- names ------------------------------------------------------------------------------------------------

def system_name_for(served: str) -> str:
    """A valid 3scale system name (letters, digits, `.`, `_`, `-`; starts alphanumeric; ≤ 100) for a served name:
    the name itself when valid, else other characters become `-` (`publishers/ns/models/x` →
    `publishers-ns-models-x`)."""
    if _SYSTEM_NAME.fullmatch(served) and len(served) <= 100:
        return served
    mapped = re.sub(r"[^A-Za-z0-9._-]+", "-", served).strip("-._")[:100].rstrip("-._")
    return mapped or "model"


def guess_kind(served: str) -> str:
    lowered = served.lower()
    return "embedding" if any(h in lowered for h in _EMBEDDING_HINTS) else "chat"


def normalise_mode(raw: str | None) -> str:
    """KServe's ParseDeploymentMode: empty → Standard (the default); the legacy names map to the new ones,
    and the row says which name the object used."""
    if not raw:
        return "Standard"
    if raw in LEGACY_MODES:
        return f"{LEGACY_MODES[raw]} (was {raw})"
    return raw


def served_name_from_args(args: Sequence[str], isvc_name: str, namespace: str) -> str | None:
    """The last `--served-model-name` in vLLM arguments (`=value` or the next argument(s)), with the runtime
    template's `{{.Name}}` / `{{.Namespace}}` filled; None when no argument names it."""
    found: str | None = None
    items = [str(a) for a in args]
    for i, arg in enumerate(items):
        if arg.startswith("--served-model-name="):
            found = arg.split("=", 1)[1]
        elif arg == "--served-model-name" and i + 1 < len(items):
            found = items[i + 1]
    if found is None:
        return None
    filled = _TEMPLATE_NS.sub(namespace, _TEMPLATE.sub(isvc_name, found))
    parts = filled.split()
    return (parts[0] if parts else filled).strip("\"'")  # several names: the first is the canonical one


def _model_path(args: Sequence[str]) -> str | None:
    for i, arg in enumerate(args):
        if str(arg).startswith("--model="):
            return str(arg).split("=", 1)[1]
        if arg == "--model" and i + 1 < len(args):
            return str(args[i + 1])
    return None


# --- status -----------------------------------------------------------------------------------------------

def _ready(obj: Mapping[str, Any]) -> tuple[bool, str]:
    """(Ready, why not) from the knative-style `Ready` condition every KServe object reports."""
    status = obj.get("status") or {}
    conditions = status.get("conditions") or []
    if not conditions:
        return False, "no status yet (the controller has not reconciled it)"
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    if ready is not None and str(ready.get("status")) == "True":
        return True, ""
    failing = [c for c in conditions if str(c.get("status")) == "False"]
    first = ready if ready is not None and (ready.get("reason") or ready.get("message")) else None
    first = first or (failing[0] if failing else ready)
    if first is None:
        return False, "no Ready condition yet"
    why = first.get("message") or first.get("reason") or f"{first.get('type')}={first.get('status')}"
    label = first.get("type") if first is not ready else "Ready"
    return False, f"{label}: {' '.join(str(why).split())[:200]}"


def _isvc_url(obj: Mapping[str, Any], mode: str) -> str | None:
    status = obj.get("status") or {}
    url = (status.get("address") or {}).get("url")
    if url:
        return str(url)
    predictor = ((status.get("components") or {}).get("predictor") or {})
    url = (predictor.get("address") or {}).get("url")
    if url:
        return str(url)
    meta = obj.get("metadata") or {}
    if mode.startswith("Standard"):  # the predictor Service KServe creates (port 80 → the container's 8080)
        name = (((obj.get("spec") or {}).get("predictor") or {}).get("name")) or ""
        service = f"{meta.get('name')}-{name}-predictor" if name else f"{meta.get('name')}-predictor"
        return f"http://{service}.{meta.get('namespace')}.svc.cluster.local"
    return None


def _llm_url(obj: Mapping[str, Any]) -> str | None:
    status = obj.get("status") or {}
    urls = [str(a.get("url")) for a in status.get("addresses") or [] if a.get("url")]
    internal = [u for u in urls if ".svc.cluster.local" in u or ".svc" in u.split("//", 1)[-1].split("/", 1)[0]]
    if internal:
        return internal[0]
    if urls:
        return urls[0]
    for key in ("address",):
        url = (status.get(key) or {}).get("url")
        if url:
            return str(url)
    return str(status["url"]) if status.get("url") else None


# --- rows -------------------------------------------------------------------------------------------------

RuntimeLookup = Callable[[str, str], Mapping[str, Any] | None]  # (namespace, runtime name) → runtime object


def isvc_row(obj: Mapping[str, Any], runtime_of: RuntimeLookup | None = None) -> ModelRow:
    meta = obj.get("metadata") or {}
    name, ns = str(meta.get("name")), str(meta.get("namespace"))
    status = obj.get("status") or {}
    raw_mode = (meta.get("annotations") or {}).get(MODE_ANNOTATION) or status.get("deploymentMode")
    mode = normalise_mode(raw_mode)
    model = (((obj.get("spec") or {}).get("predictor") or {}).get("model") or {})
    runtime_name = status.get("servingRuntimeName") or status.get("clusterServingRuntimeName") or model.get("runtime")
    fmt = (model.get("modelFormat") or {}).get("name") or ""
    runtime = runtime_of(ns, str(runtime_name)) if runtime_of and runtime_name else None
    args: list[str] = []
    if runtime:
        containers = ((runtime.get("spec") or {}).get("containers") or [])
        if containers:
            args = [str(a) for a in (containers[0].get("args") or [])]
    args += [str(a) for a in model.get("args") or []]
    served = served_name_from_args(args, name, ns)
    if served is None:
        # no --served-model-name: vLLM answers to its --model path; without the runtime's arguments, KServe's
        # vLLM runtime's default ({{.Name}}) is the best guess
        served = (_model_path(args) if runtime else None) or name
    ready, reason = _ready(obj)
    label = f"{runtime_name} ({fmt})" if runtime_name and fmt else str(runtime_name or fmt or "unknown runtime")
    return ModelRow(
        namespace=ns, name=name, kind="InferenceService", runtime=label, mode=mode, ready=ready, reason=reason,
        url=_isvc_url(obj, mode), served_name=served, verified=False, system_name=system_name_for(served),
        model_kind=guess_kind(served), pod_selector={ISVC_POD_LABEL: name, "component": "predictor"},
        source=f"InferenceService {ns}/{name}",
    )


def llmisvc_row(obj: Mapping[str, Any]) -> ModelRow:
    meta = obj.get("metadata") or {}
    name, ns = str(meta.get("name")), str(meta.get("namespace"))
    spec = obj.get("spec") or {}
    served = str((spec.get("model") or {}).get("name") or name)
    ready, reason = _ready(obj)
    version = str(obj.get("apiVersion", "")).rsplit("/", 1)[-1]
    router = "with router" if spec.get("router") else "no router"
    return ModelRow(
        namespace=ns, name=name, kind="LLMInferenceService", runtime=f"llm-d / vLLM ({version}, {router})",
        mode="llm-d", ready=ready, reason=reason, url=_llm_url(obj), served_name=served, verified=False,
        system_name=system_name_for(served), model_kind=guess_kind(served),
        pod_selector={"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": LLM_PART_OF},
        source=f"LLMInferenceService {ns}/{name}",
    )


def rows_from_objects(isvcs: Iterable[Mapping[str, Any]], llmisvcs: Iterable[Mapping[str, Any]] = (),
                      runtime_of: RuntimeLookup | None = None) -> list[ModelRow]:
    """Rows for KServe objects as the API server returns them, sorted by namespace and name."""
    rows = [isvc_row(o, runtime_of) for o in isvcs]
    seen: set[tuple[str, str]] = set()
    for obj in llmisvcs:  # the same object may be listed under both served versions
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace")), str(meta.get("name")))
        if key not in seen:
            seen.add(key)
            rows.append(llmisvc_row(obj))
    return sorted(rows, key=lambda r: (r.namespace, r.name, r.kind))


# --- the cluster ------------------------------------------------------------------------------------------

def _list(kube: Any, api: str, kind: str, namespaces: Sequence[str] | None,
          unreadable: list[str]) -> list[dict[str, Any]]:
    """Cluster-wide when allowed, else namespace by namespace; a 403 is noted, not raised."""
    if namespaces is None:
        try:
            return list(kube.list(api, kind))
        except MaasError as exc:
            if exc.status != 403:
                raise
            namespaces = _visible_namespaces(kube, unreadable)
    out: list[dict[str, Any]] = []
    for ns in namespaces:
        try:
            out += kube.list(api, kind, ns)
        except MaasError as exc:
            if exc.status != 403:
                raise
            unreadable.append(f"namespace {ns}: may not list {kind}s (403)")
    return out


def _visible_namespaces(kube: Any, unreadable: list[str]) -> list[str]:
    """The projects this user sees (OpenShift lists only those), else the namespaces."""
    for api, kind in (("project.openshift.io/v1", "Project"), ("v1", "Namespace")):
        try:
            return sorted(str(o["metadata"]["name"]) for o in kube.list(api, kind))
        except MaasError as exc:
            if exc.status != 403:
                raise
    unreadable.append("cannot list projects or namespaces: pass namespaces=[...] to discover()")
    return []


def discover_cluster(kube: Any, namespaces: Sequence[str] | None = None) -> Discovery:
    """InferenceServices and LLMInferenceServices the user may list (all namespaces, or `namespaces`)."""
    found = Discovery()
    isvcs = _list(kube, ISVC_API, "InferenceService", namespaces, found.unreadable)
    llm: list[dict[str, Any]] = []
    for api in LLMISVC_APIS:
        llm += _list(kube, api, "LLMInferenceService", namespaces, found.unreadable)
    runtimes: dict[tuple[str, str], Mapping[str, Any] | None] = {}

    def runtime_of(ns: str, name: str) -> Mapping[str, Any] | None:
        if (ns, name) not in runtimes:
            obj = None
            try:
                obj = kube.get(RUNTIME_API, "ServingRuntime", name, ns) or kube.get(
                    RUNTIME_API, "ClusterServingRuntime", name)
            except MaasError as exc:
                if exc.status != 403:
                    raise
                found.unreadable.append(f"namespace {ns}: may not read ServingRuntime {name} (403)")
            runtimes[(ns, name)] = obj
        return runtimes[(ns, name)]

    found.rows = rows_from_objects(isvcs, llm, runtime_of)
    found.unreadable = list(dict.fromkeys(found.unreadable))
    return found


# --- what the runtime really serves -----------------------------------------------------------------------

ModelsFetch = Callable[[str], list[str] | None]  # base URL → ids from GET /v1/models, None when unreachable


def verify_served_names(rows: Sequence[ModelRow], fetch: ModelsFetch, workers: int = 8) -> list[ModelRow]:
    """Ask each reachable runtime which models it serves (`GET /v1/models`), side by side; a row whose runtime
    answers gets the name it really serves (its derived one when listed, else the first) marked verified."""
    def check(row: ModelRow) -> ModelRow:
        if not row.url:
            return row
        ids = fetch(row.url)
        if not ids:
            return row
        served = row.served_name if row.served_name in ids else ids[0]
        return replace(row, served_name=served, verified=True, system_name=system_name_for(served),
                       model_kind=row.model_kind if served == row.served_name else guess_kind(served))

    if not rows:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(rows)))) as pool:
        return list(pool.map(check, rows))


def http_models_fetch(verify: bool | str = True, timeout: float = 3.0, headers: Mapping[str, str] | None = None,
                      max_bytes: int = 1_000_000, path: str = "/v1/models") -> ModelsFetch:
    """`GET <url><path>` (the model list), short timeout, bounded body; None: unreachable or not OpenAI-shaped."""
    import requests

    def fetch(url: str) -> list[str] | None:
        try:
            with requests.get(f"{url.rstrip('/')}{path}", timeout=timeout, verify=verify,
                              headers=dict(headers or {}), stream=True) as resp:
                if resp.status_code != 200:
                    return None
                body = resp.raw.read(max_bytes + 1, decode_content=True)
            if len(body) > max_bytes:
                return None
            import json

            data = json.loads(body)
            return [str(m["id"]) for m in data.get("data") or [] if isinstance(m, dict) and m.get("id")]
        except (requests.RequestException, ValueError, KeyError, TypeError, AttributeError):
            return None

    return fetch
