"""Organisation name (Master API), time zone and the multiple-applications switch (sandbox extensions; manual
steps on a real 3scale), and the
llm-metrics policy in the tenant's policy registry (sandbox only: on a cluster the CustomPolicyDefinition
registers it)."""

from __future__ import annotations

import json
from typing import Any

from maas_helpers.reconcile.context import Context
from maas_helpers.results import Change, StepResult


def _provider(ctx: Context) -> dict[str, Any]:
    return ctx.cached("provider", lambda: ctx.client.get_json("/admin/api/provider.json")["account"])


def _target(ctx: Context) -> str:
    return ctx.platform.name if ctx.platform is not None else "openshift"


def apply_organisation(ctx: Context) -> StepResult:
    result = StepResult("Organisation")
    org = ctx.catalogue.organisation
    link = ctx.link("/p/admin/account/edit")
    with ctx.client.about("provider account"):
        provider = _provider(ctx)
        changes: dict[str, Any] = {}
        if provider.get("org_name") != org.org_name:
            changes["org_name"] = org.org_name
        sandbox = _target(ctx) == "sandbox"
        if sandbox and provider.get("timezone") != org.timezone:
            changes["timezone"] = org.timezone
        if sandbox and provider.get("multiple_applications_allowed") != org.multiple_applications:
            changes["multiple_applications"] = org.multiple_applications
        if not changes:
            ctx.record(result, "organisation", "org_name", Change.UNCHANGED, org.org_name, link)
        elif not ctx.client.has_master:
            result.notes.append(f"org_name needs the Master API (MASTER_ACCESS_TOKEN); set it to {org.org_name!r} in "
                                f"Account Settings → Overview: {link}")
            ctx.record(result, "organisation", "org_name", Change.SKIPPED, "no master token", link)
        else:
            ctx.write(ctx.client.send_json, "PUT", f"/master/api/providers/{provider['id']}.json",
                      {"account": changes}, master=True)
            for key, value in changes.items():
                ctx.record(result, "organisation", key, Change.UPDATED, f"{provider.get(key)!r} → {value!r}", link)
            ctx.forget("provider")
        if sandbox and "timezone" not in changes:
            ctx.record(result, "organisation", "timezone", Change.UNCHANGED, org.timezone, link)
        elif not sandbox:
            result.notes.append(f"time zone: 3scale has no API for it — set {org.timezone} by hand in Account "
                                f"Settings → Overview ({link})")
            ctx.record(result, "organisation", "timezone", Change.SKIPPED, "manual step", link)
        switch = "Show" if org.multiple_applications else "Hide"
        switches = ctx.link("/p/admin/cms/switches")  # porta Provider::Admin::CMS::SwitchesController
        if sandbox and "multiple_applications" not in changes:
            ctx.record(result, "organisation", "multiple_applications", Change.UNCHANGED, switch, switches)
        elif not sandbox:
            result.notes.append(f"multiple applications: 3scale has no API for the switch — {switch} it by hand in "
                                f"Audience → Developer Portal → Feature Visibility ({switches})")
            ctx.record(result, "organisation", "multiple_applications", Change.SKIPPED, "manual step", switches)
    return result


def apply_policy_registry(ctx: Context) -> StepResult:
    result = StepResult("Custom policy registry")
    policy = ctx.catalogue.policy
    name = f"{policy.name} {policy.version}"
    if _target(ctx) != "sandbox":
        result.notes.append("on OpenShift the CustomPolicyDefinition registers the policy (platform step)")
        ctx.record(result, "registry policy", name, Change.SKIPPED, "CustomPolicyDefinition does it")
        return result
    manifest = json.loads(policy.manifest_file.read_text())
    link = ctx.link("/p/admin/registry/policies")
    with ctx.client.about(f"policy registry entry {name}"):
        body = ctx.client.get_json("/admin/api/registry/policies.json")
        items = [p.get("policy", p) for p in body.get("policies", [])]
        have = next((p for p in items if p.get("name") == policy.name and p.get("version") == policy.version), None)
        if have is None:
            ctx.write(ctx.client.send_json, "POST", "/admin/api/registry/policies.json",
                      {"name": policy.name, "version": policy.version, "schema": manifest})
            ctx.record(result, "registry policy", name, Change.CREATED, f"from {policy.manifest_file.name}", link)
        elif have.get("schema") != manifest:
            ctx.write(ctx.client.send_json, "PUT", f"/admin/api/registry/policies/{have['id']}.json",
                      {"schema": manifest})
            ctx.record(result, "registry policy", name, Change.UPDATED, "schema changed", link)
        else:
            ctx.record(result, "registry policy", name, Change.UNCHANGED, link=link)
    return result
