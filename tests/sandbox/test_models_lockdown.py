"""Discovery and the lock on a live sandbox, over real HTTP: `maas models discover` lists the model server's three
models; with the kit's catalogue applied, each product carries a generated secret token (0600, masked, re-apply
writes nothing), a direct call to the model server is refused and every gateway call still works.

Upstream: APIcast sends the proxy's `secret_token` upstream as `X-3scale-proxy-secret-token`
(gateway/conf.d/apicast.conf); porta validates it with APP_OR_USER_KEY and ≤ 255 characters and defaults it to
`Shared_secret_sent_from_proxy_to_API_backend_<16 hex>` (app/models/proxy.rb).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import requests
from typer.testing import CliRunner

from maas_helpers.cli import app as cli_app
from maas_helpers.config import SANDBOX_MODELS
from maas_helpers.kit import Kit
from maas_sandbox.control import SandboxInfo

from harness import loopback as lb
from harness.sandbox import applied_kit, running

NAMES = [name for name, _, _ in SANDBOX_MODELS]


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    with running(tmp_path_factory.mktemp("lockdown") / "state") as info:
        yield info


@pytest.fixture(scope="module")
def kit(sb) -> Kit:
    return applied_kit(sb, "Lockdown Org")


def test_maas_models_discover_lists_the_three_sandbox_models(sb) -> None:
    result = CliRunner().invoke(cli_app, ["models", "discover", "--state-dir", str(sb.state_dir)],
                                env={"COLUMNS": "250", "MAAS_CONFIG": str(sb.state_dir / "none.yaml")})
    assert result.exit_code == 0, result.output
    assert "3 model(s)" in result.output
    for name in NAMES:
        assert name in result.output
    assert sb.models_url in result.output


def test_discover_rows_are_ready_verified_and_give_the_form_its_entries(sb) -> None:
    kit = Kit.configure(target="sandbox", state_dir=str(sb.state_dir))
    found = kit.models.discover()
    assert [r.name for r in found.rows] == NAMES and found.unreadable == []
    assert all(r.ready and r.verified and r.url == sb.models_url for r in found.rows)
    entries = kit.models.endpoints(found)
    assert [(e.name, e.kind, e.source) for e in entries] == [
        (n, k, "sandbox model server") for n, k, _ in SANDBOX_MODELS]


def test_each_product_gets_its_own_secret_token_masked_and_kept(sb, kit) -> None:
    tokens = {}
    for product in kit.catalogue.products:
        service = lb.Admin(sb).call("GET", "/admin/api/services.json")["services"]
        sid = next(s["service"]["id"] for s in service if s["service"]["system_name"] == product.system_name)
        proxy = lb.Admin(sb).call("GET", f"/admin/api/services/{sid}/proxy.json")["proxy"]
        path = Path(sb.state_dir) / f"proxy-secret-token-{product.system_name}.secret"
        assert proxy["secret_token"] == path.read_text()  # the kit's, not porta's default
        assert path.stat().st_mode & 0o777 == 0o600
        tokens[product.system_name] = proxy["secret_token"]
    assert len(set(tokens.values())) == len(tokens)
    kit.admin.reset_counts()
    again = kit.apply("authentication")
    assert kit.admin.writes == 0, "re-apply must write nothing"
    shown = str(again) + repr(again.actions)
    assert not any(t in shown for t in tokens.values())


def test_direct_calls_are_refused_and_gateway_calls_work(sb, kit) -> None:
    for section in ("policies", "promote"):
        kit.apply(section)
    check = kit.models.verify_lockdown()
    assert check.ok, str(check)
    assert len(check.checked) == 2 * len(NAMES), str(check)  # each product: refused directly, 200 through 3scale
    # the same with the OpenAI SDK: directly a PermissionDeniedError, through the gateway the model
    direct = openai.OpenAI(base_url=sb.models_url + "/v1", api_key="anything", max_retries=0, timeout=10)
    with pytest.raises(openai.PermissionDeniedError, match="3scale gateway"):
        direct.chat.completions.create(model=NAMES[0], messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
    keys = kit.application_keys()
    links = kit.links()
    for product in kit.catalogue.products:
        endpoint = links[f"{product.system_name} (production)"]
        client = openai.OpenAI(base_url=endpoint + "/v1", api_key=keys[product.system_name], max_retries=0,
                               timeout=10)
        if product.kind == "embedding":
            assert client.embeddings.create(model=product.model, input="hello").data
        elif product.kind == "completion":
            assert client.completions.create(model=product.model, prompt="def ", max_tokens=4).choices
        else:
            reply = client.chat.completions.create(model=product.model, max_tokens=4,
                                                   messages=[{"role": "user", "content": "Hi"}])
            assert reply.choices
    # and a forged header is no key: the gateway replaces it, a direct call with it is refused
    forged = requests.get(sb.models_url + "/v1/models", timeout=10,
                          headers={"X-3scale-proxy-secret-token": "Shared_secret_sent_from_proxy_to_API_backend_x"})
    assert forged.status_code == 403


def test_the_request_log_is_behind_the_admin_token(sb) -> None:
    for path in ("/sandbox/last-request", "/sandbox/requests"):
        assert requests.get(sb.models_url + path, timeout=10).status_code == 401
    assert requests.delete(sb.models_url + "/sandbox/requests", timeout=10).status_code == 401
    assert lb.model_server_log(sb, "/sandbox/requests").status_code == 200




def test_plan_notes_a_saved_model_that_the_server_no_longer_serves(sb) -> None:
    kit = Kit.configure(target="sandbox", state_dir=str(sb.state_dir), models=[
        {"name": "markov-chat-small", "url": sb.models_url, "source": "sandbox model server"},
        {"name": "retired-model", "url": sb.models_url, "source": "sandbox model server"}])
    assert kit.models.gone() == ["model retired-model: the sandbox model server no longer serves it"]
    assert "model retired-model: the sandbox model server no longer serves it" in kit.plan().notes
