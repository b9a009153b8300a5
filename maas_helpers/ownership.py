"""What the kit owns: the one module that decides it (design §2.3).

The kit changes and deletes only what it created, known by a mark that only an admin can write — never by a
name. Two sides:

- **Cluster.** Every object the kit applies carries `CLUSTER_LABELS` plus `INSTANCE_LABEL: <instance>`. Writing a
  label needs write access to the object, which a developer of the MaaS does not have. `cluster_owned()` is the
  only test the platforms use before they change or delete an object; an object without the labels is reported as
  "exists, not managed by the kit: left alone" and is adopted only when the user asks for it explicitly.
- **3scale.** Decided from porta's source (3scale-2.16-stable): see the 3scale half of this module and
  docs/sandbox.md ("Ownership").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "maas-helpers"  # also the server-side-apply field manager
INSTANCE_LABEL = "maas.3scale.net/instance"
CLUSTER_LABELS: dict[str, str] = {MANAGED_BY_LABEL: MANAGED_BY, "app.kubernetes.io/part-of": "maas"}


def cluster_labels(instance: str) -> dict[str, str]:
    """The labels every cluster object the kit applies carries."""
    return {**CLUSTER_LABELS, INSTANCE_LABEL: instance}


def cluster_owned(obj: Mapping[str, Any] | None, instance: str) -> bool:
    """True when a cluster object (as read from the API server) carries the kit's labels for `instance`."""
    if not obj:
        return False
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(INSTANCE_LABEL) == instance
