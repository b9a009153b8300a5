"""Another commit of this repository, checked out beside the working tree, for benchmarks that compare the two in
one run (each tree runs in its own interpreter with PYTHONPATH pointing at it, with this venv's packages)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def commit_tree(commit: str, repo: Path = ROOT) -> Iterator[Path]:
    """`commit` as a detached git worktree in a temporary directory under /tmp, removed however the block ends."""
    parent = Path(tempfile.mkdtemp(prefix="maas-base-"))
    tree = parent / "tree"
    try:
        subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", "-q", str(tree), commit], check=True)
        yield tree
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], check=False,
                       capture_output=True)
        shutil.rmtree(parent, ignore_errors=True)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], check=False, capture_output=True)


def tree_env(tree: Path) -> dict[str, str]:
    """The environment for a child that imports the kit and the sandbox from `tree`."""
    return {**os.environ, "PYTHONPATH": str(tree)}


def with_bytecode_cache(env: Mapping[str, str], cache: Path) -> dict[str, str]:
    """`env` for a child that caches compiled modules in `cache`, as Python does on a user's machine, whatever
    PYTHONDONTWRITEBYTECODE says here (without it every start compiles the kit again)."""
    return {**{k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}, "PYTHONPYCACHEPREFIX": str(cache)}


def load_average() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())
