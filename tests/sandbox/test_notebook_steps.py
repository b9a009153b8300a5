"""The notebook API (maas_helpers/steps.py) against a running sandbox over real HTTP: each step object's
plan / apply / list agree with the reconcile sections it owns and with what the Admin API holds afterwards; the
portal check fails before the kit's content is published and passes after; the teardown preview lists exactly
what the teardown then removes (destroy's own code plus the developer accounts of the same lookup)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from maas_helpers.journey import ROUTING_CLAIMS, verify_routing
from maas_helpers.kit import Kit
from maas_helpers.reconcile import SECTIONS
from maas_helpers.results import Change
from maas_helpers.steps import Step
from maas_sandbox.control import SandboxInfo


def _names(result) -> list[tuple[str, str, str]]:
    return [(a.kind, a.name, a.change.value) for a in result.actions]


def test_a_step_refuses_an_unknown_section() -> None:
    with pytest.raises(ValueError, match="unknown reconcile section"):
        Step(Kit.configure(target="sandbox"), "typo", ("backend",))


def test_the_notebook_steps_cover_every_reconcile_section_once_in_order() -> None:
    """Running the notebooks' steps one after another applies what `kit.apply()` applies, in its order."""
    kit = Kit.configure(target="sandbox")
    steps = [kit.tenant, kit.backends, kit.products, kit.policies, kit.plans, kit.active_docs, kit.portal, kit.sso]
    owned = [s for step in steps for s in step.sections]
    assert sorted(owned) == sorted(SECTIONS) and len(owned) == len(set(owned))
    for step in steps:  # each step's sections keep the reconciler's order
        assert list(step.sections) == sorted(step.sections, key=list(SECTIONS).index), step


def test_steps_plan_apply_list_then_teardown(fresh_sandbox: SandboxInfo, capsys: pytest.CaptureFixture[str]) -> None:
    kit = Kit.configure(target="sandbox", state_dir=str(fresh_sandbox.state_dir), org_name="Steps Org")
    products = kit.catalogue.products
    backends = {p.backend.system_name: p.backend.private_endpoint for p in products}

    # platform steps on the sandbox: the manifests are rendered and reported as skipped, 3scale is available
    installed = kit.operator.install()
    assert {a.kind for a in installed.actions} >= {"Namespace", "OperatorGroup", "Subscription", "Secret"}
    assert {a.change for a in installed.actions} == {Change.SKIPPED}
    assert "init.lua: <" in str(kit.operator.manifests())
    status = kit.operator.status()  # the sandbox has no operator: ready, and it says why there is no CSV
    assert status["ready"] and status["installed_csv"] is None and "no operator" in status["phase"]
    assert kit.apimanager.status()["available"] is True

    # a one-section step: plan writes nothing, apply creates what plan said, list shows it, re-plan is in sync
    planned = kit.backends.plan()
    assert kit.admin.writes == 0
    assert sorted(a.name for a in planned.actions if a.change is Change.PLANNED_CREATE) == sorted(backends)
    assert not set(backends) & set(kit.backends.list().system_name)
    applied = kit.backends.apply()
    assert sorted(a.name for a in applied.actions if a.change is Change.CREATED) == sorted(backends)
    listed = kit.backends.list()
    assert dict(zip(listed.system_name, listed.private_endpoint, strict=True)).items() >= backends.items()
    assert kit.backends.plan().in_sync

    # a multi-section step is its sections in order, in one table
    sections = [kit.plan(s) for s in kit.products.sections]
    assert _names(kit.products.plan()) == [row for r in sections for row in _names(r)]
    kit.tenant.apply()
    assert kit.tenant.list()["org_name"] == "Steps Org" and kit.tenant.plan().in_sync
    kit.products.apply()
    rules = kit.products.list()
    chat = products[0].system_name
    assert set(rules[(rules["product"] == chat) & (rules.pattern == "/v1/chat/completions$")].http_method) == {"POST"}
    assert kit.products.plan().in_sync and kit.products.sample_plans() == []
    assert set(kit.products.links().frame()["product"]) == {p.system_name for p in products}
    for step in (kit.policies, kit.plans, kit.active_docs):
        assert step.apply().writes > 0 and step.plan().in_sync
    limits = kit.plans.list()
    assert {"free", "standard", "premium"} <= set(limits.plan) and limits.published.all()
    assert (kit.policies.list().production == kit.policies.list().staging).all()
    docs = kit.active_docs.list()
    assert (docs.server == docs.production_endpoint).all() and len(docs) == len(products)

    # notebook 8's check fails while the portal serves 3scale's defaults, passes once ours is published
    before = kit.portal.served()
    assert len(before) >= 2 and not before.ours.any(), before.to_string()
    kit.portal.apply()
    after = kit.portal.served()
    assert after.ours.all(), after.to_string()
    assert kit.portal.plan().in_sync

    # the developer's journey signs up an account the teardown then knows about
    journey = kit.journey.start("steps-dev")
    assert len(journey.apps) == len(products) and list(kit.journey.list().username) == ["steps-dev"]
    # the OpenAI SDK both ways: a stream is chunks, a plain call one answer (it used to iterate the answer object)
    for stream in (True, False):
        sdk = journey.call_with_openai_sdk(stream=stream)
        assert (sdk.status == "ok").all() and (sdk.text.str.len() > 0).all(), sdk.to_string()
        assert (sdk.chunks > 1).any() if stream else (sdk.chunks == 1).all(), sdk.to_string()
    # issue 29 item 5: notebook 10's routing checks run with two products; with one, the cross-product ones are
    # rows without a status that say why, and the Verify helper prints "not checked" instead of passing silently
    assert verify_routing(journey.check_routing()) == list(ROUTING_CLAIMS)
    capsys.readouterr()
    alone = replace(journey, apps=[a for a in journey.apps if a.kind == "chat"][:1])
    routing = alone.check_routing()
    skipped = routing[routing.status.isna()]
    assert list(skipped.check) == ["key of another product", "another model's name"], routing.to_string()
    assert skipped.body.str.contains("only one product").all()
    assert verify_routing(routing) == ["chat answers POST", "no GET rule for chat"]
    printed = capsys.readouterr().out
    assert "not checked: another product's key was refused — only one product (" in printed, printed

    writes = kit.admin.writes
    preview = kit.teardown.plan()
    assert kit.admin.writes == writes
    destroy_preview = kit.reconciler.plan_destroy()
    assert _names(preview) == [("developer account", "steps-dev", "would delete"), *_names(destroy_preview)]
    assert {a.change for a in preview.actions} == {Change.PLANNED_DELETE}
    removed = kit.teardown.apply()
    done = [(kind, name) for kind, name, change in _names(removed) if change == "deleted"]
    assert done == [(kind, name) for kind, name, _ in _names(preview)]
    assert kit.teardown.plan().actions == [] and kit.journey.list().empty
    assert not set(backends) & set(kit.backends.list().system_name)
