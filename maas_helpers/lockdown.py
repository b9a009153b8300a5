"""Only the gateway reaches a model: one NetworkPolicy per served model, rendered and validated here.

On a cluster the predictor Service answers any pod; the policy admits traffic to the model's pods only from the
3scale namespace's APIcast pods (the operator labels them `threescale_component: apicast`, staging and production:
3scale-operator `pkg/3scale/amp/operator/apicast_options_provider.go`), plus what OpenShift AI itself needs:

- user-workload monitoring (Prometheus in `openshift-user-workload-monitoring` scrapes the runtime's `/metrics`;
  KServe's vLLM runtime annotates `prometheus.kserve.io/port: "8080"`, `config/runtimes/kserve-vllmserver.yaml`);
- Knative mode: requests reach the pods through Knative's activator and the mesh's local gateway
  (`knative-serving/knative-local-gateway`, opendatahub-io/kserve `pkg/constants/constants.go`), so those
  namespaces are admitted too — they forward any caller, so the lock holds fully only in Standard mode (said so);
- LLMInferenceService: the scheduler and the other workload pods of the same service (`app.kubernetes.io/part-of:
  llminferenceservice`, `workload_single_node.go`) and, with a router, the Gateway in `openshift-ingress`.

Pod selectors come from the discovery rows (`ModelRow.pod_selector`). Objects are checked against Kubernetes'
networking/v1 schema as the kubernetes client's models describe it (generated from the Kubernetes OpenAPI spec:
`crdcheck.model_schema("V1NetworkPolicy")`), unknown fields refused as server-side apply does.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import yaml

from maas_helpers import crdcheck
from maas_helpers.discovery import ModelRow
from maas_helpers.errors import MaasError
from maas_helpers.ownership import cluster_labels

API_VERSION = "networking.k8s.io/v1"
KIND = "NetworkPolicy"
NAME_PREFIX = "maas-gateway-only-"
APICAST_POD_LABELS = {"threescale_component": "apicast"}
NS_NAME_LABEL = "kubernetes.io/metadata.name"  # set on every namespace by the API server (Kubernetes ≥ 1.22)
MONITORING_NAMESPACE = "openshift-user-workload-monitoring"
KNATIVE_NAMESPACES = ("knative-serving", "istio-system")
GATEWAY_NAMESPACE = "openshift-ingress"


def kit_instance(settings: Any) -> str:
    """The ownership instance value of the kit's cluster objects: the same one the platform labels its objects
    with (`Settings.cluster_instance`, issue 23)."""
    return str(settings.cluster_instance)


def policy_name(row: ModelRow) -> str:
    return (NAME_PREFIX + row.name)[:253].rstrip("-.")


def _namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {NS_NAME_LABEL: name}}}


def network_policy(row: ModelRow, gateway_namespace: str, instance: str) -> dict[str, Any]:
    """The NetworkPolicy that lets only APIcast (and what OpenShift AI needs) reach the model's pods."""
    if not row.pod_selector:
        raise MaasError(f"model {row.name}: no pods known to select; lock its namespace by hand")
    peers: list[dict[str, Any]] = [
        {**_namespace(gateway_namespace), "podSelector": {"matchLabels": dict(APICAST_POD_LABELS)}},
        _namespace(MONITORING_NAMESPACE),
    ]
    if row.mode.startswith("Knative"):
        peers += [_namespace(ns) for ns in KNATIVE_NAMESPACES]
    if row.kind == "LLMInferenceService":
        peers.append({"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "llminferenceservice"}}})
        if "with router" in row.runtime:
            peers.append(_namespace(GATEWAY_NAMESPACE))
    obj = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": policy_name(row),
            "namespace": row.namespace,
            "labels": cluster_labels(instance),
            "annotations": {"maas.3scale.net/model": row.source or f"{row.kind} {row.namespace}/{row.name}"},
        },
        "spec": {
            "podSelector": {"matchLabels": dict(row.pod_selector)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": peers}],
        },
    }
    validate(obj)
    return obj


@cache
def _schema() -> dict[str, Any]:
    return crdcheck.model_schema("V1NetworkPolicy")


def validate(obj: Mapping[str, Any]) -> None:
    """Raise a one-line MaasError when `obj` is not a valid networking/v1 NetworkPolicy (or a field would be
    dropped)."""
    schema = _schema()
    problems = crdcheck.schema_errors(dict(obj), schema) + [
        f"unknown field {p}" for p in crdcheck.pruned_fields(dict(obj), schema)]
    if (obj.get("apiVersion"), obj.get("kind")) != (API_VERSION, KIND):
        problems.append(f"expected {API_VERSION} {KIND}")
    if problems:
        name = (obj.get("metadata") or {}).get("name")
        raise MaasError(f"NetworkPolicy {name}: {problems[0]}" + (f" (and {len(problems) - 1} more)"
                                                                   if len(problems) > 1 else ""))


def selects(policy: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """Whether the policy's `podSelector.matchLabels` selects `pod` (same namespace)."""
    meta = policy.get("metadata") or {}
    pod_meta = pod.get("metadata") or {}
    if meta.get("namespace") != pod_meta.get("namespace"):
        return False
    want = ((policy.get("spec") or {}).get("podSelector") or {}).get("matchLabels") or {}
    labels = pod_meta.get("labels") or {}
    return all(labels.get(k) == v for k, v in want.items())


def label_selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def to_yaml(objs: list[dict[str, Any]]) -> str:
    """What `maas models lockdown --print` prints: the objects an admin applies (`oc apply -f -`)."""
    return "".join("---\n" + yaml.safe_dump(o, sort_keys=False) for o in objs)
