"""The lock at the `kubernetes` boundary: one NetworkPolicy per model, valid against Kubernetes' networking/v1
schema (the kubernetes client's V1NetworkPolicy model, generated from the Kubernetes OpenAPI spec), selecting
exactly the pods KServe labels for that model, owned by the kit, refused politely, removed by teardown.

Pod labels as OpenDataHub's KServe sets them: predictor pods `serving.kserve.io/inferenceservice=<isvc>`,
`component=predictor` (pkg/controller/v1beta1/inferenceservice/components/predictor.go); LLMInferenceService
workload pods `app.kubernetes.io/name=<name>`, `app.kubernetes.io/part-of=llminferenceservice`,
`app.kubernetes.io/component=llminferenceservice-workload` (pkg/controller/v1alpha2/llmisvc/workload_single_node.go).
APIcast pods: `threescale_component=apicast` (3scale-operator apicast_options_provider.go).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from maas_helpers import lockdown
from maas_helpers.config import make_settings
from maas_helpers.discovery import isvc_row, llmisvc_row
from maas_helpers.errors import MaasError
from maas_helpers.kit import Kit
from maas_helpers.kube import AccessReview
from maas_helpers.ownership import cluster_labels
from maas_helpers.platform.openshift import OpenShiftPlatform
from maas_helpers.results import Change

WHO = "system:serviceaccount:workbench:learner"


def isvc(name: str, ns: str = "llm", mode: str = "Standard") -> dict[str, Any]:
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": name, "namespace": ns, "annotations": {"serving.kserve.io/deploymentMode": mode}},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "vLLM"}, "runtime": "vllm-runtime"}}},
            "status": {"address": {"url": f"http://{name}-predictor.{ns}.svc.cluster.local"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def llm(name: str, ns: str = "llm", router: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"model": {"uri": "hf://x/y", "name": name}}
    if router:
        spec["router"] = {"route": {}, "gateway": {}, "scheduler": {}}
    return {"apiVersion": "serving.kserve.io/v1alpha2", "kind": "LLMInferenceService",
            "metadata": {"name": name, "namespace": ns}, "spec": spec,
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"url": f"https://{name}-kserve-workload-svc.{ns}.svc.cluster.local"}]}}


def pod(name: str, ns: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels}}


def predictor_pod(isvc_name: str, ns: str = "llm", suffix: str = "abc") -> dict[str, Any]:
    return pod(f"{isvc_name}-predictor-{suffix}", ns, {"serving.kserve.io/inferenceservice": isvc_name,
                                                        "component": "predictor", "app": f"{isvc_name}-predictor"})


class FakeKube:
    """Kube's methods over stored objects, as the API server answers: apply bumps resourceVersion only on a change,
    list filters by label selector, a denied SelfSubjectAccessReview says no."""

    def __init__(self, objects: list[dict[str, Any]] = (), denied: set[str] = frozenset()) -> None:
        self.objects: dict[tuple[str, str, str | None, str], dict[str, Any]] = {}
        self.denied = set(denied)
        self.applied: list[dict[str, Any]] = []
        self.deleted: list[tuple[str, str | None, str]] = []
        self._rv = 0
        for obj in objects:
            self._put(obj)

    def _put(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self._rv)
        m = obj["metadata"]
        self.objects[(obj["apiVersion"], obj["kind"], m.get("namespace"), m["name"])] = obj
        return copy.deepcopy(obj)

    def apply(self, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        self.applied.append(copy.deepcopy(obj))
        m = obj["metadata"]
        current = self.objects.get((obj["apiVersion"], obj["kind"], m.get("namespace"), m["name"]))
        if current is not None:
            same = copy.deepcopy(current)
            same["metadata"].pop("resourceVersion")
            if same == obj:
                return copy.deepcopy(current)
        return self._put(obj)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None):
        return copy.deepcopy(self.objects.get((api_version, kind, namespace, name)))

    def list(self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None):
        want = dict(p.split("=", 1) for p in label_selector.split(",")) if label_selector else {}
        return [copy.deepcopy(o) for (av, k, ns, _), o in sorted(self.objects.items())
                if av == api_version and k == kind and (namespace is None or ns == namespace)
                and all((o["metadata"].get("labels") or {}).get(a) == b for a, b in want.items())]

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        self.deleted.append((kind, namespace, name))
        return self.objects.pop((api_version, kind, namespace, name), None) is not None

    def self_subject_access_review(self, verb: str, group: str, resource: str, namespace: str | None = None):
        return AccessReview(namespace not in self.denied)

    def whoami(self) -> str:
        return WHO


def kit_for(kube: FakeKube, models: list[dict[str, Any]]) -> Kit:
    settings = make_settings(target="openshift", cluster_domain="apps.example.com", models=models)
    return Kit(settings, platform=OpenShiftPlatform(settings, kube))  # type: ignore[arg-type]


GRANITE = {"name": "granite", "url": "http://granite-predictor.llm.svc.cluster.local",
           "source": "InferenceService llm/granite"}


# --- the object ------------------------------------------------------------------------------------------


def test_isvc_policy_validates_and_selects_only_that_models_predictor_pods() -> None:
    obj = lockdown.network_policy(isvc_row(isvc("granite")), "3scale", "3scale")
    lockdown.validate(obj)  # networking/v1, no field the API server would drop
    assert obj["metadata"] == {"name": "maas-gateway-only-granite", "namespace": "llm",
                               "labels": cluster_labels("3scale"),
                               "annotations": {"maas.3scale.net/model": "InferenceService llm/granite"}}
    assert obj["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = obj["spec"]["ingress"]
    assert rule["from"][0] == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "3scale"}},
                               "podSelector": {"matchLabels": {"threescale_component": "apicast"}}}
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name":
                                                  "openshift-user-workload-monitoring"}}} in rule["from"]
    assert lockdown.selects(obj, predictor_pod("granite"))
    assert lockdown.selects(obj, predictor_pod("granite", suffix="def"))  # every replica
    assert not lockdown.selects(obj, predictor_pod("mistral"))  # another model's pods
    assert not lockdown.selects(obj, predictor_pod("granite", ns="other"))  # same labels, other namespace
    transformer = pod("granite-transformer-x", "llm", {"serving.kserve.io/inferenceservice": "granite",
                                                       "component": "transformer"})
    assert not lockdown.selects(obj, transformer)


def test_llmisvc_policy_selects_its_workload_pods_and_admits_its_scheduler_and_router() -> None:
    obj = lockdown.network_policy(llmisvc_row(llm("qwen", router=True)), "3scale", "3scale")
    workload = pod("qwen-kserve-abc", "llm", {"app.kubernetes.io/name": "qwen",
                                             "app.kubernetes.io/part-of": "llminferenceservice",
                                             "app.kubernetes.io/component": "llminferenceservice-workload"})
    other = pod("granite-kserve-abc", "llm", {"app.kubernetes.io/name": "granite",
                                             "app.kubernetes.io/part-of": "llminferenceservice"})
    assert lockdown.selects(obj, workload) and not lockdown.selects(obj, other)
    peers = obj["spec"]["ingress"][0]["from"]
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "llminferenceservice"}}} in peers
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "openshift-ingress"}}} in peers
    no_router = lockdown.network_policy(llmisvc_row(llm("qwen")), "3scale", "3scale")
    assert "openshift-ingress" not in yaml.safe_dump(no_router)


def test_knative_mode_admits_the_activator_and_local_gateway() -> None:
    obj = lockdown.network_policy(isvc_row(isvc("kn", mode="Serverless")), "3scale", "3scale")
    names = [p.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
             for p in obj["spec"]["ingress"][0]["from"]]
    assert "knative-serving" in names and "istio-system" in names


def test_invalid_policy_is_one_line() -> None:
    obj = lockdown.network_policy(isvc_row(isvc("granite")), "3scale", "3scale")
    obj["spec"]["ingress"][0]["form"] = obj["spec"]["ingress"][0].pop("from")  # a typo the server would drop
    with pytest.raises(MaasError, match=r"maas-gateway-only-granite: spec.ingress.0: Additional properties .*'form'"):
        lockdown.validate(obj)
    obj = lockdown.network_policy(isvc_row(isvc("granite")), "3scale", "3scale")
    obj["spec"]["policyTypes"] = "Ingress"
    with pytest.raises(MaasError, match='is not of type "array"'):
        lockdown.validate(obj)


# --- applying, owning, refusing, removing -------------------------------------------------------------


def test_lockdown_applies_owned_policies_then_changes_nothing() -> None:
    kube = FakeKube([isvc("granite"), predictor_pod("granite")])
    kit = kit_for(kube, [GRANITE])
    first = kit.models.lockdown()
    assert [(a.kind, a.name, a.change) for a in first.actions] == [
        ("NetworkPolicy", "llm/maas-gateway-only-granite", Change.CREATED)]
    assert kube.applied[0]["metadata"]["labels"] == cluster_labels("3scale")
    again = kit.models.lockdown()
    assert [a.change for a in again.actions] == [Change.UNCHANGED]
    check = kit.models.verify_lockdown()
    assert "llm/maas-gateway-only-granite selects the 1 pod(s) of granite" in check.checked
    assert any("a direct call" in s for s in check.skipped)  # outside the cluster: said, not claimed


def test_model_typed_by_hand_is_found_from_its_predictor_url() -> None:
    kube = FakeKube([isvc("granite")])
    kit = kit_for(kube, [{"name": "granite", "url": "http://granite-predictor.llm.svc.cluster.local:8080"}])
    (obj,) = kit.models.lockdown_objects()
    assert obj["spec"]["podSelector"]["matchLabels"] == {"serving.kserve.io/inferenceservice": "granite",
                                                         "component": "predictor"}


def test_a_policy_the_kit_did_not_create_is_left_alone() -> None:
    foreign = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "maas-gateway-only-granite", "namespace": "llm"},
               "spec": {"podSelector": {}, "ingress": [{}]}}
    kube = FakeKube([isvc("granite"), foreign])
    kit = kit_for(kube, [GRANITE])
    (action,) = kit.models.lockdown().actions
    assert action.change is Change.UNCHANGED and "not managed by the kit" in action.detail
    assert kube.applied == []
    kit.models.remove_lockdown()
    assert kube.get("networking.k8s.io/v1", "NetworkPolicy", "maas-gateway-only-granite", "llm") is not None


def test_user_who_may_not_create_policies_gets_one_line_naming_the_objects() -> None:
    kube = FakeKube([isvc("granite")], denied={"llm"})
    kit = kit_for(kube, [GRANITE])
    result = kit.models.lockdown()
    assert kube.applied == []
    assert [a.change for a in result.actions] == [Change.SKIPPED]
    (line,) = [n for n in result.notes if "may not" in n]
    assert line == (f"{WHO} may not create NetworkPolicies: an admin must apply llm/maas-gateway-only-granite "
                    "(maas models lockdown --print | oc apply -f -)")


def test_lockdown_print_renders_what_an_admin_applies(monkeypatch) -> None:
    from maas_helpers import kube as kube_module
    from maas_helpers.cli import app as cli_app

    fake = FakeKube([isvc("granite"), llm("qwen", ns="llm-d")])
    monkeypatch.setattr(kube_module.Kube, "connect", classmethod(lambda cls, *a, **kw: fake))
    settings = make_settings(target="openshift", cluster_domain="apps.example.com", models=[
        GRANITE, {"name": "qwen", "url": "https://qwen-kserve-workload-svc.llm-d.svc.cluster.local",
                  "source": "LLMInferenceService llm-d/qwen"}])
    from maas_helpers.config import save_settings

    path = save_settings(settings, "/tmp/i26-lockdown-print.yaml")
    result = CliRunner().invoke(cli_app, ["models", "lockdown", "--print", "--config", str(path)])
    assert result.exit_code == 0, result.output
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert [(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs] == [
        ("llm", "maas-gateway-only-granite"), ("llm-d", "maas-gateway-only-qwen")]
    for doc in docs:
        lockdown.validate(doc)
    assert fake.applied == []  # printing changes nothing


def test_teardown_removes_only_the_kits_policies() -> None:
    kube = FakeKube([isvc("granite")])
    kit = kit_for(kube, [GRANITE])
    kit.models.lockdown()
    other = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "allow-monitoring", "namespace": "llm"}, "spec": {"podSelector": {}}}
    kube._put(other)
    preview = kit.models.remove_lockdown(plan_only=True)
    assert [(a.name, a.change) for a in preview.actions] == [("llm/maas-gateway-only-granite",
                                                              Change.PLANNED_DELETE)]
    assert kube.deleted == []
    result = kit.models.remove_lockdown()
    assert [(a.name, a.change) for a in result.actions] == [("llm/maas-gateway-only-granite", Change.DELETED)]
    assert kube.get("networking.k8s.io/v1", "NetworkPolicy", "allow-monitoring", "llm") is not None


def test_a_model_that_went_away_shows_in_gone() -> None:
    kube = FakeKube([isvc("granite")])
    kit = kit_for(kube, [GRANITE, {"name": "mistral", "url": "http://mistral-predictor.llm.svc.cluster.local",
                                   "source": "InferenceService llm/mistral"}])
    assert kit.models.gone() == ["model mistral: InferenceService llm/mistral is gone"]
