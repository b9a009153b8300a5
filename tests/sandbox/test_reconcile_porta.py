"""The helpers against porta's shapes (sandbox over HTTP): apply twice = 0 writes with a backend at a sub-path
and a hidden plan, the timezone through the Master API, refused deletes, and the catalogue policy check."""

from __future__ import annotations

from pathlib import Path

import pytest

from maas_helpers.admin_client import AdminClient
from maas_helpers.catalogue import Policy
from maas_helpers.errors import ConfigError, MaasError
from maas_helpers.kit import Kit
from maas_helpers.reconcile import SECTIONS, Reconciler
from maas_helpers.results import Change
from maas_sandbox.control import SandboxInfo

CORE_SECTIONS = [s for s in SECTIONS if s != "sso"]


def _kit(info: SandboxInfo, **values: str) -> Kit:
    return Kit.configure(target="sandbox", state_dir=str(info.state_dir), org_name="MaaS Test Org", **values)


def test_subpath_backend_and_hidden_plan_reapply_makes_no_writes(fresh_sandbox: SandboxInfo) -> None:
    """Content as porta writes it (apicast_v2_deployment_service.rb: api_backend nil, routing rules carry the
    URL) and plans without `description` (plan_representer.rb) compare equal on the second run."""
    kit = _kit(fresh_sandbox)
    catalogue = kit.catalogue.model_copy(deep=True)
    product = catalogue.product("markov-chat-small")
    product.path = "/v1"
    product.plan("premium").published = False
    kit.catalogue = catalogue
    for section in CORE_SECTIONS:
        kit.apply(section)
    admin = kit.admin
    service = next(s for s in admin.threescale.services.list() if s["system_name"] == "markov-chat-small")
    plans = {p["system_name"]: p for p in service.app_plans.list()}
    assert (plans["premium"]["state"], plans["free"]["state"]) == ("hidden", "published")
    staging = admin.get_json(f"/admin/api/services/{service['id']}/proxy/configs/sandbox/latest.json")
    proxy = staging["proxy_config"]["content"]["proxy"]
    assert proxy["api_backend"] is None and "backend_api_configs" not in staging["proxy_config"]["content"]
    routing = next(p for p in proxy["policy_chain"] if p["name"] == "routing")
    assert [r["replace_path"] for r in routing["configuration"]["rules"]] == ["{{uri | remove_first: '/v1'}}"]

    admin.reset_counts()
    again = [kit.apply(section) for section in CORE_SECTIONS]
    assert admin.writes == 0, dict(admin.calls)
    assert all(r.in_sync for r in again)


def test_timezone_set_through_the_master_api(fresh_sandbox: SandboxInfo) -> None:
    """master/api/providers_controller.rb assigns `timezone`; account.rb takes the Rails name (`Berlin`)."""
    kit = _kit(fresh_sandbox, timezone="Europe/Berlin")
    result = kit.apply("organisation")
    zone = next(a for a in result.actions if a.name == "timezone")
    assert (zone.change, zone.detail) == (Change.UPDATED, "Berlin (Europe/Berlin)")
    assert kit.admin.writes == 1
    sid = kit.admin.threescale.services.list()[0]["id"]
    usage = kit.admin.get_json(f"/stats/services/{sid}/usage.json", params={"metric_name": "hits", "period": "day"})
    assert usage["period"]["timezone"] == "Europe/Berlin"  # the provider's zone is now the analytics default
    kit.admin.reset_counts()
    assert kit.apply("organisation").in_sync and kit.admin.writes == 0

    refused = _kit(fresh_sandbox, timezone="Asia/Kolkata")
    with pytest.raises(ConfigError) as err:
        refused.apply("organisation")
    assert "not allowed by 3scale" in str(err.value) and "Kolkata" in str(err.value)
    assert refused.admin.writes == 0


def test_refused_delete_says_what_porta_refused(sandbox: SandboxInfo) -> None:
    """three_scale/api/responder.rb: a refused DELETE is 403 with `errors.base`; not a token problem."""
    admin = AdminClient(sandbox.admin_url, sandbox.admin_token)
    ts = admin.threescale
    service = ts.services.create({"name": "refused-delete", "system_name": "refused_delete"})
    backend = ts.backends.create({"name": "refused-backend", "private_endpoint": "http://127.0.0.1:9"})
    service.backend_usages.create({"backend_api_id": backend["id"], "path": "/"})
    with admin.about("backend refused-backend"), pytest.raises(MaasError) as err:
        admin.request("DELETE", f"/admin/api/backend_apis/{backend['id']}.json")
    message = str(err.value)
    assert err.value.status == 403
    assert message == ("backend refused-backend: 3scale refused to delete it (403: cannot be deleted because it is "
                       "used by at least one Product); remove what still uses it first, then re-run")


def test_catalogue_policy_check_fails_before_any_write(sandbox: SandboxInfo) -> None:
    """porta stores any named, versioned policy (proxy.rb PolicyConfig), so the kit checks its catalogue first:
    an unknown policy or a configuration outside the manifest's schema is one line, nothing written."""
    kit = _kit(sandbox)
    catalogue = kit.catalogue.model_copy(deep=True)
    product = catalogue.products[0]
    product.policies.insert(0, Policy(name="cors", configuration={"allow_methods": ["FETCH"]}))
    kit.catalogue = catalogue
    with pytest.raises(ConfigError) as err:
        kit.apply("policies")
    # every allowed value is named, so the line says how to fix it
    assert str(err.value).startswith(f"product {product.system_name}: policy cors builtin: allow_methods/0: "
                                     '"FETCH" is not one of "GET", "HEAD", "POST", ')
    product.policies[0] = Policy(name="nope")
    with pytest.raises(ConfigError) as err:
        kit.apply()
    assert f"product {product.system_name}: policy nope builtin is not available on this 3scale" in str(err.value)
    assert "\n" not in str(err.value) and kit.admin.writes == 0


def test_without_a_master_token_the_timezone_is_skipped_and_said(sandbox: SandboxInfo, tmp_path: Path) -> None:
    """No master token: nothing is written, the step says what to set by hand and why."""
    kit = _kit(sandbox, timezone="Europe/Berlin")
    admin = AdminClient(sandbox.admin_url, sandbox.admin_token)  # no master_url / master_token
    result = Reconciler(admin, kit.catalogue, state_dir=tmp_path).apply("organisation")
    skipped = {a.name: a.detail for a in result.actions if a.change is Change.SKIPPED}
    assert skipped["timezone"] == "no master token" and admin.writes == 0
    assert any("timezone 'Berlin'" in n and "MASTER_ACCESS_TOKEN" in n for n in result.notes), result.notes
