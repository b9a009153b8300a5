"""In a notebook a person is looking at, a `MaasError` (bad input, a refused call) shows as its one line, not a
15-line traceback whose useful part is the last line. Installed when `maas_helpers` is imported inside an
interactive IPython kernel; headless runs (papermill, `maas run`) keep the full error for their report."""

from __future__ import annotations

import os
import sys
from typing import Any

from maas_helpers.errors import MaasError

_FLAG = "_maas_one_line_errors"


def _show_one_line(shell: Any, etype: type[BaseException], value: BaseException, tb: Any,
                   tb_offset: int | None = None) -> None:
    # ipykernel's _showtraceback sends an `error` output: ename/evalue stay, the "traceback" is the one line
    shell._showtraceback(etype, value, [f"\x1b[0;31m{etype.__name__}\x1b[0m: {value}"])


def install() -> bool:
    """Register the handler with the running kernel (once); False when there is none to register with."""
    ipython = sys.modules.get("IPython")  # never import IPython just for this
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or "IPKernelApp" not in getattr(shell, "config", {}):
        return False
    if os.environ.get("MAAS_HEADLESS") == "1" or "papermill" in sys.modules:
        return False
    if not getattr(shell, _FLAG, False):
        shell.set_custom_exc((MaasError,), _show_one_line)
        setattr(shell, _FLAG, True)
    return True
