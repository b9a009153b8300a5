"""The databases 3scale 2.16 (and Keycloak) need: deployed by the kit, or copied from the user's Secret."""

from __future__ import annotations

import secrets

from maas_helpers import manifests as mf
from maas_helpers.errors import MaasError
from maas_helpers.platform.openshift import permissions
from maas_helpers.platform.openshift.plumbing import ClusterBase
from maas_helpers.platform.openshift.waits import Deadline, decode, pod_problems, rolled_out
from maas_helpers.results import Change, StepResult


def database_needs(ns: str) -> list[permissions.Need]:
    """Server-side apply of a database's Secret, claim, Service and Deployment (admin/edit in the namespace)."""
    out = permissions.writes("", "secrets", ns) + [permissions.Need("get", "", "secrets", ns)]
    for group, resource in (("apps", "deployments"), ("", "services"), ("", "persistentvolumeclaims")):
        out += permissions.writes(group, resource, ns)
    return out


class DatabaseSteps(ClusterBase):
    def _credentials(self, ns: str, db: mf.Database) -> dict[str, str]:
        """The database's credentials: kept from its Secret when it exists, else generated (never shown)."""
        current = decode(self.kube.get("v1", "Secret", db.secret, ns))
        out = {}
        for key in db.credential_keys():
            if current.get(key):
                out[key] = current[key]
            elif key == "password":
                out[key] = secrets.token_urlsafe(24)
            else:
                out[key] = db.database
        return out

    def deploy_database(self, result: StepResult, ns: str, db: mf.Database, storage: str | None) -> dict[str, str]:
        creds = self._credentials(ns, db)
        objs = mf.database_objects(ns, db, creds, storage)
        self.apply_secret(result, objs[0])
        for obj in objs[1:]:
            self.apply(result, obj)
        return creds

    def ensure_databases(self, *, timeout: float = 600) -> StepResult:
        """The three databases 3scale 2.16 requires, and the operator's Secrets pointing at them.

        ``databases: deploy`` runs them here (one replica each, RWO volume; a demo/workshop choice);
        ``external`` copies the URLs from the user's Secret ``database_secret``; ``internal`` (2.15 only)
        leaves them to the operator. Inside a notebook step the step's deadline bounds the wait."""
        s = self.settings
        result = StepResult(f"3scale databases in {self.ns} ({s.databases})")
        self._tls_notes(result)
        if s.databases == "internal":
            result.notes.append(f"databases: internal — the operator runs them ({s.operator_channel} allows it)")
            return result
        with self.step_timeout(timeout):
            if s.databases == "deploy":
                self.require(database_needs(self.ns), "the databases", "apimanager")
                creds = {db.name: self.deploy_database(result, self.ns, db, s.database_storage_class)
                         for db in mf.THREESCALE_DATABASES}
                values = mf.kit_database_urls(self.ns, creds)
            else:
                needs = permissions.writes("", "secrets", self.ns) + [permissions.Need("get", "", "secrets", self.ns)]
                self.require(needs, "the database Secrets", "apimanager")
                source = str(s.database_secret)
                given = self.kube.get("v1", "Secret", source, self.ns)
                if given is None:
                    raise MaasError(
                        f"Secret {source} not found in {self.ns}; create it with keys "
                        f"{', '.join(mf.EXTERNAL_KEYS)} (see docs/openshift.md) or set databases: deploy"
                    )
                values = mf.external_database_urls(decode(given), source)
            for secret in mf.operator_database_secrets(self.ns, values):
                self.apply_secret(result, secret)
            if s.databases == "deploy":
                names = [db.name for db in mf.THREESCALE_DATABASES]
                self.wait_deployments(result, self.ns, names, self.deadline(timeout))
        return result

    def wait_deployments(self, result: StepResult, ns: str, names: list[str], deadline: Deadline) -> None:
        """Wait until every named Deployment is rolled out (generation observed, replicas updated and ready)."""
        start = self.clock()
        while True:
            waiting = []
            for name in names:
                d = self.kube.get("apps/v1", "Deployment", name, ns)
                if d is None or not rolled_out(d):
                    waiting.append(name)
            if not waiting:
                seconds = int(self.clock() - start)
                result.add("Deployment", f"{ns}/{', '.join(names)}", Change.WAITED, f"ready ({seconds} s)")
                return
            if deadline.expired():
                problems = pod_problems(self.kube, ns, waiting)
                raise MaasError(
                    f"not ready after {deadline.describe()} in {ns}: {', '.join(waiting)}"
                    + (f"; {problems}" if problems else "; no pod problem reported (check the events)")
                )
            self.pause(deadline)
