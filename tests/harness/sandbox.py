"""A sandbox process on free loopback ports in a state dir of the caller's (never the developer's `.maas/`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maas_sandbox import control
from maas_sandbox.control import SandboxInfo

from harness.ports import find_free_base_port

if TYPE_CHECKING:
    from maas_helpers.kit import Kit


def start(state_dir: Path, port: int | None = None, *, test_clock: bool = True, timeout: float = 60,
          **options: Any) -> SandboxInfo:
    """`control.up` on a free port range (or `port`); `options` are up's latency knobs."""
    return control.up(state_dir, port if port is not None else find_free_base_port(), test_clock=test_clock,
                      timeout=timeout, **options)


def restart(state_dir: Path, *, test_clock: bool = True, timeout: float = 60) -> SandboxInfo:
    """Start a stopped sandbox again from its state dir, on the port range it was created with."""
    return control.up(state_dir, None, test_clock=test_clock, timeout=timeout)


@contextmanager
def running(state_dir: Path, port: int | None = None, **kw: Any) -> Iterator[SandboxInfo]:
    """A started sandbox, stopped again however the block ends."""
    info = start(state_dir, port, **kw)
    try:
        yield info
    finally:
        control.down(info.state_dir)


def core_sections() -> list[str]:
    """Every reconcile section except SSO (the sandbox tests that apply the catalogue leave SSO out)."""
    from maas_helpers.reconcile import SECTIONS

    return [s for s in SECTIONS if s != "sso"]


def applied_kit(info: SandboxInfo, org_name: str, sections: Sequence[str] | None = None, **settings: Any) -> Kit:
    """A Kit on this sandbox with the default catalogue applied, section by section (by default all but SSO);
    `settings` go to Kit.configure (e.g. concurrency)."""
    from maas_helpers.kit import Kit

    kit = Kit.configure(target="sandbox", state_dir=str(info.state_dir), org_name=org_name, **settings)
    for section in core_sections() if sections is None else sections:
        kit.apply(section)
    return kit
