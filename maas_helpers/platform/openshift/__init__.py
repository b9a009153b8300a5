"""The OpenShift platform: the guide's cluster steps as converging calls through `maas_helpers.kube.Kube`.

One class assembled from one module per concern, so each part is easy to find:

- `plumbing`: connection, the step deadline, the ownership-aware write path (labels, foreign objects left alone,
  unchanged decided by a server-side dry-run);
- `permissions`: what each notebook step needs from RBAC and which role grants it;
- `waits`: the shared deadline, condition readers and what-is-stuck diagnostics;
- `operator` (notebook 1), `databases` and `apimanager` (notebook 2), `sso` (notebook 9), `destroy` (notebook 99);
- `progress`: the deployments bar.

Every object comes from `maas_helpers.manifests` and is validated before it is sent.
"""

from __future__ import annotations

from maas_helpers.platform.openshift.apimanager import RWX_PROVISIONER_HINTS, SETTLE_POLLS, ApiManagerSteps
from maas_helpers.platform.openshift.destroy import DestroySteps
from maas_helpers.platform.openshift.plumbing import OG_API, SUB_API
from maas_helpers.platform.openshift.progress import DeploymentProgress, default_progress
from maas_helpers.platform.openshift.sso import SsoSteps
from maas_helpers.platform.openshift.waits import CRASH_REASONS, IMAGE_PULL_REASONS, Clock, Deadline, Sleep

__all__ = [
    "CRASH_REASONS",
    "IMAGE_PULL_REASONS",
    "OG_API",
    "RWX_PROVISIONER_HINTS",
    "SETTLE_POLLS",
    "SUB_API",
    "Clock",
    "Deadline",
    "DeploymentProgress",
    "OpenShiftPlatform",
    "Sleep",
    "default_progress",
]


class OpenShiftPlatform(ApiManagerSteps, SsoSteps, DestroySteps):
    """`Platform` for a real cluster. Pass ``kube`` to reuse a connection (tests pass one over a fake client)."""
