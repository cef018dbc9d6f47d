"""The fleet file reader on its own: YAML 1.2 values, strict tags, merge keys, positions, bounds."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from meshfleet.errors import FleetError
from meshfleet.fleet.document import MAX_DEPTH, MAX_NODES, Document, parse, parse_bytes, parse_text

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = sorted((ROOT / "fleet").glob("*.yaml")) + sorted((ROOT / "tests/cases/diff").glob("*.yaml"))


def value_of(text: str) -> Any:
    return parse_text(f"k: {text}\n", "f.yaml").data["k"]


def refusal(text: str) -> str:
    with pytest.raises(FleetError) as err:
        parse_text(text, "f.yaml")
    return err.value.render()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("Yes", "Yes"),
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("tRUE", "tRUE"),
        ("", None),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("NULL", None),
        ("nULL", "nULL"),
        ("80", 80),
        ("-7", -7),
        ("+12", 12),
        ("017", 17),
        ("0o17", 15),
        ("0x1F", 31),
        ("0b101", 5),
        ("8_080", 8080),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("-.inf", -math.inf),
        (".Inf", math.inf),
        ("2001-12-14", "2001-12-14"),
        ("12:30", "12:30"),
        ("0x", "0x"),
        ("1e", "1e"),
        ("=", "="),
        ("'80'", "80"),
        ('"true"', "true"),
        ("!!str 80", "80"),
        ("!!int '80'", 80),
        ("!!float 1", 1.0),
        ("!!bool false", False),
        ("!!null ''", None),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
    ],
)
def test_scalars_are_yaml_1_2_core_schema(text: str, expected: Any) -> None:
    got = value_of(text)
    assert got == expected and type(got) is type(expected)


def test_nan_is_a_float() -> None:
    assert math.isnan(value_of(".nan"))


@pytest.mark.parametrize("fleet", COMMITTED, ids=[p.name for p in COMMITTED])
def test_committed_fleets_read_as_the_round_trip_loader_read_them(fleet: Path) -> None:
    """The committed fleets mean what they meant when ruamel's YAML 1.2 loader read them."""
    expected = YAML(typ="safe", pure=True).load(fleet.read_text())
    assert parse(fleet).data == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("k: !!int eighty\n", "'eighty' is tagged !!int but is not a whole number"),
        ("k: !!int\n", "an empty value is tagged !!int"),
        ("k: !!float eighty\n", "tagged !!float but is not a number"),
        ("k: !!bool maybe\n", "'maybe' is tagged !!bool but is not true or false"),
        ("k: !!bool yes\n", "'yes' is tagged !!bool"),
        ("k: !!null x\n", "tagged !!null but is not null"),
        ("k: !!binary aGk=\n", "the tag '!!binary' is not supported here"),
        ("k: !custom x\n", "the tag '!custom' is not supported here"),
        ("k: !!map x\n", "'x' is tagged !!map but is not a mapping"),
        ("k: !!int [1]\n", "a list is tagged !!int"),
        ("k: !!set {a}\n", "the tag '!!set' is not supported here"),
        ("k: 9223372036854775808\n", "does not fit in 64 bits"),
        ("k: -9223372036854775809\n", "does not fit in 64 bits"),
        ("k: " + "9" * 5000 + "\n", "(5,000 characters) does not fit in 64 bits"),
        ("k: 0x" + "f" * 4000 + "\n", "does not fit in 64 bits"),
        ("k: !!int 0x" + "f" * 17 + "\n", "does not fit in 64 bits"),
    ],
)
def test_a_malformed_scalar_is_a_finding_at_its_line(text: str, words: str) -> None:
    message = refusal("a: 1\n" + text)
    assert re.search(r"f\.yaml:2:4: error\[(malformed-value|unsupported-tag)\]: k: ", message)
    assert words in message


@pytest.mark.parametrize(
    ("text", "at", "words"),
    [
        ('a: "x\\ny"\n', "1:4", "a line break"),
        ("a: |\n  x\n", "1:4", "a line break (character 2 of 2)"),
        ("a: x\n\n  y\n", "1:4", "a line break"),
        ('a: "\\e]0;t\\a"\n', "1:4", "control character U+001B"),
        ('a: "\\0"\n', "1:4", "control character U+0000"),
        ('a: "x\\u202ey"\n', "1:4", "bidirectional-text control character U+202E"),
        ('a: "x\\u2028y"\n', "1:4", "line or paragraph separator U+2028"),
        ('a: "x\\u200by"\n', "1:4", "U+200B"),
        ('a: "x\\u00a0y"\n', "1:4", "U+00A0"),
        ('"k\\n": 1\n', "1:1", "a line break"),
        ("a: x\u202ey\n", "1:5", "bidirectional-text control character U+202E in the file"),
        ("# a \u202e comment\na: 1\n", "1:5", "U+202E in the file"),
        ("a: x\x1b\n", "1:5", "control character U+001B in the file"),
    ],
)
def test_strings_are_checked_after_unescaping(text: str, at: str, words: str) -> None:
    message = refusal(text)
    assert f"f.yaml:{at}:" in message
    assert words in message
    assert all(ch.isprintable() for line in message.splitlines() for ch in line)


def test_a_byte_order_mark_and_plain_unicode_are_fine() -> None:
    doc = parse_bytes("\ufeffa: café\nb: 東京\n".encode(), "f.yaml")
    assert doc.data == {"a": "café", "b": "東京"}


@pytest.mark.parametrize(
    ("text", "at", "words"),
    [
        ("a: 1\na: 2\n", "2:1", "a: duplicate key 'a'"),
        ("a: 1\n'a': 2\n", "2:1", "duplicate key 'a'"),
        ('b:\n  c: 1\n  "c": 2\n', "3:3", "b.c: duplicate key 'c'"),
        ("1: x\n", "1:1", "key 1 is a number"),
        ("true: x\n", "1:1", "key true is a boolean"),
        ("? [a, b]\n: x\n", "1:3", "a key here is a list"),
        ("? {a: b}\n: x\n", "1:3", "a key here is a mapping"),
        ("%YAML 1.0\n---\na: 1\n", "1:1", "declares YAML 1.0"),
        ("%YAML 1.1\n---\na: yes\n", "1:1", "declares YAML 1.1"),
        ("a: 1\n---\nb: 2\n", "2:1", "more than one YAML document"),
        ("a: [1, 2\n", "2:1", "YAML syntax error"),
        ("a:\n\tb: 1\n", "2:1", "a tab character"),
        ("a: *nowhere\n", "1:4", "define the anchor"),
        ("- 1\n", "1:1", "the top level is a list"),
        ("# only a comment\n", "1:1", "the file is empty"),
        ("---\n", "1:1", "the file is empty"),
    ],
)
def test_structure_problems_are_located(text: str, at: str, words: str) -> None:
    message = refusal(text)
    assert f"f.yaml:{at}:" in message
    assert words in message


def test_yaml_1_2_directive_is_welcome() -> None:
    assert parse_text("%YAML 1.2\n---\na: yes\n", "f.yaml").data == {"a": "yes"}


def test_several_problems_are_reported_at_once() -> None:
    message = refusal('a: !!int x\nb: !!bool y\nc: "\\0"\n')
    assert message.startswith("3 problems in the fleet:")


# --- merge keys ----------------------------------------------------------------------------------


MERGED = """\
clusters:
  c1: &member
    region: eu
    labels: {tier: gold}
  c2:
    <<: *member
    region: us
  c3:
    <<: [*member, {zone: z1, region: ap}]
"""


def test_merge_keys_merge_and_the_mapping_s_own_keys_win() -> None:
    doc = parse_text(MERGED, "f.yaml")
    assert doc.data["clusters"]["c2"] == {"region": "us", "labels": {"tier": "gold"}}
    assert doc.data["clusters"]["c3"] == {"region": "eu", "labels": {"tier": "gold"}, "zone": "z1"}


def test_a_merged_key_is_placed_where_its_anchor_wrote_it() -> None:
    doc = parse_text(MERGED, "f.yaml")
    assert doc.position(("clusters", "c2", "labels", "tier")) == doc.position(("clusters", "c1", "labels", "tier"))
    assert (doc.position(("clusters", "c2", "labels")).line, doc.position(("clusters", "c2", "region")).line) == (4, 7)
    assert doc.position(("clusters", "c3", "zone")).line == 9


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a: &a\n  <<: *a\n", "recursive alias"),
        ("a: &a [1, *a]\n", "recursive alias"),
        ("a:\n  <<: [x]\n", "`<<` merges a mapping"),
        ("a:\n  <<: 1\n", "`<<` merges a mapping"),
        ("b: &b {x: 1}\na:\n  <<: *b\n  <<: *b\n", "duplicate key '<<'"),
    ],
)
def test_bad_merges_are_refused_at_their_line(text: str, words: str) -> None:
    assert words in refusal(text)


# --- positions -----------------------------------------------------------------------------------


POSITIONS = """\
clusters:
  c1:
    gateway: {host: 10.0.0.1, port: 81}
    labels:
      tier: gold
  c2: {}
services:
  a/b:
    ports:
      - {port: 80}
      - port: 81
"""


@pytest.mark.parametrize(
    ("loc", "prefer_key", "at"),
    [
        (("clusters", "c1", "gateway", "port"), False, (3, 37)),
        (("clusters", "c1", "gateway", "port"), True, (3, 31)),
        (("clusters", "c1", "labels"), False, (5, 7)),
        (("clusters", "c1", "labels"), True, (4, 5)),
        (("services", "a/b", "ports", 1, "port"), False, (11, 15)),
        (("services", "a/b", "ports", 0), False, (10, 9)),
        (("clusters", "c2", "missing"), True, (6, 3)),
        (("clusters", "c2", "missing"), False, (6, 7)),
        (("nowhere",), False, (1, 1)),
        ((), False, (1, 1)),
    ],
)
def test_positions_are_found_for_any_key_path(loc: tuple[Any, ...], prefer_key: bool, at: tuple[int, int]) -> None:
    doc = parse_text(POSITIONS, "f.yaml")
    pos = doc.position(loc, prefer_key=prefer_key)
    assert (pos.file, pos.line, pos.column) == ("f.yaml", *at)


def test_has_tells_written_keys_from_missing_ones() -> None:
    doc = parse_text(POSITIONS, "f.yaml")
    assert doc.has(("services", "a/b", "ports", 1)) and not doc.has(("services", "a/b", "ports", 2))
    assert not doc.has(("clusters", "c2", "gateway"))


def test_a_document_without_a_graph_places_everything_at_the_top() -> None:
    assert Document("f.yaml", {"a": 1}).position(("a",)).line == 1


# --- bounds ---------------------------------------------------------------------------------------


def nested_flow(levels: int) -> str:
    return "x: " + "[" * (levels - 1) + "]" * (levels - 1) + "\n"


def nested_block(levels: int) -> str:
    return "".join(f"{'  ' * i}k{i}:\n" for i in range(levels - 1)) + f"{'  ' * (levels - 1)}k: v\n"


@pytest.mark.parametrize("make", [nested_flow, nested_block])
def test_nesting_at_the_limit_is_read_and_one_more_level_is_refused(make: Any) -> None:
    parse_text(make(MAX_DEPTH), "f.yaml")
    assert f"nested more than {MAX_DEPTH} levels deep" in refusal(make(MAX_DEPTH + 1))


def test_brackets_in_comments_and_quoted_strings_are_not_nesting() -> None:
    """Valid fleets with many brackets where no collection starts were refused by a character count."""
    text = (
        "# "
        + "[" * 3000
        + "\n"
        + 'a: "'
        + "{[" * 2000
        + '"\n'
        + "b: '"
        + "[" * 3000
        + "'\n"
        + "c: "
        + "/{x}" * 600
        + "\n"
    )
    assert parse_text(text, "f.yaml").data["a"] == "{[" * 2000


def alias_document(values: int) -> str:
    """A document that expands to exactly `values` values (keys, items and collections counted)."""
    # {a: &a [x]*k, b: [*a]*m, c: [x]*p} counts 1 + (2 + k) + (2 + m * (1 + k)) + (2 + p)
    k = 999
    m = (values - 7 - k) // (1 + k) - 1
    p = values - 7 - k - m * (1 + k)
    return f"a: &a [{', '.join(['x'] * k)}]\nb: [{', '.join(['*a'] * m)}]\nc: [{', '.join(['x'] * p)}]\n"


def test_alias_expansion_at_the_limit_is_read_and_one_more_value_is_refused() -> None:
    parse_text(alias_document(MAX_NODES), "f.yaml")
    message = refusal(alias_document(MAX_NODES + 1))
    assert f"expands to more than {MAX_NODES:,} values" in message


def test_an_alias_bomb_is_refused_before_its_duplicate_key_is_worded() -> None:
    text = (ROOT / "tests/cases/broken/hostile-alias-bomb-duplicate-key.yaml").read_text()
    message = refusal(text)
    assert "expands to more than" in message and len(message) < 500
