"""Keep the committed notebooks clean with nbstripout, the same way for the git filter, `check` and the tests.

    python tools/notebook_filter.py install   # `make install`: nbstripout as this clone's git filter
    python tools/notebook_filter.py check [FILE…]  # exit 1 naming each notebook nbstripout would change
    python tools/notebook_filter.py strip     # clean the notebooks in place (e.g. after editing outside git)

The notebooks in `notebooks/` are the source people edit (JupyterLab, then save). On `git add` the filter
removes outputs, execution counts and the metadata a kernel run or an editor adds; `EXTRA_KEYS` are the keys
removed on top of nbstripout's own defaults (it keeps e.g. `language_info.version`, which changes with every
Python release). The repository's `.gitattributes` routes `*.ipynb` through the filter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
# Keys JupyterLab / ipykernel / papermill write that nbstripout (0.9) keeps by default. What stays:
# kernelspec, language_info.name, the cells' `tags` (the `parameters` cell).
EXTRA_KEYS = (
    "metadata.language_info.codemirror_mode",
    "metadata.language_info.file_extension",
    "metadata.language_info.mimetype",
    "metadata.language_info.nbconvert_exporter",
    "metadata.language_info.pygments_lexer",
    "metadata.language_info.version",
    "metadata.papermill",
    "cell.metadata.papermill",
    "cell.metadata.jp-MarkdownHeadingCollapsed",
)


def _nbstripout(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nbstripout", *args], cwd=cwd, capture_output=True, text=True,
                          check=False, env=env)


def install(repo: Path = REPO) -> int:
    """nbstripout --install into the clone's .git/config (the attributes file is the committed .gitattributes)
    plus EXTRA_KEYS; running it again changes nothing. Outside a git clone (a source tarball) it only says so."""
    if subprocess.run(["git", "rev-parse", "--git-dir"], cwd=repo, capture_output=True).returncode != 0:
        print(f"{repo} is not a git clone: the notebook filter is not installed")
        return 0
    done = _nbstripout("--install", "--attributes", str(repo / ".gitattributes"), cwd=repo)
    if done.returncode != 0:
        print(f"nbstripout --install failed: {done.stderr.strip()}", file=sys.stderr)
        return done.returncode
    subprocess.run(["git", "config", "filter.nbstripout.extrakeys", " ".join(EXTRA_KEYS)], cwd=repo, check=True)
    return 0


def stripped(paths: Iterable[Path]) -> dict[Path, str]:
    """What nbstripout (with EXTRA_KEYS) makes of each notebook, computed on copies: path → cleaned text."""
    paths = list(paths)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)  # not a git clone: no filter.nbstripout.* settings of this clone leak in
        copies = [work / f"{i:02d}-{p.name}" for i, p in enumerate(paths)]
        for source, copy in zip(paths, copies, strict=True):
            shutil.copyfile(source, copy)
        # nbstripout also reads filter.nbstripout.* from git config: none of the user's global settings either
        hermetic = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
        done = _nbstripout("--extra-keys", " ".join(EXTRA_KEYS), *map(str, copies), cwd=work, env=hermetic)
        if done.returncode != 0:
            raise RuntimeError(f"nbstripout failed: {done.stderr.strip()}")
        return {source: copy.read_text() for source, copy in zip(paths, copies, strict=True)}


def unclean(paths: Iterable[Path]) -> list[Path]:
    """The notebooks whose committed text is not what nbstripout leaves (outputs, counts, editor metadata)."""
    return [path for path, text in stripped(paths).items() if path.read_text() != text]


def committed() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "install":
        return install()
    if command == "check":
        dirty = unclean([Path(a).resolve() for a in argv[1:]] or committed())
        for path in dirty:
            print(f"{path}: not clean (run python tools/notebook_filter.py strip)")
        return 1 if dirty else 0
    if command == "strip":
        for path, text in stripped(committed()).items():
            if path.read_text() != text:
                path.write_text(text)
                print(f"cleaned {path.relative_to(REPO)}")
        return 0
    print(f"unknown command {command!r}; choose install, check or strip", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
