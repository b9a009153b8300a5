"""What each notebook step needs from RBAC, which role grants it, and one line naming every gap.

Facts (OLM, operator-lifecycle-manager master):
- `deploy/chart/templates/0000_50_olm_09-aggregated.clusterrole.yaml`: the aggregated `admin` / `edit` roles get
  create/update/patch/delete on Subscriptions, delete on CSVs/InstallPlans/CatalogSources, and only
  get/list/watch on OperatorGroups and InstallPlans. So *create/patch operatorgroups* (the OperatorGroup) and
  *patch installplans* (approving a Manual InstallPlan) need a cluster admin (or a role made for it).
- `doc/design/operatorgroups.md`: once an operator's CSV is a member of an OperatorGroup, OLM generates
  `<kind>-admin` / `-edit` ClusterRoles aggregated into `admin` / `edit` for its CRDs, so a project admin may
  create APIManagers, CustomPolicyDefinitions, Keycloaks and realm imports after the operator is installed.
- Server-side apply is a PATCH request: re-applying an object needs *patch*; creating one needs create and patch.
"""

from __future__ import annotations

from dataclasses import dataclass

from maas_helpers.errors import MaasError
from maas_helpers.kube import Kube

OLM = "operators.coreos.com"
CLUSTER_ADMIN = "cluster-admin"
PROJECT_ADMIN = "admin (or edit) in the namespace"

# (group, resource) → the role that grants writing it; anything else is a namespaced kind admin/edit covers.
CLUSTER_ONLY: dict[tuple[str, str], str] = {
    ("", "namespaces"): "cluster-admin (or self-provisioner through a ProjectRequest)",
    (OLM, "operatorgroups"): "cluster-admin (OLM's aggregated admin/edit roles only read OperatorGroups)",
    (OLM, "installplans"): "cluster-admin (OLM's aggregated admin/edit roles cannot approve InstallPlans)",
    ("storage.k8s.io", "storageclasses"): "cluster-reader",
}

# Which notebook runs a step (the one line tells people who must run what).
NOTEBOOKS = {
    "operator": "notebook 1 (3scale operator)",
    "apimanager": "notebook 2 (APIManager)",
    "sso": "notebook 9 (SSO)",
    "destroy": "notebook 99 (teardown)",
}


@dataclass(frozen=True)
class Need:
    verb: str
    group: str
    resource: str
    namespace: str | None = None

    def text(self) -> str:
        qualified = f"{self.resource}.{self.group}" if self.group else self.resource
        where = f" in {self.namespace}" if self.namespace else " (cluster-wide)"
        return f"{self.verb} {qualified}{where}"

    def role(self) -> str:
        return CLUSTER_ONLY.get((self.group, self.resource), PROJECT_ADMIN)


def writes(group: str, resource: str, namespace: str | None, *, exists: bool = False) -> list[Need]:
    """Server-side apply of one object: patch, and create too when it does not exist yet."""
    verbs = ("patch",) if exists else ("create", "patch")
    return [Need(v, group, resource, namespace) for v in verbs]


def missing(kube: Kube, needs: list[Need]) -> list[Need]:
    """Every need the current identity lacks (one SelfSubjectAccessReview per distinct need)."""
    seen: set[Need] = set()
    out = []
    for need in needs:
        if need in seen:
            continue
        seen.add(need)
        if not kube.self_subject_access_review(need.verb, need.group, need.resource, need.namespace).allowed:
            out.append(need)
    return out


def require(kube: Kube, needs: list[Need], step: str, notebook: str) -> None:
    """Raise one line naming every missing permission, the role that grants each, and who must run what."""
    gaps = missing(kube, needs)
    if not gaps:
        return
    who = kube.whoami()
    nb = NOTEBOOKS.get(notebook, notebook)
    roles = sorted({g.role() for g in gaps})
    cluster = any(g.role() != PROJECT_ADMIN for g in gaps)
    listed = ", ".join(g.text() for g in gaps)
    if cluster:
        advice = f"ask a cluster admin to run {nb} with their own login (or grant {who} these)"
    else:
        namespaces = sorted({g.namespace for g in gaps if g.namespace})
        grants = "; ".join(f"oc adm policy add-role-to-user admin {who} -n {ns}" for ns in namespaces)
        advice = f"ask a project admin to grant it ({grants}) or to run {nb}"
    raise MaasError(
        f"{who} cannot {listed}, needed by {nb} ({step}); granted by {' / '.join(roles)} — {advice}", status=403
    )
