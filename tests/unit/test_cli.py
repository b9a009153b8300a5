"""`maas` CLI: argument errors are one line with a non-zero exit, before any call is made."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from maas_helpers.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("MAAS_CONFIG", "MAAS_ADMIN_URL", "MAAS_ADMIN_TOKEN", "MAAS_STATE_DIR"):
        monkeypatch.delenv(var, raising=False)


def test_missing_catalogue_file_is_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "no such catalogue file" in result.output and "Traceback" not in result.output


def test_bad_saved_config_fails_before_any_call(tmp_path: Path) -> None:
    (tmp_path / "maas-config.yaml").write_text("target: aws\n")
    result = runner.invoke(app, ["apply", "--section", "backends"])
    assert result.exit_code == 1
    assert "target:" in result.output and "Traceback" not in result.output
    assert not (tmp_path / ".maas").exists()  # no sandbox was started


def test_unknown_section_is_rejected(tmp_path: Path) -> None:
    result = runner.invoke(app, ["apply", "--section", "nonsense"],
                           env={"MAAS_ADMIN_URL": "http://127.0.0.1:9", "MAAS_ADMIN_TOKEN": "t" * 20,
                                "MAAS_MODELS_URL": "http://127.0.0.1:9"})
    assert result.exit_code == 1 and "unknown section 'nonsense'" in result.output
    assert not (tmp_path / ".maas").exists()  # rejected without starting a sandbox


def test_unreachable_admin_api_is_reported(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", "--section", "backends"],
                           env={"MAAS_ADMIN_URL": "http://127.0.0.1:9", "MAAS_ADMIN_TOKEN": "secret" * 4,
                                "MAAS_MODELS_URL": "http://127.0.0.1:9"})
    assert result.exit_code == 1 and "cannot reach" in result.output and "secret" * 4 not in result.output
    assert not (tmp_path / ".maas").exists()


def test_run_param_must_be_key_value() -> None:
    result = runner.invoke(app, ["run", "-p", "novalue"])
    assert result.exit_code == 2 and "expected key=value" in result.output


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("apply", "plan", "destroy", "stats", "run", "sandbox"):
        assert command in result.output


@pytest.mark.parametrize("month", ["2026-13", "11-2026", "november"])
def test_stats_cost_bad_month_is_one_line(month: str) -> None:
    result = runner.invoke(app, ["stats", "--cost", "--month", month])
    assert result.exit_code == 2
    assert "expected YYYY-MM" in result.output and len(result.output.strip().splitlines()) == 1
    assert not Path(".maas").exists()  # failed before any sandbox or API call
