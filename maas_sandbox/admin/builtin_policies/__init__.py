"""Manifests of the APIcast builtin policies the sandbox knows (version `builtin`).

Each `<name>.json` here is our own manifest whose `configuration` JSON schema describes the same fields as
APIcast's builtin policy of that directory name. `GET /admin/api/policies.json` lists them (porta lists what
APIcast's registry serves), the kit checks its catalogue against them before apply, and the gateway loads
only these builtins (porta itself stores any chain entry with a name, a version and an object configuration).
The registry name of a builtin is the file stem (`cors`), not the manifest's human title.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def builtin_manifests() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(HERE.glob("*.json"))}
