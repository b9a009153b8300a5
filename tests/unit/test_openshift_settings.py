"""OpenShift settings: channels the kit knows, database modes per channel (3scale operator tag
3scale-2.16.3-GA, controllers/apps/apimanager_controller.go: no internal databases since 2.16)."""

from __future__ import annotations

import pytest

from maas_helpers.config import make_settings
from maas_helpers.errors import ConfigError

MODELS = [{"name": "g", "url": "http://g:8080"}]


def _make(**kw):
    return make_settings(target="openshift", cluster_domain="apps.x.example.com", models=MODELS, **kw)


def test_defaults_deploy_databases_and_pin_rhbk() -> None:
    s = _make()
    assert (s.operator_channel, s.databases, s.sso_channel, s.sso_database) == (
        "threescale-2.16",
        "deploy",
        "stable-v26.0",
        "deploy",
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"operator_channel": "threescale-2.17"},
            "operator_channel: unknown 3scale channel 'threescale-2.17'; "
            "the kit knows threescale-2.15, threescale-2.16",
        ),
        ({"sso_channel": "stable-v26"}, "sso_channel: unknown RHBK channel 'stable-v26'; the kit knows stable-v26.0"),
        ({"databases": "internal"}, "databases: 'internal' is refused by the operator on threescale-2.16"),
        ({"databases": "external"}, "databases: 'external' needs database_secret"),
        ({"sso_database": "external"}, "sso_database: 'external' needs sso_database_secret"),
        ({"database_secret": "My_Secret"}, "database_secret: must be a Kubernetes object name"),
    ],
)
def test_bad_openshift_settings_are_one_line_errors(values, message) -> None:
    with pytest.raises(ConfigError) as info:
        _make(**values)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_internal_databases_allowed_on_2_15() -> None:
    assert _make(operator_channel="threescale-2.15", databases="internal").databases == "internal"
