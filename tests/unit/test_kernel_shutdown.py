"""Issue 29 item 11: "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel." in successful `make run`s.
jupyter_client's shutdown_kernel SIGINTs the kernel first (jupyter_client/manager.py, _async_shutdown_kernel);
when that lands inside ipykernel's shell handler it is logged as an error (ipykernel/kernelbase.py). The runner's
kernel manager stops kernels without the signal. A real kernel records any SIGINT it receives in a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from jupyter_client.manager import KernelManager

from maas_helpers.runner import _ipc_kernel_manager

RECORD_SIGINT = """
import signal
get_ipython().kernel.post_handler_hook = lambda: None  # keep this handler after the cell (ipykernel resets it)
signal.signal(signal.SIGINT, lambda *_: open({path!r}, "a").write("SIGINT"))
"""


def _shutdown_after_a_cell(manager_class: type, record: Path) -> str:
    km = manager_class(kernel_name="python3")
    km.start_kernel()
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive(RECORD_SIGINT.format(path=str(record)), timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        client.stop_channels()
        km.shutdown_kernel()
    return record.read_text() if record.exists() else ""


@pytest.mark.parametrize(("manager", "signalled"), [(KernelManager, True), (None, False)],
                         ids=["jupyter_client default", "runner"])
def test_runner_stops_kernels_without_sigint(tmp_path: Path, manager: type | None, signalled: bool) -> None:
    got = _shutdown_after_a_cell(manager or _ipc_kernel_manager(), tmp_path / "signals")
    assert ("SIGINT" in got) is signalled  # the default manager's SIGINT shows the check can fail
