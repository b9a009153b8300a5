"""Notebook 9's cluster steps: the Red Hat build of Keycloak operator (pinned channel, Manual approval of the
expected CSV only), its PostgreSQL, the Keycloak, and the realm import whose secrets come from a Secret."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

from maas_helpers import manifests as mf
from maas_helpers.errors import MaasError
from maas_helpers.platform.openshift import permissions
from maas_helpers.platform.openshift.databases import DatabaseSteps, database_needs
from maas_helpers.platform.openshift.operator import OperatorSteps
from maas_helpers.platform.openshift.waits import Deadline, cond, decode, false_conditions, is_true, pod_problems
from maas_helpers.results import Change, StepResult

KC_API = "k8s.keycloak.org/v2alpha1"


class SsoSteps(OperatorSteps, DatabaseSteps):
    def _expected_rhbk_csv(self) -> tuple[Callable[[str], bool], str]:
        """Which CSV the kit approves: ``sso_csv`` exactly, else one of the pinned channel's minor."""
        s = self.settings
        if s.sso_csv:
            return (lambda name: name == s.sso_csv), s.sso_csv
        minor = s.sso_channel.removeprefix("stable-v")  # "26.0"
        prefix = f"{mf.RHBK_PACKAGE}.v{minor}."
        return (lambda name: name.startswith(prefix)), f"{prefix}* (channel {s.sso_channel})"

    def _keycloak_db(self, result: StepResult, ns: str, deadline: Deadline) -> dict[str, Any]:
        """Keycloak's ``spec.db``: a PostgreSQL the kit deploys here, or the user's (``sso_database_secret``)."""
        s = self.settings
        if s.sso_database == "deploy":
            db = mf.KEYCLOAK_DATABASE
            self.deploy_database(result, ns, db, s.database_storage_class)
            self.wait_deployments(result, ns, [db.name], deadline)
            return mf.keycloak_db(db)
        source = str(s.sso_database_secret)
        given = decode(self.kube.get("v1", "Secret", source, ns))
        missing = [k for k in ("host", "database", "username", "password") if not given.get(k)]
        if missing:
            raise MaasError(
                f"Secret {source} in {ns} lacks {', '.join(missing)}; Keycloak's external database needs keys "
                "host, database, username, password (optional port)"
            )
        port = int(given.get("port") or 5432)
        return mf.keycloak_db(host=given["host"], database=given["database"], port=port, secret=source)

    @property
    def sso_registration_allowed(self) -> bool:
        return bool(self.settings.sso_registration)

    def sso_realm(self, realm_name: str, users: Collection[str] = ()) -> dict[str, Any] | None:
        """The realm as the cluster holds it: the KeycloakRealmImport's ``spec.realm`` with its ``${NAME}``
        placeholders filled from the Secret ``spec.placeholders`` names (None: no import yet)."""
        ns = self.settings.sso_namespace
        name = f"{mf.KEYCLOAK_NAME}-{realm_name}".lower()
        imp = self.kube.get(KC_API, "KeycloakRealmImport", name, ns)
        if imp is None:
            return None
        spec = imp.get("spec") or {}
        values: dict[str, str] = {}
        for key, ref in (spec.get("placeholders") or {}).items():
            secret = ((ref or {}).get("secret") or {}).get("name")
            if secret:
                values[key] = decode(self.kube.get("v1", "Secret", secret, ns)).get(key, "")
        text = json.dumps(spec.get("realm") or {})
        for key, value in values.items():
            text = text.replace("${" + key + "}", json.dumps(value)[1:-1])
        return dict(json.loads(text))

    def ensure_sso(self, realm: dict[str, Any], *, timeout: float = 900, write_realm: bool = True) -> StepResult:
        """RHBK operator, its PostgreSQL, Keycloak on it, and (when ``write_realm``) the realm import whose
        secrets come from a Secret through ``spec.placeholders``. One deadline bounds every wait in it."""
        with self.step_timeout(timeout):
            return self._ensure_sso(realm, self.deadline(timeout), write_realm)

    def _ensure_sso(self, realm: dict[str, Any], deadline: Deadline, write_realm: bool) -> StepResult:
        s = self.settings
        ns = s.sso_namespace
        result = self.ensure_ns(ns, "SSO", "sso")
        sub = mf.subscription(ns, s.sso_channel, "Manual", package=mf.RHBK_PACKAGE)
        expected, text = self._expected_rhbk_csv()
        result.extend(
            self.ensure_olm_operator(
                ns, sub, "Red Hat build of Keycloak operator", True, deadline.seconds, "sso", expected, text
            )
        )
        result.title = f"Keycloak and realm {realm.get('realm')} in {ns}"
        group = "k8s.keycloak.org"
        needs = permissions.writes(group, "keycloaks", ns) + permissions.writes(group, "keycloakrealmimports", ns)
        needs += permissions.writes("", "secrets", ns)
        if s.sso_database == "deploy":
            needs += database_needs(ns)
        self.require(needs, "the Keycloak server", "sso")
        kc = mf.keycloak(ns, s.cluster_domain, db=self._keycloak_db(result, ns, deadline))
        applied = self.apply(result, kc)
        generation = int((applied.get("metadata") or {}).get("generation") or 0)
        self._wait_condition(result, KC_API, "Keycloak", mf.KEYCLOAK_NAME, ns, "Ready", deadline, "HasErrors",
                             generation)
        if not write_realm:  # reconcile read the realm back (sso_realm) and found it as wanted
            return result
        plain, values = mf.split_realm_secrets(realm)
        imp = mf.keycloak_realm_import(ns, plain, placeholders=values)
        if values:
            self.apply_secret(result, mf.realm_secret(ns, str(realm.get("realm")), values))
        self.apply(result, imp)
        self._wait_condition(
            result, imp["apiVersion"], "KeycloakRealmImport", imp["metadata"]["name"], ns, "Done", deadline,
            "HasErrors",
        )
        return result

    def _wait_condition(
        self,
        result: StepResult,
        api_version: str,
        kind: str,
        name: str,
        ns: str,
        ctype: str,
        deadline: Deadline,
        error_type: str | None = None,
        generation: int = 0,
    ) -> None:
        """Wait for ``ctype`` True, observed at ``generation`` or later when the conditions report one
        (Keycloak's do), so a Ready left from before a change does not count."""
        start = self.clock()
        while True:
            obj = self.kube.get(api_version, kind, name, ns)
            c = cond(obj, ctype) or {}
            observed = c.get("observedGeneration")
            current = observed is None or int(observed) >= generation
            if error_type and is_true(obj, error_type) and kind == "KeycloakRealmImport":
                raise MaasError(f"{kind} {name} in {ns}: {(cond(obj, error_type) or {}).get('message', error_type)}")
            if is_true(obj, ctype) and current and not is_true(obj, error_type or "-"):
                result.add(kind, f"{ns}/{name}", Change.WAITED, f"{ctype} ({int(self.clock() - start)} s)")
                return
            if deadline.expired():
                why = false_conditions(obj) or [c.get("message") or "no status: is its operator running?"]
                if is_true(obj, ctype) and not current:
                    why.insert(0, f"{ctype} is from generation {observed}, not {generation}")
                problems = pod_problems(self.kube, ns)
                raise MaasError(
                    f"{kind} {name} in {ns} not {ctype} after {deadline.describe()} ({'; '.join(why)})"
                    + (f"; {problems}" if problems else "")
                )
            self.pause(deadline)

    def sso_realm_url(self, realm_name: str) -> str:
        ns = self.settings.sso_namespace
        kc = self.kube.get(KC_API, "Keycloak", mf.KEYCLOAK_NAME, ns)
        host = ((kc or {}).get("spec") or {}).get("hostname", {}).get("hostname")
        if not host:
            routes = self.kube.list("route.openshift.io/v1", "Route", ns)
            host = next((r["spec"]["host"] for r in routes if (r.get("spec") or {}).get("host")), None)
        host = host or mf.keycloak_host(ns, self.settings.cluster_domain)
        return f"https://{host}/realms/{realm_name}"
