"""The kit's data is found through one helper (maas_resources / maas_helpers.resources); what is missing is a
one-line error naming the path and the fix, never a raw FileNotFoundError or a silent "nothing to do"."""

from __future__ import annotations

from pathlib import Path

import pytest

import maas_resources
from maas_helpers.catalogue import Catalogue
from maas_helpers.errors import MaasError
from maas_helpers.resources import ResourceError, resolve_path, resource_path

REPO = Path(__file__).resolve().parents[2]


def test_every_resource_resolves_to_the_checkout() -> None:
    for name in maas_resources.RESOURCES:
        assert resource_path(name) == REPO / name
    assert resource_path("policies", "llm-metrics", "1.0.0", "apicast-policy.json").is_file()
    catalogue = Catalogue()
    assert catalogue.policy.manifest_file == REPO / "policies/llm-metrics/1.0.0/apicast-policy.json"
    assert catalogue.portal.manifest_file == REPO / "portal/manifest.yaml"


def test_missing_resource_is_a_one_line_error_naming_path_and_fix() -> None:
    with pytest.raises(ResourceError) as info:
        resource_path("portal", "no-such-manifest.yaml")
    message = str(info.value)
    assert isinstance(info.value, MaasError) and "\n" not in message
    assert "portal/no-such-manifest.yaml" in message and "reinstall" in message
    with pytest.raises(ValueError, match="unknown kit resource"):
        maas_resources.resource_root("secrets")


def test_packaged_copy_wins_over_the_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    packaged = tmp_path / "maas_resources"
    (packaged / "portal").mkdir(parents=True)
    monkeypatch.setattr(maas_resources, "_PACKAGED", packaged)
    assert resource_path("portal") == packaged / "portal"
    assert resource_path("policies") == REPO / "policies"  # not packaged there: the checkout's
    monkeypatch.setattr(maas_resources, "_SOURCE", tmp_path / "elsewhere")
    with pytest.raises(ResourceError, match=r"policies/ directory is missing .*reinstall"):
        resource_path("policies")


def test_catalogue_paths_other_than_resources_are_the_learners(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_path("my-portal") == tmp_path / "my-portal"
    assert resolve_path(tmp_path / "x") == tmp_path / "x"
    assert resolve_path("manifests/sso/realm.yaml") == REPO / "manifests/sso/realm.yaml"
