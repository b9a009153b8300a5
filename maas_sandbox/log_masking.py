"""The sandbox log never shows a secret: a filter on every handler masks anything token-shaped (httpx and
uvicorn log full URLs at INFO, so a token in a query string would otherwise land in `sandbox.log`), and the log
files are created 0600 in a 0700 directory.

Masked: `access_token=` / `provider_key=` / `user_key=` / `client_secret=` / `password=` / `code=` values,
`Bearer` and `Basic` credentials, and any run of 32+ hex digits or 40+ URL-safe characters (the shapes of the
sandbox's tokens and keys). The first four characters stay, enough to tell two values apart.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

_PAIRS = re.compile(
    r"(?P<name>access_token|provider_key|user_key|app_key|client_secret|secret_token|password|code)"
    r"(?P<sep>\s*[=:]\s*['\"]?)(?P<value>[^\s&'\",;)]+)",
    re.IGNORECASE,
)
_AUTH = re.compile(r"(?P<name>Bearer|Basic)(?P<sep>\s+)(?P<value>[A-Za-z0-9._~+/=-]{8,})")
_LONG = re.compile(r"\b[0-9a-fA-F]{32,}\b|[A-Za-z0-9_-]{40,}")


def _keep_four(value: str) -> str:
    return value[:4] + "…" if len(value) > 4 else "…"


def mask(text: str) -> str:
    text = _PAIRS.sub(lambda m: m["name"] + m["sep"] + _keep_four(m["value"]), text)
    text = _AUTH.sub(lambda m: m["name"] + m["sep"] + _keep_four(m["value"]), text)
    return _LONG.sub(lambda m: _keep_four(m.group(0)), text)


class MaskSecrets(logging.Filter):
    """Formats the record's message once, masked (arguments included), so no handler sees the raw values."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_text is None and record.exc_info[0] is not None:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask(record.exc_text)
        return True


def private_file(path: Path) -> Path:
    """`path` created (or narrowed) to 0600, its directory to 0700."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    os.chmod(path, 0o600)
    return path


def configure(log_file: Path) -> None:
    """Root logging to `log_file` (0600) at INFO with every handler masking secrets."""
    logging.basicConfig(filename=private_file(log_file), level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskSecrets())
