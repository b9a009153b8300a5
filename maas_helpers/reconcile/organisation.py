"""Organisation name and time zone (Master API provider update), the multiple-applications switch (a sandbox
extension of that call; a manual step on a real 3scale), and the llm-metrics policy in the tenant's policy
registry (sandbox only: on a cluster the CustomPolicyDefinition registers it).

porta's Master API provider update assigns `timezone` (master/api/providers_controller.rb), which must be a
Rails zone name with a whole-hour offset (account.rb `validate_timezone`); the catalogue's IANA name is mapped
(maas_helpers/timezones.py). No 3scale representation shows the timezone (account_representer.rb), so the
kit remembers what it set in its state dir and sends it again only when the catalogue's zone changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from maas_helpers.reconcile.context import Context
from maas_helpers.results import Change, StepResult
from maas_helpers.timezones import rails_zone


def _provider(ctx: Context) -> dict[str, Any]:
    return ctx.cached("provider", lambda: ctx.client.get_json("/admin/api/provider.json")["account"])


def _target(ctx: Context) -> str:
    return ctx.platform.name if ctx.platform is not None else "openshift"


def _timezone_record(ctx: Context) -> Path | None:
    return Path(ctx.state_dir) / "organisation-timezone.json" if ctx.state_dir is not None else None


def _timezone_set(ctx: Context, provider_id: Any) -> str | None:
    """The zone this kit last set on this provider (None: never, or no state dir)."""
    path = _timezone_record(ctx)
    try:
        record = json.loads(path.read_text()) if path is not None else {}
    except (OSError, ValueError):
        return None
    return record.get("timezone") if record.get("provider_id") == provider_id else None


def _remember_timezone(ctx: Context, provider_id: Any, zone: str) -> None:
    path = _timezone_record(ctx)
    if path is not None and not ctx.plan_only:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"provider_id": provider_id, "timezone": zone}) + "\n")


def apply_organisation(ctx: Context) -> StepResult:
    result = StepResult("Organisation")
    org = ctx.catalogue.organisation
    link = ctx.link("/p/admin/account/edit")
    zone = rails_zone(org.timezone)  # a zone 3scale does not allow stops here, before any write
    shown = zone if zone == org.timezone else f"{zone} ({org.timezone})"
    with ctx.client.about("provider account"):
        provider = _provider(ctx)
        changes: dict[str, Any] = {}
        if provider.get("org_name") != org.org_name:
            changes["org_name"] = org.org_name
        if _timezone_set(ctx, provider.get("id")) != zone:
            changes["timezone"] = zone
        sandbox = _target(ctx) == "sandbox"
        if sandbox and provider.get("multiple_applications_allowed") != org.multiple_applications:
            changes["multiple_applications"] = org.multiple_applications
        switch = "Show" if org.multiple_applications else "Hide"
        switches = ctx.link("/p/admin/cms/switches")  # porta Provider::Admin::CMS::SwitchesController
        if not sandbox:
            result.notes.append(f"multiple applications: 3scale has no API for the switch — {switch} it by hand in "
                                f"Audience → Developer Portal → Feature Visibility ({switches})")
            ctx.record(result, "organisation", "multiple_applications", Change.SKIPPED, "manual step", switches)
        elif "multiple_applications" not in changes:
            ctx.record(result, "organisation", "multiple_applications", Change.UNCHANGED, switch, switches)
        if not changes:
            ctx.record(result, "organisation", "org_name", Change.UNCHANGED, org.org_name, link)
            ctx.record(result, "organisation", "timezone", Change.UNCHANGED, shown, link)
            return result
        if not ctx.client.has_master:
            wanted = " and ".join(f"{k} {v!r}" for k, v in changes.items())
            result.notes.append(f"no master token (MASTER_ACCESS_TOKEN), so the Master API cannot set {wanted}: "
                                f"set them in Account Settings → Overview ({link}), or give the kit the token")
            for key in changes:
                ctx.record(result, "organisation", key, Change.SKIPPED, "no master token", link)
            return result
        ctx.write(ctx.client.send_json, "PUT", f"/master/api/providers/{provider['id']}.json",
                  {"account": changes}, master=True)
        for key, value in changes.items():
            if key == "timezone":
                before = _timezone_set(ctx, provider.get("id"))
                ctx.record(result, "organisation", key, Change.UPDATED, f"{before!r} → {value!r}" if before else shown,
                           link)
            elif key == "multiple_applications":
                ctx.record(result, "organisation", key, Change.UPDATED, switch, switches)
            else:
                ctx.record(result, "organisation", key, Change.UPDATED, f"{provider.get(key)!r} → {value!r}", link)
        if "timezone" in changes:
            _remember_timezone(ctx, provider.get("id"), zone)
        if "org_name" not in changes:
            ctx.record(result, "organisation", "org_name", Change.UNCHANGED, org.org_name, link)
        if "timezone" not in changes:
            ctx.record(result, "organisation", "timezone", Change.UNCHANGED, shown, link)
        ctx.forget("provider")
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
