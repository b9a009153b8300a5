"""`maas run -p` (issue 29 item 1): an unknown key or a bad value is one line naming the key (and the close
match), exit 2, before the sandbox starts, a notebook runs or the out dir is touched. The keys are the tutorial
notebooks' own parameters, read as papermill reads them (`papermill.inspect_notebook`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from maas_helpers.cli import app
from maas_helpers.errors import ConfigError
from maas_helpers.run_params import check_params, declared_parameters, typed_value
from maas_helpers.runner import list_notebooks

from harness.ports import serve_http

runner = CliRunner()


@pytest.fixture(scope="module")
def declared():
    return declared_parameters(list_notebooks())


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("MAAS_CONFIG", "MAAS_ADMIN_URL", "MAAS_ADMIN_TOKEN", "MAAS_STATE_DIR", "MAAS_KUBECONFIG",
                "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(var, raising=False)


def _run(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, ["run", "--state-dir", str(tmp_path / "state"), "--out-dir", str(tmp_path / "out"),
                               *args], env=env)


def _nothing_happened(tmp_path: Path) -> None:
    assert not (tmp_path / "state").exists(), "a sandbox was started"
    assert not (tmp_path / "out").exists(), "the out dir was written"


def _errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize(("param", "expected"), [
    ("org_nmae=Typo Corp", "-p org_nmae: no notebook has this parameter; did you mean org_name?"),
    ("colour=blue", "-p colour: no notebook has this parameter; parameters: attendees, cluster_domain,"),
    ("concurrency=-3", "-p concurrency=-3: Input should be greater than or equal to 1"),
    ("concurrency=4", "-p concurrency: a maas-config.yaml setting that no notebook takes as a parameter"),
    ("tenant=Bad_Name", "-p tenant: must be an RFC 1123 label"),
    ("timezone=Mars/Base", "-p timezone: must be an IANA time zone"),
    ("rate_limit_demo=maybe", "-p rate_limit_demo=maybe: expected true or false (10_developer_journey)"),
    ("wait_timeout=soon", "-p wait_timeout=soon: expected a whole number (01_operator_and_policy, 02_"),
    ("attendees=0", "-p workshop: attendees must be between 1 and 500 (got 0)"),
    ("target=openshift", "-p target: use --target"),
    ("config_path=/tmp/x.yaml", "-p config_path: maas run sets it"),
])
def test_bad_parameter_is_one_line_before_anything_runs(tmp_path: Path, param: str, expected: str) -> None:
    result = _run(tmp_path, "-p", param)
    assert result.exit_code == 2, result.output
    errors = _errors(result.output)
    assert len(errors) == 1 and errors[0].startswith(f"error: {expected}"), result.output
    assert result.output.count(expected) == 1  # printed once
    _nothing_happened(tmp_path)


def test_every_bad_key_is_named_once(tmp_path: Path) -> None:
    result = _run(tmp_path, "-p", "org_nmae=x", "-p", "colour=blue", "-p", "tenant=ok")
    errors = _errors(result.output)
    assert result.exit_code == 2 and len(errors) == 2, result.output
    assert "org_nmae" in errors[0] and "colour" in errors[1]
    _nothing_happened(tmp_path)


def test_values_are_typed_like_the_declared_default(declared) -> None:
    typed = check_params({"prefix": "team", "developer": "007", "attendees": "12", "rate_limit_demo": "false",
                          "models": "[{name: m, url: 'http://m:8080'}]", "org_name": "ACME: AI"},
                         declared, target="sandbox", state_dir=Path(".maas"))
    assert typed["developer"] == "007"  # a text parameter keeps the text YAML would read as 7
    assert typed["attendees"] == 12 and typed["rate_limit_demo"] is False
    assert typed["models"] == [{"name": "m", "url": "http://m:8080"}] and typed["org_name"] == "ACME: AI"
    assert typed_value("[a, b]", None) == ["a", "b"] and typed_value("2026-01-01", None) == "2026-01-01"


def test_workshop_keys_without_a_prefix_let_the_notebook_draw_one(declared) -> None:
    """Notebook 12 declares `prefix = None` (a new unguessable prefix, issue 23): -p attendees alone is valid."""
    assert declared["prefix"].default is None
    assert check_params({"attendees": "5"}, declared, target="sandbox", state_dir=Path(".maas")) == {"attendees": 5}
    with pytest.raises(ConfigError, match="not a valid username prefix"):
        check_params({"attendees": "5", "prefix": "No Good"}, declared, target="sandbox", state_dir=Path(".maas"))


def test_notebook_parameters_of_the_room_and_the_cost_are_accepted(declared) -> None:
    """`-p out_dir=…` (tests/notebooks/conftest.py) and notebook 11's `priced_tokens`; report_dir stays the runner's."""
    typed = check_params({"out_dir": "/tmp/room", "priced_tokens": "3000"}, declared, target="sandbox",
                         state_dir=Path(".maas"))
    assert typed == {"out_dir": "/tmp/room", "priced_tokens": 3000}
    assert {"out_dir", "report_dir"} <= set(declared) and "12_workshop" in declared["report_dir"].notebooks
    with pytest.raises(ConfigError, match="report_dir: maas run sets it"):
        check_params({"report_dir": "/tmp/x"}, declared, target="sandbox", state_dir=Path(".maas"))


def test_declared_parameters_come_from_the_parameters_cells(declared) -> None:
    assert declared["org_name"].notebooks == ("00_configure",)
    assert declared["confirm_teardown"].default is False
    assert declared["config_path"].notebooks[0] == "00_configure" and len(declared["config_path"].notebooks) == 14


def test_openshift_needs_its_required_settings_before_anything(declared) -> None:
    with pytest.raises(ConfigError, match="cluster_domain: required for target openshift"):
        check_params({}, declared, target="openshift", state_dir=Path(".maas"))


# --- issue 29 item 8: OpenShift credentials are checked before notebook 0 ------------------------------------

OPENSHIFT = ["--target", "openshift", "-p", "cluster_domain=apps.cluster-abc.example.com",
             "-p", "models=[{name: granite, url: 'http://granite.llm:8080'}]"]


def test_openshift_without_a_kubeconfig_stops_before_notebook_0(tmp_path: Path) -> None:
    result = _run(tmp_path, *OPENSHIFT, env={"MAAS_KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path)})
    errors = _errors(result.output)
    assert result.exit_code == 2 and len(errors) == 1, result.output
    assert "no Kubernetes credentials" in errors[0] and "oc login" in errors[0]
    assert "00_configure" not in result.output
    _nothing_happened(tmp_path)


class _Unauthorized(BaseHTTPRequestHandler):
    """Answers like kube-apiserver to a bad bearer token: 401 with a v1 Status body, on every path."""

    def _deny(self) -> None:
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": "Unauthorized", "reason": "Unauthorized", "code": 401}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _deny

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api_server() -> Iterator[str]:
    with serve_http(_Unauthorized) as url:
        yield url


def test_openshift_with_rejected_credentials_stops_before_notebook_0(tmp_path: Path, api_server: str) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": api_server}}],
        "users": [{"name": "u", "user": {"token": "sha256~expired-token-value"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }))
    result = _run(tmp_path, *OPENSHIFT, env={"MAAS_KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)})
    errors = _errors(result.output)
    assert result.exit_code == 2 and len(errors) == 1, result.output
    assert "rejected the credentials (401)" in errors[0] and "oc login" in errors[0]
    assert "expired-token-value" not in result.output
    _nothing_happened(tmp_path)
