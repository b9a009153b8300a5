"""Secrets (issue 8): no admin token, client secret or key in the repository, in executed notebooks under
build/, or in sandbox logs — checked by tools/check_secrets.py, which is itself shown to catch a leak."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from maas_sandbox.control import SandboxInfo

from harness import loopback as lb
from harness.secrets import check_secrets

ROOT = Path(__file__).resolve().parents[2]


cs = check_secrets()


def test_repository_has_no_secrets() -> None:
    findings = cs.scan(cs.repo_files(ROOT), {}, shapes=True)
    assert [str(f) for f in findings] == []


def test_sandbox_logs_hold_no_token_or_key_after_traffic(secured: SandboxInfo) -> None:
    admin = lb.Admin(secured)
    product = lb.build_product(admin, credentials="query")
    app = product.new_app()
    # the riskiest traffic for a log: keys and tokens in URLs, failures that get logged
    for key in (app.key, app.key + "x", ""):
        requests.get(product.production + "/v1/models", params={"user_key": key}, timeout=10)
    requests.get(secured.admin_url + "/admin/api/services/999999.json",
                 params={"access_token": secured.admin_token}, timeout=10)
    requests.get(secured.admin_url + "/admin/api/services.json", params={"access_token": "wrong"}, timeout=10)
    known = cs.known_secrets(secured.state_dir)
    assert secured.admin_token in known and secured.master_token in known and app.key in known
    logs = cs.tree_files(secured.state_dir / "logs")
    assert logs, "the sandbox wrote no logs: nothing was checked"
    assert [str(f) for f in cs.scan(logs, known, shapes=True)] == []


def test_executed_notebooks_hold_no_secrets() -> None:
    build = ROOT / "build"
    notebooks = list(build.rglob("*.ipynb")) if build.is_dir() else []
    if not notebooks:
        pytest.skip("no executed notebooks under build/ (run `make run` first); nothing to scan")
    secrets: dict[str, str] = {}
    for state in [ROOT / ".maas", *build.rglob("credentials.json")]:
        directory = state if state.is_dir() else state.parent
        secrets.update(cs.known_secrets(directory))
    assert [str(f) for f in cs.scan(cs.tree_files(build), secrets, shapes=True)] == []


def test_the_check_catches_a_planted_leak(secured: SandboxInfo, tmp_path: Path) -> None:
    leak = tmp_path / "out.ipynb"
    leak.write_text(json.dumps({"outputs": [f"token is {secured.admin_token}"]}))
    key_file = tmp_path / "notes.md"
    key_file.write_text("-----BEGIN " + "PRIVATE KEY-----\nMIIB\n")
    findings = cs.scan([leak, key_file], cs.known_secrets(secured.state_dir), shapes=True)
    assert {f.what for f in findings} == {"sandbox admin_token", "private key"}
    assert all(secured.admin_token not in str(f) for f in findings), "a finding must not print the secret"
    assert cs.main(["--repo", str(ROOT), "--build", str(tmp_path), "--state-dir", str(secured.state_dir)]) == 1
