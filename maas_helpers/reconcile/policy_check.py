"""The catalogue check of policy chains, before anything is applied.

porta stores any chain entry with a name, a version and an object configuration (proxy.rb `PolicyConfig`);
APIcast then skips a policy it cannot load and a configuration its policy cannot use. So the kit checks its
own catalogue: every policy must be one the gateway offers (`GET /admin/api/policies.json`, which porta fills
from APIcast's policy registry) or the kit's custom policy, and its configuration must satisfy the manifest's
JSON schema. One bad entry = one clear line, nothing written.
"""

from __future__ import annotations

import json
from typing import Any

from maas_helpers.crdcheck import said
from maas_helpers.errors import ConfigError
from maas_helpers.reconcile.context import Context

Manifests = dict[tuple[str, str], dict[str, Any]]


def offered(ctx: Context) -> Any:
    """porta's listing of the policies the gateway offers, as read once per run."""
    return ctx.cached("policies_offered", lambda: ctx.client.get_json("/admin/api/policies.json"))


def _available(ctx: Context) -> Manifests | None:
    """(name, version) → manifest; None when 3scale lists none (porta answers null without APIcast's registry)."""
    body = offered(ctx)
    if isinstance(body, dict) and isinstance(body.get("policies"), dict):
        body = body["policies"]  # a wrapped listing, should a version answer so
    if not isinstance(body, dict) or not body:
        return None
    found: Manifests = {}
    for name, manifests in body.items():
        for manifest in manifests if isinstance(manifests, list) else []:
            if isinstance(manifest, dict):
                found[(str(name), str(manifest.get("version")))] = manifest
    return found


def check_policies(ctx: Context) -> list[str]:
    """Raise ConfigError for the first catalogue policy 3scale's gateway cannot run; notes for what was skipped."""
    custom = ctx.catalogue.policy
    manifests: Manifests = {}
    notes: list[str] = []
    with ctx.client.about("policy catalogue check"):
        listed = _available(ctx)
    if listed is None:
        notes.append("3scale lists no policies (GET /admin/api/policies.json); only the custom policy's "
                     "configuration was checked")
    else:
        manifests.update(listed)
    if custom.manifest_file.is_file():
        manifests[(custom.name, custom.version)] = json.loads(custom.manifest_file.read_text())
    for product in ctx.catalogue.products:
        for policy in product.policies:
            key = (policy.name, policy.version)
            manifest = manifests.get(key)
            if manifest is None:
                if listed is None:
                    continue
                known = ", ".join(sorted(f"{n} {v}" for n, v in manifests))
                raise ConfigError(f"product {product.system_name}: policy {policy.name} {policy.version} is not "
                                  f"available on this 3scale (it offers: {known}); fix the catalogue's policies")
            _check_configuration(product.system_name, policy.name, policy.version, policy.configuration,
                                 manifest.get("configuration") or {})
    return notes


def _check_configuration(product: str, name: str, version: str, config: dict[str, Any],
                         schema: dict[str, Any]) -> None:
    # jsonschema-rs, not python-jsonschema: `import jsonschema` loads its format checkers (rfc3987-syntax builds
    # ~40 grammars, 0.8–2.8 s), which every kernel and CLI run that applies would pay for this one check.
    # validator_for picks the draft from `$schema` (2020-12 without one, as python-jsonschema does).
    import jsonschema_rs

    try:
        validator = jsonschema_rs.validator_for(schema, validate_formats=False)
    except (jsonschema_rs.ValidationError, ValueError):
        return  # a manifest we cannot read is the gateway's concern, not the catalogue's
    error = next(iter(sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.instance_path])), None)
    if error is not None:
        where = "/".join(str(p) for p in error.instance_path) or "configuration"
        raise ConfigError(f"product {product}: policy {name} {version}: {where}: {said(error)}; fix the "
                          "catalogue's policy configuration")
