"""Checks a headless run makes before the first notebook, so a missing login fails in one line and changes nothing."""

from __future__ import annotations

from maas_helpers.errors import MaasError


def check_cluster_credentials() -> str:
    """Connect as the notebooks will (kubeconfig from `MAAS_KUBECONFIG`, `KUBECONFIG` or ~/.kube/config, or the
    pod's service account) and make one authenticated call; MaasError with the fix when that fails."""
    from maas_helpers.kube import Kube

    try:
        kube = Kube.connect()
        # Any authenticated identity may create a SelfSubjectAccessReview: a 401 here means bad credentials.
        kube.self_subject_access_review("get", "", "namespaces")
    except MaasError as exc:
        raise MaasError(f"OpenShift: {exc}") from None
    return f"cluster credentials accepted: {kube.whoami()}"
