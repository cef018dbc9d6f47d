"""Fuzzing the loader: whatever a fleet file holds, the answer is a plan or findings, never another
exception. Two mutators with a fixed budget (derandomized, so every run tries the same inputs):
one bends the text of the committed fleets with YAML's own syntax, one puts values of every kind
and shape where the model expects others."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshfleet.core.plan import Plan
from meshfleet.errors import FleetError
from meshfleet.fleet.document import parse_bytes
from meshfleet.fleet.generate import FleetShape, generate
from meshfleet.fleet.load import plan_document

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [p.read_bytes() for p in sorted((ROOT / "fleet").glob("*.yaml"))] + [
    p.read_bytes() for p in sorted((ROOT / "tests/cases/diff").glob("*.yaml"))
]
EXAMPLES = 400

TOKENS = [
    "[",
    "]",
    "{",
    "}",
    ",",
    ": ",
    "- ",
    "? ",
    "&a ",
    "*a",
    "<<: *a\n",
    "<<: [*a, *b]\n",
    "&b {x: 1}",
    "!!int ",
    "!!bool ",
    "!!float ",
    "!!str ",
    "!!null ",
    "!!map ",
    "!!seq ",
    "!!binary ",
    "!custom ",
    "%YAML 1.1\n---\n",
    "---\n",
    "...\n",
    '"\\e]0;x\\a"',
    '"\\0"',
    '"\\u202e"',
    '"\\u2028"',
    "'",
    '"',
    "#",
    "|\n",
    "|-\n",
    ">\n",
    "\t",
    "\n",
    "  ",
    "\u202e",
    "\u00a0",
    "0x" + "f" * 30,
    "9" * 40,
    "-0o17",
    "0b2",
    "1e20",
    ".nan",
    "-.inf",
    "true",
    "null",
    "~",
    "yes",
    "",
    "::ffff:127.0.0.1",
    "::1",
    "224.0.0.1",
    "//",
    "/../",
    "%2F",
    "%zz",
    "{{cluster}}",
    "{port}",
    "(?=x)",
    "(",
    "\\1",
    "[[:a:]]",
    "a{5000}",
    "*",
    "all",
    "c" * 70,
    "Cluster_1",
    "../x",
    "a/b/c",
    "x\\ny",
    "2147483648",
    "-1",
    "0",
    "65536",
    "2001-12-14",
    "=",
    "<<",
    "@",
    "`",
    "%",
    "\r",
    "\ufeff",
]


def mutate(text: str, draws: list[tuple[int, int, int]]) -> str:
    lines = text.splitlines(keepends=True) or ["\n"]
    for kind, a, b in draws:
        i = a % len(lines)
        if kind == 0:  # insert a token inside a line
            line = lines[i]
            at = b % (len(line) + 1)
            lines[i] = line[:at] + TOKENS[b % len(TOKENS)] + line[at:]
        elif kind == 1:  # delete a line or part of one
            line = lines[i]
            cut = b % (len(line) + 1)
            lines[i] = line[:cut] if b % 2 else ""
        elif kind == 2:  # duplicate a line (duplicate keys, repeated items)
            lines.insert(i, lines[i])
        elif kind == 3:  # re-indent a line
            lines[i] = " " * (b % 9) + lines[i].lstrip(" ")
        elif kind == 4:  # swap two lines
            j = b % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        else:  # replace what follows a key's colon
            line = lines[i]
            head = line.split(": ", 1)[0]
            lines[i] = f"{head}: {TOKENS[b % len(TOKENS)]}\n" if ": " in line else line
    return "".join(lines)


def check(raw: bytes) -> None:
    """The loader's contract: a Plan, or a FleetError whose every problem names a line of the file."""
    try:
        result = plan_document(parse_bytes(raw, "fuzz.yaml"))
    except FleetError as e:
        assert e.problems
        last = raw.count(b"\n") + 2
        for p in e.problems:
            assert p.position is not None, p.render()
            assert p.position.file == "fuzz.yaml" and 1 <= p.position.line <= last, p.render()
        text = e.render()
        assert all(ch.isprintable() for line in text.splitlines() for ch in line), text
        return
    assert isinstance(result, Plan)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    draws=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1, max_size=5),
)
def test_bent_text_plans_or_is_refused(seed: int, draws: list[tuple[int, int, int]]) -> None:
    check(mutate(SEEDS[seed].decode(), draws).encode("utf-8", "surrogatepass"))


WEIRD = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.sampled_from(TOKENS)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            found += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += paths(v, (*prefix, i))
    return found


@settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(seed=st.integers(0, 50), data=st.data())
def test_values_of_any_kind_anywhere_plan_or_are_refused(seed: int, data: st.DataObject) -> None:
    doc = copy.deepcopy(generate(FleetShape(clusters=4, services=3, mesh_share=0.3, access_share=1.0), seed))
    spots = paths(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(spots[1:]))
        node: Any = doc
        for part in where[:-1]:
            node = (
                node[part]
                if (isinstance(node, dict) and part in node)
                or (isinstance(node, list) and isinstance(part, int) and part < len(node))
                else None
            )
            if node is None:
                break
        if (isinstance(node, dict) and where[-1] in node) or (
            isinstance(node, list) and isinstance(where[-1], int) and where[-1] < len(node)
        ):
            node[where[-1]] = data.draw(WEIRD)
    check(yaml.safe_dump(doc, allow_unicode=True).encode())
