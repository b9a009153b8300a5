"""Secrets check: no admin token, client secret or key in the repository, in executed notebooks under
`build/`, or in sandbox logs.

Two detectors:
- known secrets: the exact values a sandbox state dir holds (admin and master tokens, admin password from
  credentials.json; application user_keys/app keys and SSO client secrets from its database), searched
  for in every scanned file — this is what catches a notebook or a log printing a real key;
- shapes: private-key blocks, tokens next to `access_token=`, `client_secret`, provider-style keys
  (`sk-…`, `ghp_…`, `AKIA…`) in the repository, with obvious placeholders allowed.

`python tools/check_secrets.py [--repo .] [--build build] [--state-dir .maas ...]`; exit 1 on findings.
Findings print masked (first 4 characters), never the secret itself.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SECRET_FIELDS = {
    "user_key", "app_key", "keys", "application_keys", "value", "client_secret", "secret", "password", "access_token",
}
KEY_KINDS = ("application", "application_key", "sso_provider", "authentication_provider", "access_token")
SHAPES = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----"),
    "access token in a URL": re.compile(r"access_token=([0-9a-f]{32,})"),
    "client secret": re.compile(r"client_secret[\"']?\s*[:=]\s*[\"']([A-Za-z0-9_\-]{16,})[\"']"),
    "OpenAI-style key": re.compile(r"\bsk-[A-Za-z0-9]{32,}"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
}
PLACEHOLDER = re.compile(r"(?i)example|changeme|placeholder|redacted|dummy|fake|x{6,}|\*{3,}|<[^>]+>|\$\{")
SKIP_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".ico", ".woff", ".woff2", ".ttf", ".db", ".sqlite", ".pyc"}
MAX_BYTES = 5_000_000


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    what: str
    sample: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what} ({self.sample[:4]}…)"


def known_secrets(state_dir: Path) -> dict[str, str]:
    """Secret value → what it is, read from a sandbox state dir."""
    found: dict[str, str] = {}
    creds = state_dir / "credentials.json"
    if creds.exists():
        for name, value in json.loads(creds.read_text()).items():
            if isinstance(value, str) and len(value) >= 8:
                found[value] = f"sandbox {name}"
    db = state_dir / "sandbox.db"
    if db.exists():
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            marks = ",".join("?" * len(KEY_KINDS))
            rows = conn.execute(f"SELECT kind, data FROM objects WHERE kind IN ({marks})", KEY_KINDS).fetchall()
        except sqlite3.Error:
            rows = []
        finally:
            conn.close()
        for kind, data in rows:
            for field, value in _fields(json.loads(data)):
                if field not in SECRET_FIELDS:
                    continue
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str) and len(item) >= 8:
                        found[item] = f"{kind} {field}"
    return found


def _fields(obj: object) -> Iterator[tuple[str, object]]:
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield str(key), value
            yield from _fields(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from _fields(item)


def repo_files(repo: Path) -> list[Path]:
    """Tracked files plus untracked ones git does not ignore (what a commit could pick up)."""
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True, capture_output=True,
    ).stdout.decode()
    return [repo / name for name in out.split("\0") if name]


def tree_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []


def scan(files: Iterable[Path], secrets: dict[str, str], *, shapes: bool) -> list[Finding]:
    findings: list[Finding] = []
    for path in files:
        if path.suffix.lower() in SKIP_SUFFIXES or not path.is_file() or path.stat().st_size > MAX_BYTES:
            continue
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for value, what in secrets.items():
                if value in line:
                    findings.append(Finding(path, number, what, value))
            if not shapes:
                continue
            for what, pattern in SHAPES.items():
                for match in pattern.finditer(line):
                    if PLACEHOLDER.search(line):
                        continue
                    findings.append(Finding(path, number, what, match.group(match.lastindex or 0)))
    return findings


def check(repo: Path, build: Path | None, state_dirs: list[Path]) -> list[Finding]:
    secrets: dict[str, str] = {}
    for state in state_dirs:
        secrets.update(known_secrets(state))
    findings = scan(repo_files(repo), secrets, shapes=True)
    if build is not None:
        findings += scan(tree_files(build), secrets, shapes=True)
    for state in state_dirs:
        findings += scan(tree_files(state / "logs"), secrets, shapes=True)
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--build", type=Path, default=None, help="executed notebooks (default: <repo>/build)")
    parser.add_argument("--state-dir", type=Path, action="append", default=[], help="sandbox state dir (repeat)")
    args = parser.parse_args(argv)
    build = args.build or args.repo / "build"
    states = args.state_dir or [p for p in [args.repo / ".maas"] if p.is_dir()]
    findings = check(args.repo, build, states)
    for finding in findings:
        print(finding)
    scanned = ["repository", *(["build/"] if build.is_dir() else []), *(f"{s}/logs" for s in states)]
    print(f"secrets check: {len(findings)} findings in {', '.join(scanned)}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
