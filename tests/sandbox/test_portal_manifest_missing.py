"""A portal directory without its manifest stops `apply("portal")` with one actionable line before any call is
made; it never reports "nothing to do" (after a non-editable install the learner's portal would silently stay
unpublished). The CMS upload itself follows porta's app/controllers/admin/api/cms/ (test_reconcile_portal.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from maas_helpers.errors import MaasError
from maas_helpers.kit import Kit
from maas_sandbox.control import SandboxInfo


def test_missing_portal_manifest_is_an_error_before_any_call(sandbox: SandboxInfo, tmp_path: Path) -> None:
    kit = Kit.configure(target="sandbox", state_dir=str(sandbox.state_dir), org_name="MaaS Test Org")
    kit.catalogue.portal.path = str(tmp_path / "my-portal")
    (tmp_path / "my-portal").mkdir()
    admin = kit.admin
    before = dict(admin.calls)
    with pytest.raises(MaasError) as info:
        kit.apply("portal")
    message = str(info.value)
    assert "\n" not in message
    assert f"portal manifest not found at {tmp_path / 'my-portal' / 'manifest.yaml'}" in message
    assert "portal.path" in message and "portal.enabled: false" in message
    assert dict(admin.calls) == before, "calls were made before the manifest was checked"
