"""Settings: validation with one-line errors, YAML round trip without tokens, TLS and sandbox defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from maas_helpers.config import load_settings, make_settings, save_settings
from maas_helpers.errors import ConfigError


@pytest.mark.parametrize(("values", "field"), [
    ({"target": "aws"}, "target"),
    ({"cluster_domain": "https://apps.example.com"}, "cluster_domain"),
    ({"cluster_domain": "bad_domain!.com"}, "cluster_domain"),
    ({"namespace": "My_Namespace"}, "namespace"),
    ({"tenant": "-maas"}, "tenant"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"models": [{"name": "m", "url": "ftp://x"}]}, "models.0.url"),
    ({"models": [{"name": "m", "url": "http://x", "kind": "audio"}]}, "models.0.kind"),
    ({"target": "openshift", "cluster_domain": "apps.example.com"}, "models"),
    ({"target": "openshift", "models": [{"name": "m", "url": "http://m:8080"}]}, "cluster_domain"),
    ({"admin_token_file": "x"}, "admin_token_file"),
])
def test_invalid_settings_fail_with_one_line_naming_the_field(values: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_settings(**values)
    message = str(err.value)
    assert "\n" not in message and message.startswith(field), message


def test_sandbox_defaults_and_openshift_values() -> None:
    s = make_settings()
    assert (s.target, s.cluster_domain, s.namespace, s.tenant) == ("sandbox", "sandbox.local", "3scale", "maas")
    assert s.resolved_models("http://127.0.0.1:8933")[0].name == "markov-chat-small"
    assert {m.kind for m in s.resolved_models("http://127.0.0.1:8933")} == {"chat", "completion", "embedding"}
    o = make_settings(target="openshift", cluster_domain="*.Apps.Cluster-abc.example.com.",
                      models=[{"name": "granite-7b", "url": "http://granite-predictor.llm.svc:8080/"}])
    assert o.cluster_domain == "apps.cluster-abc.example.com"
    assert o.models[0].url == "http://granite-predictor.llm.svc:8080"
    assert o.admin_host() == "maas-admin.apps.cluster-abc.example.com"


def test_tls_setting_honours_ca_bundle_and_explicit_off(tmp_path: Path) -> None:
    assert make_settings().tls_verify is True
    assert make_settings(ca_bundle=tmp_path / "ca.crt").tls_verify == str(tmp_path / "ca.crt")
    assert make_settings(verify_tls=False).tls_verify is False


def test_save_and_load_never_write_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAAS_ADMIN_URL", "https://maas-admin.apps.example.com")
    monkeypatch.setenv("MAAS_ADMIN_TOKEN", "secret-token-value-1234")
    path = tmp_path / "maas-config.yaml"
    s = make_settings(org_name="Org", timezone="Europe/Berlin", admin_token="secret-token-value-1234")
    save_settings(s, path)
    text = path.read_text()
    assert "secret-token-value-1234" not in text and "admin_token" not in text
    loaded = load_settings(path)
    assert loaded.org_name == "Org" and loaded.timezone == "Europe/Berlin"
    assert loaded.admin_token is not None and loaded.admin_token.get_secret_value() == "secret-token-value-1234"
    assert "secret-token-value-1234" not in repr(loaded) and "secret-token-value-1234" not in str(loaded)


def test_missing_or_tampered_config_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAAS_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="run notebook 0"):
        load_settings(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"target": "sandbox", "admin_token": "x"}))
    with pytest.raises(ConfigError, match="must not be saved"):
        load_settings(bad)
    monkeypatch.setenv("MAAS_CONFIG", str(tmp_path / "via-env.yaml"))
    save_settings(make_settings(tenant="other"))
    assert load_settings().tenant == "other"
