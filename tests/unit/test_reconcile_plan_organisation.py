"""The organisation and policy-registry planners are pure: provider / registry as observed → actions with the exact
requests. Requests as porta takes them: master/api/providers_controller.rb `update` (org_name, timezone),
admin/api/registry/policies_controller.rb (create with name/version/schema, update by id); the live checks are
tests/sandbox/test_reconcile_porta.py."""

from __future__ import annotations

from maas_helpers.reconcile.actions import Links, Write
from maas_helpers.reconcile.organisation import plan_organisation, plan_policy_registry
from maas_helpers.results import Change, FieldChange

LINKS = Links("https://admin.example")
PROVIDER = {"id": 2, "org_name": "MaaS", "multiple_applications_allowed": True}


def _plan(provider=PROVIDER, zone_set="Berlin", *, switch_api=True, has_master=True, org="MaaS", multiple=True):
    return plan_organisation(org, "Berlin", "Europe/Berlin", multiple, provider, zone_set, switch_api=switch_api,
                             has_master=has_master, links=LINKS)


def test_in_sync_is_three_unchanged_rows_and_no_request() -> None:
    actions, notes = _plan()
    assert [(a.name, a.change, a.detail) for a in actions] == [
        ("multiple_applications", Change.UNCHANGED, "Show"), ("org_name", Change.UNCHANGED, "MaaS"),
        ("timezone", Change.UNCHANGED, "Berlin (Europe/Berlin)")]
    assert all(a.writes == () for a in actions) and notes == []


def test_name_and_zone_go_out_in_one_master_api_update() -> None:
    actions, _ = _plan(zone_set=None, org="New Org")
    assert [(a.name, a.change) for a in actions] == [("multiple_applications", Change.UNCHANGED),
                                                     ("org_name", Change.UPDATED), ("timezone", Change.UPDATED)]
    assert actions[1].writes == (Write("PUT", "/master/api/providers/{}.json",
                                       {"account": {"org_name": "New Org", "timezone": "Berlin"}}, args=(2,),
                                       master=True),)
    assert actions[2].writes == ()  # the same request
    assert actions[1].changes == (FieldChange("org_name", "MaaS", "New Org"),)
    assert (actions[1].detail, actions[2].detail) == ("'MaaS' → 'New Org'", "Berlin (Europe/Berlin)")


def test_a_zone_set_before_shows_old_and_new() -> None:
    actions, _ = _plan(zone_set="London")
    (zone,) = [a for a in actions if a.name == "timezone"]
    assert zone.change is Change.UPDATED and zone.detail == "'London' → 'Berlin'"
    assert zone.writes[0].body == {"account": {"timezone": "Berlin"}}


def test_without_master_token_the_changes_are_skipped_and_said() -> None:
    actions, notes = _plan(zone_set=None, has_master=False)
    assert [(a.name, a.change, a.detail) for a in actions if a.change is Change.SKIPPED] == [
        ("timezone", Change.SKIPPED, "no master token")]
    assert all(a.writes == () for a in actions)
    assert any("timezone 'Berlin'" in n and "MASTER_ACCESS_TOKEN" in n for n in notes)


def test_the_switch_is_sent_only_where_the_platform_has_an_api_for_it() -> None:
    actions, _ = _plan(multiple=False)
    (switch,) = [a for a in actions if a.name == "multiple_applications"]
    assert switch.change is Change.UPDATED and switch.detail == "Hide"
    assert switch.link == "https://admin.example/p/admin/cms/switches"
    assert switch.writes[0].body == {"account": {"multiple_applications": False}}

    actions, notes = _plan(multiple=False, switch_api=False)
    assert [(a.name, a.change, a.detail) for a in actions][0] == ("multiple_applications", Change.SKIPPED,
                                                                  "manual step")
    assert all(a.writes == () for a in actions) and "Hide it by hand" in notes[0]


SCHEMA = {"name": "llm-metrics", "version": "1.0.0", "configuration": {"type": "object"}}


def test_registry_entry_created_updated_or_left() -> None:
    created = plan_policy_registry("llm-metrics", "1.0.0", SCHEMA, "apicast-policy.json", [], LINKS)
    assert created.change is Change.CREATED and created.detail == "from apicast-policy.json"
    assert created.writes == (Write("POST", "/admin/api/registry/policies.json",
                                    {"name": "llm-metrics", "version": "1.0.0", "schema": SCHEMA}),)
    other_version = {"id": 4, "name": "llm-metrics", "version": "0.9.0", "schema": SCHEMA}
    assert plan_policy_registry("llm-metrics", "1.0.0", SCHEMA, "f", [other_version], LINKS).change is Change.CREATED
    stale = {"id": 5, "name": "llm-metrics", "version": "1.0.0", "schema": {"name": "old"}}
    updated = plan_policy_registry("llm-metrics", "1.0.0", SCHEMA, "f", [stale], LINKS)
    assert (updated.change, updated.detail) == (Change.UPDATED, "schema changed")
    assert updated.writes == (Write("PUT", "/admin/api/registry/policies/{}.json", {"schema": SCHEMA}, args=(5,)),)
    same = plan_policy_registry("llm-metrics", "1.0.0", SCHEMA, "f", [{**stale, "schema": SCHEMA}], LINKS)
    assert same.change is Change.UNCHANGED and same.writes == ()
    assert same.link == "https://admin.example/p/admin/registry/policies"


def test_the_sandbox_platform_only_renders_the_definition_and_leaves_the_registry_to_the_section(tmp_path) -> None:
    """No Admin API call and no Reconciler from the platform step: the `policy_registry` section fills the
    registry because the platform says `policy_registry = "admin_api"`."""
    import ast
    from pathlib import Path

    from maas_helpers.config import make_settings
    from maas_helpers.platform import sandbox

    tree = ast.parse(Path(sandbox.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(m and m.startswith("maas_helpers.reconcile") for m in imported), imported
    platform = sandbox.SandboxPlatform(make_settings(target="sandbox", state_dir=str(tmp_path)), start=False)
    result = platform.ensure_custom_policy_definition()  # would raise if it needed the (absent) sandbox
    assert [(a.kind, a.change) for a in result.actions] == [("CustomPolicyDefinition", Change.SKIPPED)]
    assert any("policy_registry" in n for n in result.notes)
    assert (platform.policy_registry, platform.provider_switches_api, platform.sso_registration_allowed) == (
        "admin_api", True, True)
