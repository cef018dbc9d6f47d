"""Kubernetes names, Ingress paths and portable regular expressions, value by value."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from meshfleet.fleet import names


@pytest.mark.parametrize(
    "check",
    [
        names.dns_label,
        names.dns1035_label,
        names.dns_subdomain,
        names.label_key,
        names.label_value,
        names.http_header_name,
        lambda v: names.qualified_name(v, "appProtocol"),
    ],
)
@pytest.mark.parametrize("bad", ["c1\n", "c1\r\n", "\nc1", "c1 ", "c\u0430", "c1\x00"])
def test_a_name_must_match_whole(check: Callable[[str], str], bad: str) -> None:
    with pytest.raises(ValueError, match="is not"):
        check(bad)


@pytest.mark.parametrize(
    ("check", "good"),
    [
        (names.dns_label, "cluster-1"),
        (names.dns_label, "a" * 63),
        (names.dns1035_label, "httpbin"),
        (names.dns_subdomain, "a.b-c.d"),
        (names.label_key, "topology.kubernetes.io/region"),
        (names.label_value, ""),
        (names.label_value, "Gold_1.x"),
        (names.http_header_name, "x-request-id"),
        (lambda v: names.qualified_name(v, "appProtocol"), "kubernetes.io/h2c"),
    ],
)
def test_good_names_pass_unchanged(check: Callable[[str], str], good: str) -> None:
    assert check(good) == good


@pytest.mark.parametrize(
    ("check", "bad", "words"),
    [
        (names.dns_label, "a" * 64, "64 characters long; Kubernetes allows 63"),
        (names.dns1035_label, "1abc", "must start with a letter"),
        (names.dns_label, "c\u0430", "non-ASCII character U+0430 at position 2"),
        (names.dns_label, "c1\n", "control character U+000A at position 3"),
        (names.http_header_name, "user agent", "not an HTTP header name"),
    ],
)
def test_a_refusal_says_why(check: Callable[[str], str], bad: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        check(bad)


@pytest.mark.parametrize("path", ["/", "/c1/httpbin", "/a-b_c.d~e/x:y@z", "/a%20b", "/v1/(x)"])
def test_good_ingress_paths(path: str) -> None:
    assert names.ingress_path(path) == path


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/a//b", "contains '//'"),
        ("/a/./b", "contains '/./'"),
        ("/a/../b", "contains '/../'"),
        ("/a%2fb", "contains '%2f'"),
        ("/a%2Fb", "contains '%2F'"),
        ("/a/..", "ends in '/..'"),
        ("/a/.", "ends in '/.'"),
        ("/{x}", "a brace left"),
        ("/a b", "escape it as %20"),
        ("/a?b", "escape it as %3F"),
        ("/a#b", "%23"),
        ("/a%zz", "not followed by two hexadecimal digits"),
        ("/caf\u00e9", "non-ASCII character U+00E9"),
    ],
)
def test_ingress_paths_kubernetes_refuses(path: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        names.ingress_path(path)


@pytest.mark.parametrize(
    "pattern", [".*", "/", "/api/(v1|v2)/.*", r"\d+", "[]a]", "[^]a]", "(?:x)+", "a{2,1000}", "[a-z0-9-]+"]
)
def test_portable_patterns_pass(pattern: str) -> None:
    assert names.regex(pattern, "pathRegex") == pattern


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("/api/(v1", "not a valid regular expression: missing ), unterminated subpattern at position 6"),
        ("[", "unterminated character set"),
        (r"(a)\1", "a backreference"),
        ("(?=x)", "a look-ahead"),
        ("(?!x)", "a negative look-ahead"),
        ("(?<=x)y", "a look-behind"),
        ("(?<!x)y", "a negative look-behind"),
        ("(?>x)", "an atomic group"),
        ("(?P<n>x)", "a Python-style named group"),
        ("(?i)abc", "an inline flag group"),
        ("a++", "a possessive"),
        (r"\Aabc", r"the escape \A"),
        (r"abc\Z", r"the escape \Z"),
        ("[[:alpha:]]", "inside brackets"),
        ("a{1001}", "repetition counts over 1,000"),
        ("x" * 1025, "at most 1,024"),
    ],
)
def test_patterns_outside_the_common_dialect_are_refused(pattern: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        names.regex(pattern, "pathRegex")
