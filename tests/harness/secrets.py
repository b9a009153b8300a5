"""What a leaked secret looks like, and the checks that nothing shows one.

- `SECRET_PATTERNS`: credential shapes no committed file may contain (long hex keys, `key = value` pairs,
  bearer values, private keys, provider keys);
- `check_secrets()`: tools/check_secrets.py (the repository/build/log scanner), loaded once;
- `sandbox_tokens` / `shown_secrets`: is any of a sandbox's tokens in a text (a repr, a page, an error)?
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from maas_sandbox.control import SandboxInfo

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / "tools" / "check_secrets.py"

SECRET_PATTERNS = [
    re.compile(r"\b[0-9a-f]{32,}\b"),
    re.compile(r"(access_token|provider_key|user_key|client_secret|password)\s*[=:]\s*['\"]?[A-Za-z0-9._~+/-]{8,}",
               re.IGNORECASE),
    re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]{16,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bsk-[A-Za-z0-9]{20,}"),
]


@functools.cache
def check_secrets() -> ModuleType:
    """tools/check_secrets.py as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location("check_secrets", CHECKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def sandbox_tokens(info: SandboxInfo) -> list[str]:
    """The tokens no output may show: the tenant admin token and the master token."""
    return [info.admin_token, info.master_token]


def shown_secrets(text: str, secrets: Iterable[str]) -> list[str]:
    """The secrets that appear in `text`, masked to their first 4 characters (so a failure never prints one)."""
    return [secret[:4] + "…" for secret in secrets if secret and secret in text]
