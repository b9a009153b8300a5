"""Mapping rules as APIcast matches them (reference §5).

A pattern becomes a regex anchored at the start only (prefix match) unless it ends with `$`;
`{var}` matches one path segment; the `?query` part becomes per-parameter checks (a `{var}` value
means "present", a literal must be equal, the last of repeated parameters counts). Every matching
rule adds its delta; a matching rule with `last` stops the evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote_to_bytes

_VAR = re.compile(r"\{[^}/]*\}")
_SEGMENT = r"[\w\-.~%!$&'()*+,;=@:]+"


@dataclass(frozen=True, slots=True)
class MappingRule:
    method: str
    regex: re.Pattern[str]
    query: tuple[tuple[str, str | None], ...]  # (name, literal value or None for "{var}": must be present)
    metric: str
    delta: int
    last: bool
    pattern: str


def pattern_regex(pattern: str) -> re.Pattern[str]:
    path = pattern.split("?", 1)[0]
    while "//" in path:
        path = path.replace("//", "/")
    anchored = path.endswith("$")
    if anchored:
        path = path[:-1]
    parts: list[str] = []
    pos = 0
    for var in _VAR.finditer(path):
        parts.append(path[pos : var.start()].replace(".", r"\."))
        parts.append(_SEGMENT)
        pos = var.end()
    parts.append(path[pos:].replace(".", r"\."))
    return re.compile("^" + "".join(parts) + ("$" if anchored else ""))


def pattern_query(
    pattern: str, querystring_parameters: Mapping[str, Any] | None = None
) -> tuple[tuple[str, str | None], ...]:
    params: dict[str, str] = {}
    if "?" in pattern:
        for name, value in parse_qsl(pattern.split("?", 1)[1].rstrip("$"), keep_blank_values=True):
            params[name] = value
    if querystring_parameters:
        for name, value in querystring_parameters.items():
            params.setdefault(str(name), str(value))
    return tuple((name, None if _VAR.fullmatch(value) else value) for name, value in params.items())


def compile_rule(rule: Mapping[str, Any]) -> MappingRule:
    pattern = str(rule.get("pattern") or "/")
    return MappingRule(
        method=str(rule.get("http_method") or "ANY"),
        regex=pattern_regex(pattern),
        query=pattern_query(pattern, rule.get("querystring_parameters")),
        metric=str(rule.get("metric_system_name") or "hits"),
        delta=int(rule.get("delta") or 1),
        last=bool(rule.get("last")),
        pattern=pattern,
    )


_UNSAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in " %?#")


# A path normalising cannot change (the common case): `/` then segments of printable ASCII without space, `%`,
# `#`, `?` or `/`, none empty (no `//`) and none starting with a dot (no `/.`), an optional trailing `/`.
_NORMAL = re.compile(r'(?:/[!"$&-,\-0->@-~][!"$&-.0->@-~]*)+/?|/')


def _already_normal(raw: str) -> bool:
    """True when normalising cannot change the path (one regex match: no escapes, no dot or empty segments)."""
    return _NORMAL.fullmatch(raw) is not None


def normalize_path(raw: str) -> str:
    """nginx's $uri: percent-decoded, `//` merged, dot segments resolved; then re-escaped.

    The gateway matches mapping rules on this path and forwards it upstream, so what is counted is what
    is served. Decoded bytes are re-escaped as bytes: an escape that is not UTF-8 (`%FF`) survives as is.
    """
    if _already_normal(raw):
        return raw
    path = unquote_to_bytes(raw)
    segments: list[bytes] = []
    for segment in path.split(b"/"):
        if segment in (b"", b"."):
            continue
        if segment == b"..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    normalized = b"/" + b"/".join(segments)
    if path.endswith(b"/") and segments:
        normalized += b"/"
    return quote(normalized, safe=_UNSAFE)


def query_args(query: str) -> dict[str, str]:
    """Query parameters, the last of repeated names winning (as APIcast reads them)."""
    return dict(parse_qsl(query, keep_blank_values=True)) if query else {}


def match_usage(
    rules: Sequence[MappingRule], method: str, path: str, args: Mapping[str, str]
) -> tuple[dict[str, int], list[MappingRule]]:
    usage: dict[str, int] = {}
    matched: list[MappingRule] = []
    for rule in rules:
        if rule.method != method and rule.method != "ANY":
            continue
        if rule.regex.match(path) is None:
            continue
        if rule.query and not all(
            (name in args) if value is None else (args.get(name) == value) for name, value in rule.query
        ):
            continue
        usage[rule.metric] = usage.get(rule.metric, 0) + rule.delta
        matched.append(rule)
        if rule.last:
            break
    return usage, matched
