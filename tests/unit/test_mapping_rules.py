"""APIcast mapping-rule matching (reference §5): prefix, `$`, `{var}`, query rules, deltas, `last`."""

from __future__ import annotations

import pytest

from maas_sandbox.gateway.mapping import compile_rule, match_usage, normalize_path, query_args


def rule(pattern: str, metric: str = "hits", delta: int = 1, method: str = "GET", last: bool = False, **extra):
    return compile_rule(
        {"http_method": method, "pattern": pattern, "metric_system_name": metric, "delta": delta, "last": last, **extra}
    )


def usage(rules, path: str, method: str = "GET", query: str = "") -> dict[str, int]:
    return match_usage(rules, method, normalize_path(path), query_args(query))[0]


def test_prefix_match_and_root_matches_everything() -> None:
    rules = [rule("/v1/models")]
    assert usage(rules, "/v1/models") == {"hits": 1}
    assert usage(rules, "/v1/models/granite") == {"hits": 1}
    assert usage(rules, "/v1/chat") == {}
    assert usage([rule("/")], "/anything/at/all") == {"hits": 1}


def test_dollar_anchors_the_end() -> None:
    rules = [rule("/v1/models$")]
    assert usage(rules, "/v1/models") == {"hits": 1}
    assert usage(rules, "/v1/models/granite") == {}


def test_variable_matches_exactly_one_segment() -> None:
    rules = [rule("/v1/models/{model}$")]
    assert usage(rules, "/v1/models/granite-3.1") == {"hits": 1}
    assert usage(rules, "/v1/models/a/b") == {}
    assert usage(rules, "/v1/models/") == {}


def test_dot_is_literal() -> None:
    rules = [rule("/file.json$")]
    assert usage(rules, "/file.json") == {"hits": 1}
    assert usage(rules, "/fileXjson") == {}


def test_method_is_exact_and_case_sensitive() -> None:
    rules = [rule("/", method="POST")]
    assert usage(rules, "/x", method="POST") == {"hits": 1}
    assert usage(rules, "/x", method="GET") == {}
    assert usage([rule("/", method="GET")], "/x", method="HEAD") == {}


def test_every_matching_rule_adds_and_last_stops() -> None:
    rules = [rule("/"), rule("/abc", delta=2, last=True), rule("/abc/def", delta=10)]
    assert usage(rules, "/abc/def") == {"hits": 3}
    # a non-matching `last` rule does not stop evaluation
    rules = [rule("/zzz", last=True), rule("/", delta=4), rule("/abc", metric="m", delta=5)]
    assert usage(rules, "/abc") == {"hits": 4, "m": 5}


def test_query_rules_literal_and_variable() -> None:
    rules = [rule("/search?lang=en&q={q}", metric="search")]
    assert usage(rules, "/search", query="lang=en&q=x&extra=1") == {"search": 1}
    assert usage(rules, "/search", query="lang=fr&q=x") == {}
    assert usage(rules, "/search", query="lang=en") == {}
    # repeated parameters: the last value counts
    assert usage(rules, "/search", query="lang=fr&lang=en&q=1") == {"search": 1}


def test_querystring_parameters_from_config() -> None:
    rules = [rule("/search", querystring_parameters={"lang": "en"})]
    assert usage(rules, "/search", query="lang=en") == {"hits": 1}
    assert usage(rules, "/search", query="lang=de") == {}


def test_path_normalisation() -> None:
    assert normalize_path("/a//b/./c/../d") == "/a/b/d"
    assert normalize_path("/v1/%6Dodels") == "/v1/models"
    assert normalize_path("/a%20b") == "/a%20b"
    rules = [rule("/v1/models$")]
    assert usage(rules, "//v1//models") == {"hits": 1}


def test_path_normalisation_keeps_bytes_and_normal_paths() -> None:
    assert normalize_path("/a%FFb/%e2%82%ac") == "/a%FFb/%E2%82%AC"  # not UTF-8: kept; UTF-8: canonical escapes
    assert normalize_path("/x/../v1/models") == "/v1/models"
    assert normalize_path("/%2e%2e/%2E%2E/etc") == "/etc"
    assert normalize_path("") == "/"


def test_normal_paths_are_returned_unchanged_by_both_code_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    import maas_sandbox.gateway.mapping as mapping

    normal = ["/", "/v1/models", "/v1/models/", "/v1/chat/completions;v=2", "/a-b_c~d/e!$&'()*+,;=:@"]
    odd = ["/a//b", "/a/./b", "/a/../b", "/.x", "/a%41", "/a b", "/é", "v1"]
    for path in normal:
        assert mapping._already_normal(path)
        assert normalize_path(path) == path
    for path in odd:
        assert not mapping._already_normal(path)
    # the slow path agrees with the fast one wherever the fast one applies
    monkeypatch.setattr(mapping, "_already_normal", lambda raw: False)
    assert [normalize_path(p) for p in normal] == normal
