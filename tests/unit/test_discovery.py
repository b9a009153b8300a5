"""Model discovery at the `kubernetes` boundary: KServe objects valid against the shared CRDs → rows.

Every object below is checked against the CRDs OpenShift AI ships (../shared/reference/data/crds/
serving.kserve.io_*.yaml, opendatahub-io/kserve config/crd/full) before it is handed to discovery, and the status
shapes follow opendatahub-io/kserve: `createAddress` (reconcilers/ingress/kube_ingress_reconciler.go) for Standard,
`ingress_reconciler.go` for Knative, `constants.ParseDeploymentMode` for the deprecated mode names,
`router.go` `updateRoutingStatus` for LLMInferenceService addresses, `config/runtimes/kserve-vllmserver.yaml` for
the vLLM arguments. The fake answers like the API server does: a 403 for a namespace the user may not list.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from maas_helpers import crdcheck
from maas_helpers.discovery import (
    ModelRow,
    discover_cluster,
    rows_from_objects,
    served_name_from_args,
    system_name_for,
    verify_served_names,
)
from maas_helpers.errors import MaasError

CRDS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "data" / "crds"
if not CRDS.is_dir():
    CRDS = Path("/work/shared/reference/data/crds")
pytestmark = pytest.mark.skipif(not (CRDS / "SOURCES.txt").exists(), reason="shared/reference CRDs not present")

READY = [{"type": "IngressReady", "status": "True"}, {"type": "PredictorReady", "status": "True"},
         {"type": "Ready", "status": "True"}]


@pytest.fixture(scope="module")
def schemas() -> dict[tuple[str, str], Any]:
    return crdcheck.load_crd_schemas(CRDS, "serving.kserve.io_*.yaml")


def valid(obj: dict[str, Any], schemas: dict[tuple[str, str], Any]) -> dict[str, Any]:
    schema = schemas[(obj["apiVersion"], obj["kind"])]
    problems = crdcheck.schema_errors(obj, schema) + [f"pruned: {p}" for p in crdcheck.pruned_fields(obj, schema)]
    assert problems == [], f"{obj['kind']} {obj['metadata']['name']} does not match the CRD: {problems}"
    return obj


def isvc(name: str, ns: str = "llm", mode: str | None = "Standard", status: dict[str, Any] | None = None,
         runtime: str = "vllm-runtime", args: list[str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if mode is not None:
        meta["annotations"] = {"serving.kserve.io/deploymentMode": mode}
    model: dict[str, Any] = {"modelFormat": {"name": "vLLM"}, "runtime": runtime,
                             "storageUri": "oci://quay.io/models/granite:1.0"}
    if args:
        model["args"] = args
    obj = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": meta,
           "spec": {"predictor": {"model": model}}}
    if status is not None:
        obj["status"] = status
    return obj


def raw_status(name: str, ns: str = "llm", **extra: Any) -> dict[str, Any]:
    """What OpenDataHub's KServe writes for a Standard (raw) InferenceService: the predictor Service address."""
    return {"address": {"url": f"http://{name}-predictor.{ns}.svc.cluster.local"},
            "url": f"https://{name}-{ns}.apps.example.com", "conditions": READY, "deploymentMode": "RawDeployment",
            "servingRuntimeName": "vllm-runtime", "observedGeneration": 1, **extra}


def runtime(name: str = "vllm-runtime", ns: str = "llm", args: list[str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"supportedModelFormats": [{"name": "vLLM", "autoSelect": True}],
                     "containers": [{"name": "kserve-container", "image": "quay.io/vllm/vllm-openai:v0.9",
                                     "args": args if args is not None else
                                     ["--port=8080", "--model=/mnt/models", "--served-model-name={{.Name}}"]}]}}


def llmisvc(name: str, version: str, ns: str = "llm", model_name: str | None = None,
            status: dict[str, Any] | None = None, router: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"model": {"uri": "hf://ibm-granite/granite-3.3-8b-instruct"}}
    if model_name:
        spec["model"]["name"] = model_name
    if router:
        spec["router"] = {"route": {}, "gateway": {}, "scheduler": {}}
    obj = {"apiVersion": f"serving.kserve.io/{version}", "kind": "LLMInferenceService",
           "metadata": {"name": name, "namespace": ns}, "spec": spec}
    if status is not None:
        obj["status"] = status
    return obj


class FakeKube:
    """The list/get part of maas_helpers.kube.Kube over stored objects; `forbidden` namespaces answer 403 as the
    API server does (and a cluster-wide list is refused unless `cluster_wide`)."""

    def __init__(self, objects: list[dict[str, Any]], forbidden: set[str] = frozenset(),
                 cluster_wide: bool = True) -> None:
        self.objects = [copy.deepcopy(o) for o in objects]
        self.forbidden, self.cluster_wide = set(forbidden), cluster_wide
        self.calls: list[tuple[str, str, str | None]] = []

    def _deny(self, kind: str, ns: str | None) -> None:
        if (ns is None and not self.cluster_wide) or ns in self.forbidden:
            raise MaasError(f"cannot list {kind} in {ns} (403 Forbidden)", status=403)

    def list(self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None):
        self.calls.append((kind, api_version, namespace))
        if kind == "Project":
            return [{"metadata": {"name": n}} for n in sorted({o["metadata"].get("namespace") for o in self.objects
                                                               if o["metadata"].get("namespace")} | self.forbidden)]
        self._deny(kind, namespace)
        return [copy.deepcopy(o) for o in self.objects if o["apiVersion"] == api_version and o["kind"] == kind
                and (namespace is None or o["metadata"].get("namespace") == namespace)]

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None):
        if namespace in self.forbidden:
            raise MaasError("forbidden", status=403)
        return next((copy.deepcopy(o) for o in self.objects if o["apiVersion"] == api_version and o["kind"] == kind
                     and o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace), None)


def by_name(rows: list[ModelRow]) -> dict[str, ModelRow]:
    return {r.name: r for r in rows}


# --- InferenceService ------------------------------------------------------------------------------------


def test_ready_standard_isvc_gives_the_predictor_url_and_the_runtime_served_name(schemas) -> None:
    objs = [valid(isvc("granite", status=raw_status("granite")), schemas), valid(runtime(), schemas)]
    found = discover_cluster(FakeKube(objs))
    assert found.unreadable == []
    (row,) = found.rows
    assert (row.namespace, row.name, row.kind) == ("llm", "granite", "InferenceService")
    assert (row.ready, row.reason) == (True, "")
    assert row.url == "http://granite-predictor.llm.svc.cluster.local"
    assert row.mode == "Standard"
    assert (row.served_name, row.verified, row.served_note) == ("granite", False, "granite (unverified)")
    assert row.runtime == "vllm-runtime (vLLM)"
    assert row.pod_selector == {"serving.kserve.io/inferenceservice": "granite", "component": "predictor"}
    assert row.source == "InferenceService llm/granite"


@pytest.mark.parametrize(("annotation", "status_mode", "expected"), [
    ("Standard", "Standard", "Standard"),
    ("RawDeployment", "RawDeployment", "Standard (was RawDeployment)"),
    ("Knative", "Knative", "Knative"),
    ("Serverless", "Serverless", "Knative (was Serverless)"),
    (None, None, "Standard"),  # no annotation: KServe's default mode
])
def test_each_deployment_mode_and_its_deprecated_name(schemas, annotation, status_mode, expected) -> None:
    knative = expected.startswith("Knative")
    status = raw_status("m")
    if knative:  # ingress_reconciler.go: https://<isvc>.<ns>.svc.cluster.local through the mesh
        status["address"] = {"url": "https://m.llm.svc.cluster.local"}
    if status_mode is None:
        status.pop("deploymentMode")
    else:
        status["deploymentMode"] = status_mode
    (row,) = rows_from_objects([valid(isvc("m", mode=annotation, status=status), schemas)])
    assert row.mode == expected and row.ready
    assert row.url == ("https://m.llm.svc.cluster.local" if knative else "http://m-predictor.llm.svc.cluster.local")


def test_not_ready_isvc_says_why(schemas) -> None:
    status = raw_status("broken")
    status["conditions"] = [
        {"type": "PredictorReady", "status": "False", "reason": "MinimumReplicasUnavailable",
         "message": "Deployment does not have minimum availability."},
        {"type": "Ready", "status": "False", "reason": "MinimumReplicasUnavailable",
         "message": "Deployment does not have minimum availability."},
    ]
    (row,) = rows_from_objects([valid(isvc("broken", status=status), schemas)])
    assert not row.ready
    assert row.reason == "Ready: Deployment does not have minimum availability."


def test_isvc_without_status_is_listed_not_ready_with_the_service_kserve_will_create(schemas) -> None:
    (row,) = rows_from_objects([valid(isvc("fresh", mode="RawDeployment"), schemas)])
    assert not row.ready and "no status yet" in row.reason
    assert row.url == "http://fresh-predictor.llm.svc.cluster.local"
    (knative,) = rows_from_objects([valid(isvc("kn", mode="Serverless"), schemas)])
    assert knative.url is None  # Knative's address exists only once the route is ready


def test_served_name_from_runtime_and_isvc_args_last_one_wins(schemas) -> None:
    objs = [valid(runtime(), schemas),
            valid(isvc("g", status=raw_status("g"), args=["--served-model-name", "granite-3.3-8b"]), schemas)]
    (row,) = discover_cluster(FakeKube(objs)).rows
    assert row.served_name == "granite-3.3-8b" and not row.verified


def test_runtime_without_served_model_name_serves_the_model_path_and_is_mapped(schemas) -> None:
    objs = [valid(runtime(args=["--port=8080", "--model=/mnt/models"]), schemas),
            valid(isvc("g", status=raw_status("g")), schemas)]
    (row,) = discover_cluster(FakeKube(objs)).rows
    assert row.served_name == "/mnt/models"
    assert row.system_name == "mnt-models" and row.mapped
    assert row.endpoint() == {"name": "mnt-models", "url": "http://g-predictor.llm.svc.cluster.local",
                              "kind": "chat", "source": "InferenceService llm/g", "served_name": "/mnt/models"}


def test_served_name_argument_forms() -> None:
    assert served_name_from_args(["--served-model-name={{.Name}}"], "granite", "llm") == "granite"
    assert served_name_from_args(["--served-model-name={{ .Name }}"], "granite", "llm") == "granite"
    assert served_name_from_args(["--served-model-name", "a", "--served-model-name=b"], "x", "llm") == "b"
    assert served_name_from_args(["--port=8080"], "x", "llm") is None


@pytest.mark.parametrize(("served", "system"), [
    ("granite-7b", "granite-7b"), ("publishers/llm/models/granite", "publishers-llm-models-granite"),
    ("ibm/granite:3.3", "ibm-granite-3.3"), ("/mnt/models", "mnt-models"), ("***", "model"),
])
def test_system_names_are_valid_3scale_names(served, system) -> None:
    from maas_helpers.config import ModelEndpoint

    assert system_name_for(served) == system
    ModelEndpoint(name=system, url="http://x.llm.svc:8080")  # the config accepts it


# --- LLMInferenceService ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1alpha1", "v1alpha2"])
def test_ready_llmisvc_uses_the_internal_address_and_spec_model_name(schemas, version) -> None:
    status = {"conditions": [{"type": "Ready", "status": "True"}],
              "url": "https://granite-llm.apps.example.com",
              "addresses": [{"url": "https://gateway.apps.example.com/llm/granite"},
                            {"url": "https://granite-kserve-workload-svc.llm.svc.cluster.local"}]}
    obj = valid(llmisvc("granite", version, model_name="granite-3.3-8b", status=status), schemas)
    (row,) = discover_cluster(FakeKube([obj])).rows
    assert (row.kind, row.ready, row.served_name) == ("LLMInferenceService", True, "granite-3.3-8b")
    assert row.url == "https://granite-kserve-workload-svc.llm.svc.cluster.local"
    assert version in row.runtime
    assert row.pod_selector == {"app.kubernetes.io/name": "granite", "app.kubernetes.io/part-of": "llminferenceservice"}


def test_llmisvc_without_status_or_name(schemas) -> None:
    (row,) = rows_from_objects([], [valid(llmisvc("qwen", "v1alpha2"), schemas)])
    assert not row.ready and row.url is None and row.served_name == "qwen"  # spec.model.name defaults to the name


def test_llmisvc_not_ready_names_the_failing_condition(schemas) -> None:
    status = {"conditions": [{"type": "WorkloadsReady", "status": "False", "reason": "ImagePullBackOff",
                              "message": "Back-off pulling image"},
                             {"type": "Ready", "status": "False"}]}
    (row,) = rows_from_objects([], [valid(llmisvc("q", "v1alpha1", status=status), schemas)])
    assert not row.ready and row.reason == "WorkloadsReady: Back-off pulling image"


def test_llmisvc_served_under_both_versions_is_one_row(schemas) -> None:
    a = valid(llmisvc("q", "v1alpha1"), schemas)
    b = valid(llmisvc("q", "v1alpha2"), schemas)
    assert len(discover_cluster(FakeKube([a, b])).rows) == 1


# --- permissions -----------------------------------------------------------------------------------------


def test_namespaces_the_user_cannot_list_are_reported_not_fatal(schemas) -> None:
    objs = [valid(isvc("a", ns="team-a", status=raw_status("a", "team-a")), schemas),
            valid(isvc("b", ns="team-b", status=raw_status("b", "team-b")), schemas)]
    kube = FakeKube(objs, forbidden={"team-b"}, cluster_wide=False)
    found = discover_cluster(kube)
    assert [r.name for r in found.rows] == ["a"]
    assert "namespace team-b: may not list InferenceServices (403)" in found.unreadable


def test_explicit_namespaces_are_read_one_by_one(schemas) -> None:
    objs = [valid(isvc("a", ns="team-a", status=raw_status("a", "team-a")), schemas),
            valid(isvc("b", ns="team-b", status=raw_status("b", "team-b")), schemas)]
    kube = FakeKube(objs)
    found = discover_cluster(kube, namespaces=["team-b"])
    assert [r.name for r in found.rows] == ["b"]
    assert all(ns == "team-b" for _, _, ns in kube.calls)


# --- verification ----------------------------------------------------------------------------------------


def test_reachable_runtime_verifies_or_corrects_the_served_name(schemas) -> None:
    rows = rows_from_objects([valid(isvc("a", status=raw_status("a")), schemas),
                              valid(isvc("b", status=raw_status("b")), schemas),
                              valid(isvc("c", status=raw_status("c")), schemas)])
    answers = {"http://a-predictor.llm.svc.cluster.local": ["a"],
               "http://b-predictor.llm.svc.cluster.local": ["org/bge-small"]}
    checked = by_name(verify_served_names(rows, answers.get))
    assert (checked["a"].served_name, checked["a"].verified) == ("a", True)
    assert (checked["b"].served_name, checked["b"].system_name, checked["b"].verified) == (
        "org/bge-small", "org-bge-small", True)
    assert checked["b"].model_kind == "embedding"
    assert (checked["c"].verified, checked["c"].served_note) == (False, "c (unverified)")
