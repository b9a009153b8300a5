"""Organisation name and time zone (Master API provider update), the multiple-applications switch (a sandbox
extension of that call; a manual step on a real 3scale), and the llm-metrics policy in the tenant's policy
registry (filled here through the Admin API only where the platform says so: on a cluster the operator
registers it from the CustomPolicyDefinition).

porta's Master API provider update assigns `timezone` (master/api/providers_controller.rb), which must be a
Rails zone name with a whole-hour offset (account.rb `validate_timezone`); the catalogue's IANA name is mapped
(maas_helpers/timezones.py). No 3scale representation shows the timezone (account_representer.rb), so the
kit remembers what it set in its state dir and sends it again only when the catalogue's zone changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from maas_helpers.reconcile.actions import Action, FieldChange, Links, Write, act
from maas_helpers.reconcile.context import Context
from maas_helpers.results import Change, StepResult
from maas_helpers.timezones import rails_zone

ACCOUNT_EDIT = "/p/admin/account/edit"
SWITCHES = "/p/admin/cms/switches"  # porta Provider::Admin::CMS::SwitchesController
REGISTRY = "/admin/api/registry/policies.json"


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


def plan_organisation(org_name: str, zone: str, iana_zone: str, multiple_applications: bool,
                      provider: Mapping[str, Any], timezone_set: str | None, *, switch_api: bool, has_master: bool,
                      links: Links) -> tuple[list[Action], list[str]]:
    """The provider's name, zone and (where `switch_api`) multiple-applications switch → actions and notes.

    All changes go out in one Master API provider update (on the first changed row); `timezone_set` is the zone
    the kit last set (3scale shows none)."""
    link, switches = links.page(ACCOUNT_EDIT), links.page(SWITCHES)
    shown = zone if zone == iana_zone else f"{zone} ({iana_zone})"
    switch = "Show" if multiple_applications else "Hide"
    changes: dict[str, FieldChange] = {}
    if provider.get("org_name") != org_name:
        changes["org_name"] = FieldChange("org_name", provider.get("org_name"), org_name)
    if timezone_set != zone:
        changes["timezone"] = FieldChange("timezone", timezone_set, zone)
    if switch_api and provider.get("multiple_applications_allowed") != multiple_applications:
        changes["multiple_applications"] = FieldChange("multiple_applications",
                                                       provider.get("multiple_applications_allowed"),
                                                       multiple_applications)
    actions: list[Action] = []
    notes: list[str] = []
    if not switch_api:
        notes.append(f"multiple applications: 3scale has no API for the switch — {switch} it by hand in "
                     f"Audience → Developer Portal → Feature Visibility ({switches})")
        actions.append(act("organisation", "multiple_applications", Change.SKIPPED, detail="manual step",
                           link=switches))
    elif "multiple_applications" not in changes:
        actions.append(act("organisation", "multiple_applications", Change.UNCHANGED, detail=switch, link=switches))
    unchanged = [act("organisation", key, Change.UNCHANGED, detail=detail, link=link)
                 for key, detail in (("org_name", org_name), ("timezone", shown)) if key not in changes]
    if not changes:
        return actions + unchanged, notes
    if not has_master:
        wanted = " and ".join(f"{k} {c.new!r}" for k, c in changes.items())
        notes.append(f"no master token (MASTER_ACCESS_TOKEN), so the Master API cannot set {wanted}: "
                     f"set them in Account Settings → Overview ({link}), or give the kit the token")
        return actions + [act("organisation", key, Change.SKIPPED, detail="no master token", link=link)
                          for key in changes], notes
    write = Write("PUT", "/master/api/providers/{}.json", {"account": {k: c.new for k, c in changes.items()}},
                  args=(provider["id"],), master=True)
    for index, (key, change) in enumerate(changes.items()):
        writes = (write,) if index == 0 else ()
        if key == "timezone":
            detail = f"{change.old!r} → {change.new!r}" if change.old else shown
            actions.append(act("organisation", key, Change.UPDATED, *writes, changes=[change], detail=detail,
                               link=link))
        elif key == "multiple_applications":
            actions.append(act("organisation", key, Change.UPDATED, *writes, changes=[change], detail=switch,
                               link=switches))
        else:
            actions.append(act("organisation", key, Change.UPDATED, *writes, changes=[change],
                               detail=f"{change.old!r} → {change.new!r}", link=link))
    return actions + unchanged, notes


def apply_organisation(ctx: Context) -> StepResult:
    result = StepResult("Organisation")
    org = ctx.catalogue.organisation
    zone = rails_zone(org.timezone)  # a zone 3scale does not allow stops here, before any write
    with ctx.client.about("provider account"):
        account = ctx.provider()
        actions, notes = plan_organisation(
            org.org_name, zone, org.timezone, org.multiple_applications, account,
            _timezone_set(ctx, account.get("id")), switch_api=_platform_says(ctx, "provider_switches_api", False),
            has_master=ctx.client.has_master, links=ctx.links)
        result.notes.extend(notes)
        ctx.execute(result, actions)
    if any(a.writes for a in actions) and not ctx.plan_only:
        if any(a.name == "timezone" and a.change is Change.UPDATED for a in actions):
            _remember_timezone(ctx, account.get("id"), zone)
        ctx.forget("provider")
    return result


def _platform_says(ctx: Context, capability: str, default: Any) -> Any:
    """What the platform says it does (see `Platform` in maas_helpers/platform/base.py); without a platform,
    what a real 3scale on a cluster does."""
    return getattr(ctx.platform, capability, default) if ctx.platform is not None else default


# --- the tenant's policy registry -----------------------------------------------------------------------------
def plan_policy_registry(name: str, version: str, schema: Mapping[str, Any], source: str,
                         observed: list[Mapping[str, Any]], links: Links) -> Action:
    """The registry entry `name` `version` with the policy's manifest as its schema (porta
    admin/api/registry/policies_controller.rb: create with name/version/schema, update the schema by id)."""
    label, link = f"{name} {version}", links.page("/p/admin/registry/policies")
    have = next((p for p in observed if p.get("name") == name and p.get("version") == version), None)
    if have is None:
        return act("registry policy", label, Change.CREATED,
                   Write("POST", REGISTRY, {"name": name, "version": version, "schema": dict(schema)}),
                   detail=f"from {source}", link=link)
    if have.get("schema") != schema:
        return act("registry policy", label, Change.UPDATED,
                   Write("PUT", "/admin/api/registry/policies/{}.json", {"schema": dict(schema)}, args=(have["id"],)),
                   changes=[FieldChange("schema", have.get("schema"), dict(schema))], detail="schema changed",
                   link=link)
    return act("registry policy", label, Change.UNCHANGED, link=link)


def registry_by_admin_api(ctx: Context) -> bool:
    """On the sandbox the Admin API registers the custom policy; on OpenShift a CustomPolicyDefinition does."""
    return bool(_platform_says(ctx, "policy_registry", "custom_policy_definition") == "admin_api")


def registry(ctx: Context) -> dict[str, Any]:
    """The tenant's custom policy registry (one listing per run)."""
    return ctx.cached("registry", lambda: ctx.client.get_json(REGISTRY))


def apply_policy_registry(ctx: Context) -> StepResult:
    result = StepResult("Custom policy registry")
    policy = ctx.catalogue.policy
    if not registry_by_admin_api(ctx):
        result.notes.append("on OpenShift the CustomPolicyDefinition registers the policy (platform step)")
        ctx.record_action(result, act("registry policy", f"{policy.name} {policy.version}", Change.SKIPPED,
                                      detail="CustomPolicyDefinition does it"))
        return result
    manifest = json.loads(policy.manifest_file.read_text())
    with ctx.client.about(f"policy registry entry {policy.name} {policy.version}"):
        observed = [p.get("policy", p) for p in registry(ctx).get("policies", [])]
        action = plan_policy_registry(policy.name, policy.version, manifest, policy.manifest_file.name, observed,
                                      ctx.links)
        ctx.execute(result, [action])
    if action.writes and not ctx.plan_only:
        ctx.forget("registry")
    return result
